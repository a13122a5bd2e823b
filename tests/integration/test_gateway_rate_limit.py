"""The gateway's per-client rate limit, on the whole system in local mode (production limits).

A system of their own, started with the limit on whatever the shared one uses: the suites on
the shared system send faster than any one client may.

The public listener answers a burst above the limit with 429 (JSON body, Retry-After) and
forwards nothing of what it rejects; the internal listener (the services and the frontend call
the APIs there) has the same routes and no limit. All requests come from 127.0.0.1, like the
services' own calls in local mode, so a limit on the internal side would show here.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from common.waiting import wait_until
from ops.local import LocalSystem
from tests.gateway_bursts import burst, wait_until_served
from tests.integration.conftest import system_of_its_own

pytestmark = pytest.mark.integration


def statuses(responses: list[requests.Response]) -> set[int]:
    return {response.status_code for response in responses}


@pytest.fixture(scope="module")
def local_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    """The whole system with the production rate limit on the public listener."""
    with system_of_its_own(tmp_path_factory, "rate-limited", with_frontend=True, rate_limit=True) as system:
        yield system


@pytest.fixture
def customer_and_product(local_system: LocalSystem) -> tuple[str, str]:
    """Made on the internal listener, so setting up costs the public limit nothing."""
    url = local_system.internal_url
    write = local_system.credentials.api_headers()
    customer = requests.post(
        f"{url}/api/customers/", json={"name": "Burst Ltd", "address": "1 Limit Way"}, headers=write, timeout=10
    )
    product = requests.post(
        f"{url}/api/products/", json={"name": "Token", "unit_price": "2.50"}, headers=write, timeout=10
    )
    assert customer.status_code == 201, customer.text
    assert product.status_code == 201, product.text
    return customer.json()["id"], product.json()["id"]


def invoices_of(local_system: LocalSystem, customer_id: str) -> set[str]:
    ids: set[str] = set()
    url: str | None = f"{local_system.internal_url}/api/invoices/?customer={customer_id}&limit=100"
    for _ in range(50):
        if url is None:
            break
        page = requests.get(url, timeout=10).json()
        ids.update(invoice["id"] for invoice in page["results"])
        url = page["next"] and f"{local_system.internal_url}{page['next']}"
    return ids


def access_log_lines(system: LocalSystem, request_id: str, *, at_least: int) -> list[dict]:
    """nginx writes a line just after its response: wait (bounded) for the expected number."""

    def lines() -> list[dict] | None:
        text = system.gateway_access_log.read_text()
        mine = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        mine = [line for line in mine if line["request_id"] == request_id]
        return mine if len(mine) >= at_least else None

    return wait_until(f"{at_least} access-log line(s) of request {request_id}", lines, timeout=5, interval=0.05)


def drain_public_bucket() -> None:
    """Earlier tests may have used part of the burst: 60 requests at 30/s (20 writes at 10/s) are
    given back within 2 seconds."""
    time.sleep(2.5)


def test_a_burst_of_reads_gets_429_in_json_with_retry_after(local_system):
    url = f"{local_system.gateway_url}/api/customers/?limit=1"
    drain_public_bucket()

    responses = burst(lambda session: session.get(url, timeout=15))

    assert statuses(responses) <= {200, 429}
    rejected = next(response for response in responses if response.status_code == 429)
    assert rejected.headers["Content-Type"].startswith("application/json")
    assert rejected.json()["error"]["code"] == "rate_limited"
    assert rejected.json()["error"]["message"]
    assert int(rejected.headers["Retry-After"]) >= 1
    assert rejected.headers["X-Request-ID"]
    assert rejected.headers["X-Content-Type-Options"] == "nosniff"
    served = [response for response in responses if response.status_code == 200]
    assert len(served) > 60, "the first burst of 60 is served"
    assert "Retry-After" not in served[0].headers


def test_after_a_burst_the_system_serves_again(local_system):
    url = f"{local_system.gateway_url}/api/products/?limit=1"
    assert 429 in statuses(burst(lambda session: session.get(url, timeout=15)))

    assert wait_until_served(url).status_code == 200
    # Once the window has passed the client has its whole burst back; paced like a person, every
    # request is served.
    drain_public_bucket()
    later = []
    for _ in range(10):
        later.append(requests.get(url, timeout=10).status_code)
        time.sleep(0.1)
    assert later == [200] * 10
    assert requests.get(f"{local_system.gateway_url}/", timeout=10).status_code == 200


def test_rejected_invoice_posts_write_nothing_and_internal_calls_are_never_limited(local_system, customer_and_product):
    customer_id, product_id = customer_and_product
    url = f"{local_system.gateway_url}/api/invoices/"
    body = {"customer_id": customer_id, "product_id": product_id, "quantity": 1}
    drain_public_bucket()

    write = local_system.credentials.api_headers()
    responses = burst(lambda session: session.post(url, json=body, headers=write, timeout=15))

    # Each accepted invoice called customers and products through the gateway's internal
    # listener from 127.0.0.1 as well: a limit there would have turned some into 503s.
    assert statuses(responses) == {201, 429}
    created = {response.json()["id"] for response in responses if response.status_code == 201}
    assert len(created) == sum(response.status_code == 201 for response in responses)
    assert len(created) > 20, "the first burst of 20 writes is served"
    assert invoices_of(local_system, customer_id) == created


def test_internal_listener_takes_a_burst_of_invoices_without_a_single_429(local_system, customer_and_product):
    customer_id, product_id = customer_and_product
    url = f"{local_system.internal_url}/api/invoices/"
    body = {"customer_id": customer_id, "product_id": product_id, "quantity": 2}

    # Three times the public write burst, as fast as 12 clients can send.
    write = local_system.credentials.api_headers()
    responses = burst(
        lambda session: session.post(url, json=body, headers=write, timeout=30), stop_at_429=False, total=60
    )

    assert [response.status_code for response in responses] == [201] * 60
    assert len(invoices_of(local_system, customer_id)) == 60


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/customers/", 200),
        ("/api/products/", 200),
        ("/api/invoices/", 200),
        ("/api/customers/schema/?format=json", 200),
        ("/api/invoices/docs/", 200),
        ("/", 200),
        ("/gateway-health", 200),
        ("/api/nowhere/", 404),
        ("/api/customers/healthz", 404),
        ("/metrics", 404),
    ],
)
def test_internal_listener_has_the_same_routes(local_system, path, status):
    internal = requests.get(f"{local_system.internal_url}{path}", timeout=10)

    assert internal.status_code == status
    assert internal.headers["X-Request-ID"]
    if status == 404:
        assert internal.json()["error"]["code"] == "not_found"


def test_services_call_each_other_on_the_internal_listener(local_system, customer_and_product):
    customer_id, product_id = customer_and_product
    request_id = f"internal-{uuid.uuid4().hex}"
    drain_public_bucket()
    body = {"customer_id": customer_id, "product_id": product_id, "quantity": 1}
    created = requests.post(
        f"{local_system.gateway_url}/api/invoices/",
        json=body,
        headers={**local_system.credentials.api_headers(), "X-Request-ID": request_id},
        timeout=15,
    )
    assert created.status_code == 201

    lines = access_log_lines(local_system, request_id, at_least=3)
    listeners = {(line["method"], line["uri"].split("/")[2]): line["listener"] for line in lines}
    assert listeners[("POST", "invoices")] == str(local_system.ports.gateway)
    assert listeners[("GET", "customers")] == str(local_system.ports.gateway_internal)
    assert listeners[("GET", "products")] == str(local_system.ports.gateway_internal)
