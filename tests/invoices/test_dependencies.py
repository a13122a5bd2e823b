"""Invoices when customers or products cannot answer: a clear 503, and nothing written."""

import socket
import threading
import time
from types import SimpleNamespace

import pytest
import requests

from tests.conftest import post_json
from tests.processes import WRITE, Gunicorn, service_with_own_redis

URL = "/api/invoices/"
MISSING_PRODUCT = "22222222-2222-2222-2222-222222222222"
# A database of the suite's redis-server no other fixture uses.
PRODUCTS_OWN_DB = 7


@pytest.fixture
def products_service():
    """A products service of its own, with its own Redis, that a test may stop."""
    with service_with_own_redis("products") as service_and_store:
        yield service_and_store


@pytest.fixture
def silent_server():
    """Accepts connections and never answers: a hung dependency."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{listener.getsockname()[1]}", accepted=accepted)
    stop.set()
    thread.join(2)
    for connection in accepted:
        connection.close()
    listener.close()


def create_product(service):
    response = requests.post(
        f"{service.url}/api/products/", json={"name": "Kettle", "unit_price": "42.00"}, headers=WRITE, timeout=5
    )
    assert response.status_code == 201
    return response.json()


def issue(api, customer_id, product_id):
    return post_json(api, URL, {"customer_id": customer_id, "product_id": product_id, "quantity": 1})


def assert_unavailable(response, service_name):
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert service_name in error["message"]
    assert "nothing was saved" in error["message"]


def test_products_stopped_gives_503_and_writes_nothing(api, customer, products_service, settings, raw_redis):
    service, _ = products_service
    product = create_product(service)
    settings.PRODUCTS_URL = service.url
    service.stop()

    response = issue(api, customer["id"], product["id"])

    assert_unavailable(response, "products")
    assert raw_redis.dbsize() == 0


def test_products_answering_5xx_gives_503_and_recovers(api, customer, products_service, settings, raw_redis):
    service, store = products_service
    product = create_product(service)
    settings.PRODUCTS_URL = service.url
    store.stop()

    during = issue(api, customer["id"], product["id"])
    store.start()
    after = issue(api, customer["id"], product["id"])

    assert_unavailable(during, "products")
    assert after.status_code == 201
    assert raw_redis.zcard("invoice:index") == 1


def test_a_hung_customers_service_times_out_into_503(api, silent_server, settings, raw_redis, use_live_services):
    settings.CUSTOMERS_URL = silent_server.url
    started = time.monotonic()

    response = issue(api, "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222")

    assert_unavailable(response, "customers")
    assert "did not answer" in response.json()["error"]["message"]
    assert time.monotonic() - started < 30, "the read timeout must bound the wait"
    assert raw_redis.dbsize() == 0


def test_customers_unreachable_gives_503(api, settings, raw_redis):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings.CUSTOMERS_URL = f"http://127.0.0.1:{closed_port}"

    response = issue(api, "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222")

    assert_unavailable(response, "customers")
    assert raw_redis.dbsize() == 0


def test_a_dead_dependency_trips_the_circuit_so_calls_fail_fast(api, silent_server, settings, raw_redis):
    settings.CUSTOMERS_URL = silent_server.url
    settings.CIRCUIT_FAILURE_THRESHOLD = 3
    settings.HTTP_READ_TIMEOUT = 0.3
    body = {"customer_id": "11111111-1111-1111-1111-111111111111", "product_id": MISSING_PRODUCT, "quantity": 1}

    slow = [post_json(api, URL, body) for _ in range(3)]
    fast = [post_json(api, URL, body) for _ in range(5)]

    assert all("did not answer" in r.json()["error"]["message"] for r in slow)
    assert {r.status_code for r in fast} == {503}
    assert all("paused" in r.json()["error"]["message"] for r in fast), "an open circuit does not call out"
    assert raw_redis.dbsize() == 0


def test_the_circuit_closes_again_once_the_dependency_is_back(api, customer, settings, raw_redis, redis_server):
    settings.CIRCUIT_FAILURE_THRESHOLD = 2
    settings.CIRCUIT_RESET_SECONDS = 0.5
    products = Gunicorn("products", {"REDIS_URL": redis_server.url(PRODUCTS_OWN_DB)})
    products.start()
    product = create_product(products)
    settings.PRODUCTS_URL = products.url
    products.stop()
    failures = [issue(api, customer["id"], product["id"]) for _ in range(3)]
    assert "paused" in failures[-1].json()["error"]["message"]

    restarted = Gunicorn("products", {"REDIS_URL": redis_server.url(PRODUCTS_OWN_DB)}, port=products.port)
    restarted.start()
    try:
        time.sleep(settings.CIRCUIT_RESET_SECONDS)
        response = issue(api, customer["id"], product["id"])
    finally:
        restarted.stop()

    assert response.status_code == 201, response.content
    assert raw_redis.zcard("invoice:index") == 1


def test_a_read_timeout_is_not_retried(api, silent_server, settings, raw_redis):
    """Connection failures and 502/503/504 are retried; a hung service is asked once, not three times."""
    settings.CUSTOMERS_URL = silent_server.url
    settings.HTTP_GET_RETRIES = 2
    settings.HTTP_READ_TIMEOUT = 0.3

    response = issue(api, "11111111-1111-1111-1111-111111111111", MISSING_PRODUCT)

    assert_unavailable(response, "customers")
    assert len(silent_server.accepted) == 1
    assert raw_redis.dbsize() == 0
