"""The customer and product lookups of a POST run at the same time; the answer is the one a
caller got when they ran one after the other: the customer's verdict first."""

import json
import socket
import time

import pytest

from tests.conftest import post_json

URL = "/api/invoices/"
MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def closed_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_unknown_customer_wins_over_an_unreachable_products_service(
    api, use_live_services, settings, raw_redis, closed_url
):
    settings.PRODUCTS_URL = closed_url

    response = post_json(api, URL, {"customer_id": MISSING, "product_id": MISSING, "quantity": 1})

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["customer_id"]
    assert raw_redis.dbsize() == 0


def test_unreachable_customers_wins_over_an_unknown_product(api, customer, settings, raw_redis, closed_url):
    settings.CUSTOMERS_URL = closed_url

    response = post_json(api, URL, {"customer_id": customer["id"], "product_id": MISSING, "quantity": 1})

    assert response.status_code == 503
    assert "customers" in response.json()["error"]["message"]
    assert raw_redis.dbsize() == 0


def test_both_lookups_carry_the_request_id(api, customer, product, use_live_services):
    request_id = f"lookups-{time.monotonic_ns()}"

    response = post_json(
        api,
        URL,
        {"customer_id": customer["id"], "product_id": product["id"], "quantity": 2},
        **{"X-Request-ID": request_id},
    )

    assert response.status_code == 201
    for name, prefix in (("customers", "/api/customers/"), ("products", "/api/products/")):
        lines = use_live_services[name].log.read_text().splitlines()
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        assert any(e.get("request_id") == request_id and e.get("path", "").startswith(prefix) for e in entries), name
