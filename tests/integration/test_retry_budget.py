"""One retry layer per hop: a lookup that fails upstream costs at most three upstream attempts.

The invoices service looks customers and products up through the gateway, which already moves
on to the next task on an error or a 502/503 (proxy_next_upstream, 3 tries at most). The
client in invoices retries only when it cannot reach the gateway at all. A system of its own:
the test stops the customers Redis, so every customers process answers 503.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from common.waiting import wait_until
from ops.local import LocalSystem
from tests.integration.conftest import Gateway, system_of_its_own

pytestmark = pytest.mark.integration

MAX_UPSTREAM_ATTEMPTS = 3


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    with system_of_its_own(tmp_path_factory, "retry-budget", with_frontend=False, rate_limit=False) as started:
        yield started


def upstream_attempts(lines: list[dict], path_prefix: str) -> int:
    return sum(len(line["upstream_addr"].split(", ")) for line in lines if line["uri"].startswith(path_prefix))


def test_an_invoice_whose_customer_lookup_gets_503_costs_at_most_three_upstream_attempts(system):
    gateway = Gateway(system)
    customer = gateway.post("/api/customers/", json={"name": "Budget Ltd", "address": "3 Retry Row"}).json()
    product = gateway.post("/api/products/", json={"name": "Try", "unit_price": "1.00"}).json()
    system.child("redis-customers").stop()
    request_id = f"budget-{uuid.uuid4().hex}"

    response = requests.post(
        f"{system.internal_url}/api/invoices/",
        json={"customer_id": customer["id"], "product_id": product["id"], "quantity": 1},
        headers={**system.credentials.api_headers(), "X-Request-ID": request_id},
        timeout=30,
    )

    assert response.status_code == 503
    assert "customers" in response.json()["error"]["message"]
    # nginx writes the POST's own line just after its response, the lookups' lines before it.
    lines = wait_until(
        "the gateway's log line of the invoice POST",
        lambda: (
            (mine := [line for line in gateway.access_log() if line["request_id"] == request_id])
            and any(line["uri"].startswith("/api/invoices/") for line in mine)
            and mine
        ),
        timeout=5,
    )
    attempts = upstream_attempts(lines, "/api/customers/")
    assert 1 <= attempts <= MAX_UPSTREAM_ATTEMPTS, lines
    assert [line["status"] for line in lines if line["uri"].startswith("/api/invoices/")] == [503]
