"""One deployable as it really runs: gunicorn from config/gunicorn.conf.py with its own Redis."""

import re
import signal
import threading
import time

import pytest
import requests

from common.waiting import wait_until
from tests.processes import WRITE, Gunicorn, service_with_own_redis


@pytest.fixture(scope="module")
def customers_with_own_redis():
    with service_with_own_redis("customers", {"SERVICE_VERSION": "9.9.9-test"}) as service_and_store:
        yield service_and_store


def test_health_ready_and_metrics(customers_with_own_redis):
    service, _ = customers_with_own_redis
    requests.get(f"{service.url}/api/customers/", timeout=5)

    health = requests.get(f"{service.url}/healthz", timeout=5)
    ready = requests.get(f"{service.url}/readyz", timeout=5)
    metrics = requests.get(f"{service.url}/metrics", timeout=5)

    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert metrics.headers["Content-Type"].startswith("text/plain")
    assert re.search(r'http_requests_total\{method="GET",route="customer-list",status="200"\} [1-9]', metrics.text)
    assert "redis_command_duration_seconds_bucket" in metrics.text


def test_version_and_host_headers(customers_with_own_redis):
    service, _ = customers_with_own_redis

    response = requests.get(f"{service.url}/api/customers/", timeout=5)

    assert response.headers["X-Service-Version"] == "9.9.9-test"
    assert response.headers["X-Served-By"]
    assert len(response.headers["X-Request-ID"]) == 32


def test_schema_and_offline_swagger_ui(customers_with_own_redis):
    service, _ = customers_with_own_redis

    schema = requests.get(f"{service.url}/api/customers/schema/?format=json", timeout=5)
    docs = requests.get(f"{service.url}/api/customers/docs/", timeout=5)

    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    assert "/api/customers/{id}/" in schema.json()["paths"]
    assert docs.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets, "the Swagger UI page links its assets"
    assert all(asset.startswith("/api/customers/static/") for asset in assets if asset.endswith((".js", ".css")))
    for asset in assets:
        if asset.endswith(".js"):
            assert requests.get(f"{service.url}{asset}", timeout=5).status_code == 200


def test_redis_down_gives_503_then_recovers_by_itself(customers_with_own_redis):
    service, store = customers_with_own_redis
    created = requests.post(
        f"{service.url}/api/customers/", json={"name": "Kept", "address": "x"}, headers=WRITE, timeout=5
    ).json()
    store.stop()
    try:
        listing = requests.get(f"{service.url}/api/customers/", timeout=10)
        write = requests.post(
            f"{service.url}/api/customers/", json={"name": "Lost?", "address": "x"}, headers=WRITE, timeout=10
        )
        ready = requests.get(f"{service.url}/readyz", timeout=10)
        alive = requests.get(f"{service.url}/healthz", timeout=10)
    finally:
        store.start()

    assert listing.status_code == write.status_code == 503
    assert listing.json()["error"]["code"] == "service_unavailable"
    assert "Redis" in listing.json()["error"]["message"]
    assert "Traceback" not in listing.text
    assert ready.status_code == 503
    assert alive.status_code == 200
    wait_until(
        "/readyz back to 200 after Redis restarted",
        lambda: requests.get(f"{service.url}/readyz", timeout=5).status_code == 200,
        timeout=10,
        interval=0.2,
    )
    names = [row["name"] for row in requests.get(f"{service.url}/api/customers/", timeout=5).json()["results"]]
    assert names == ["Kept"], "the 503 write must not have been stored, the earlier one must survive"
    assert requests.get(f"{service.url}/api/customers/{created['id']}/", timeout=5).status_code == 200


def test_sigterm_finishes_in_flight_requests_then_exits_cleanly():
    with service_with_own_redis("customers") as (service, _):
        results, exit_code = _load_while_sigterm(service)

    assert exit_code == 0
    assert 200 in results
    assert set(results) <= {200, "refused"}, "requests either completed or were refused, never cut mid-way"


def _load_while_sigterm(service: Gunicorn) -> tuple[list[int | str], int]:
    """GETs from a thread while the service gets SIGTERM; what each got, and gunicorn's exit code."""
    results: list[int | str] = []

    def load():
        for _ in range(200):
            try:
                results.append(requests.get(f"{service.url}/api/customers/", timeout=5).status_code)
            except requests.ConnectionError:
                results.append("refused")

    client = threading.Thread(target=load)
    client.start()
    time.sleep(0.3)
    service.process.send_signal(signal.SIGTERM)
    exit_code = service.process.wait(timeout=30)
    client.join(30)
    return results, exit_code


def test_missing_secret_key_stops_startup():
    service = Gunicorn("customers", {"SECRET_KEY": "", "REDIS_URL": "redis://127.0.0.1:9/0"})
    service.env.pop("SECRET_KEY")

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        service.start()
