"""The customers Redis killed (SIGKILL) in the middle of a write load through the deployed stack's
gateway: swarm starts a new Redis task on the same volume, and afterwards every write the API
acknowledged is there with all its fields, no entity is half-written, and every refused write got
a clear JSON error (503 while customers' Redis was away), never a 500.

The same checks as tests/common/test_data_safety.py (local redis-server), on the real stack.
"""

from __future__ import annotations

import dataclasses

import pytest
import requests

from common.waiting import wait_until
from customers.domain import Customer
from invoices.domain import Invoice
from ops import credentials, engine, stack
from ops.engine import SERVICE_NAME_LABEL
from tests.data_safety import SNAPSHOT_LUA, Snapshot, WriteLoad, half_written, lost_or_altered, unclear_refusals
from tests.processes import redis_cli

pytestmark = [pytest.mark.swarm, pytest.mark.timeout(900)]

# Below the gateway's per-client write limit (10/s, burst 20), so 429s stay the exception.
WRITE_RATE = 8.0
# Acknowledged writes before the kill, and after the recovery, before the load stops.
BEFORE_KILL = 24
AFTER_RECOVERY = 24
RECOVERY_TIMEOUT = 180.0
# The gateway's answer to a client over its rate limit: clear, and not a data-safety failure.
RATE_LIMITED = 429


def redis_container(service: str) -> str | None:
    found = engine.local().containers({SERVICE_NAME_LABEL: f"{stack.STACK}_{service}"}, status="running")
    return found[0].id if found else None


def swarm_redis_snapshot(service: str, kind: str) -> Snapshot:
    """What the service's Redis holds, read inside its container (its port is not published)."""
    container = redis_container(service)
    assert container, f"no running {service} container"
    result = engine.local().exec(container, redis_cli("--raw", "EVAL", SNAPSHOT_LUA, "1", f"{kind}:index", f"{kind}:"))
    assert result.returncode == 0, result.stderr
    return Snapshot.from_json(result.stdout)


def test_killing_the_customers_redis_mid_load_loses_no_acknowledged_write(deployed: str) -> None:
    session = requests.Session()
    session.headers.update(credentials.load().api_headers())
    product = session.post(f"{deployed}/api/products/", json={"name": "Safe box", "unit_price": "12.00"}, timeout=20)
    buyer = session.post(f"{deployed}/api/customers/", json={"name": "Safe buyer", "address": "1 Vault"}, timeout=20)
    assert product.status_code == buyer.status_code == 201, (product.text, buyer.text)

    def body(kind: str, n: int) -> dict[str, object]:
        if kind == "invoice":
            return {"customer_id": buyer.json()["id"], "product_id": product.json()["id"], "quantity": n % 9 + 1}
        return {"name": f"Durable {n}", "address": f"{n} Append Only Road"}

    old_redis = redis_container("customers-redis")
    assert old_redis, "customers-redis runs"
    # Three customers, then an invoice: invoices checks the customer through the gateway, so it
    # also answers 503 while customers' Redis is away.
    kinds = ("customer", "customer", "customer", "invoice")
    load = WriteLoad(deployed, body, auth=credentials.load().api_headers(), kinds=kinds, rate=WRITE_RATE)
    load.start()
    try:
        wait_until(
            f"{BEFORE_KILL} acknowledged writes before the kill",
            lambda: sum(w.status == 201 for w in load.answers()) >= BEFORE_KILL,
            timeout=60,
            interval=0.5,
        )
        engine.local().kill(old_redis)
        killed_at = load.now()
        print(f"\ndocker kill {old_redis[:12]} (customers-redis) at {killed_at:.1f}s of the load")

        def recovered() -> bool:
            answers = [w for w in load.answers() if w.kind == "customer" and w.at > killed_at]
            refused = [i for i, w in enumerate(answers) if w.status not in (201, RATE_LIMITED)]
            return bool(refused) and sum(w.status == 201 for w in answers[refused[-1] :]) >= AFTER_RECOVERY

        wait_until(
            "customer writes refused, then acknowledged again", recovered, timeout=RECOVERY_TIMEOUT, interval=0.5
        )
    finally:
        writes = load.stop()
    # Healthy again before the checks, and for the tests that come after this one.
    stack.wait_converged(services=["customers-redis", "customers", "invoices"], timeout=RECOVERY_TIMEOUT, quiet=True)
    new_redis = redis_container("customers-redis")

    after_kill = [w for w in writes if w.at > killed_at]
    refused = [w for w in after_kill if w.status not in (201, RATE_LIMITED)]
    back = next(w for w in after_kill if w.kind == "customer" and w.status == 201 and w.at > refused[-1].at)
    acknowledged = {kind: [w for w in writes if w.kind == kind and w.status == 201] for kind in ("customer", "invoice")}
    customers = swarm_redis_snapshot("customers-redis", "customer")
    invoices = swarm_redis_snapshot("invoices-redis", "invoice")
    found = {
        "customer": sum(w.entity_id in customers.hashes for w in acknowledged["customer"]),
        "invoice": sum(w.entity_id in invoices.hashes for w in acknowledged["invoice"]),
    }
    kinds_refused = ", ".join(
        f"{status} x{sum(w.status == status for w in refused)}" for status in {w.status for w in refused}
    )
    first, last, again = (w.at - killed_at for w in (refused[0], refused[-1], back))
    print(
        f"writes: {len(writes)} in {writes[-1].at:.1f}s, rate-limited {sum(w.status == RATE_LIMITED for w in writes)}"
    )
    for kind, done in acknowledged.items():
        print(f"{kind}s acknowledged {len(done)}, found in Redis {found[kind]}")
    print(f"refused after the kill: {len(refused)} ({kinds_refused}), from +{first:.1f}s to +{last:.1f}s")
    print(f"customers acknowledged again +{again:.1f}s after the kill (new Redis container {new_redis[:12]})")

    assert new_redis != old_redis, "swarm replaced the killed Redis task"
    assert not unclear_refusals(writes, allowed={503, RATE_LIMITED}), "every refusal is a clear JSON error"
    assert all(w.status == 503 for w in refused), "refused while Redis was away: 503"
    assert not lost_or_altered(writes, customers, "customer"), "every acknowledged customer is stored as sent"
    assert not lost_or_altered(writes, invoices, "invoice"), "every acknowledged invoice is stored as sent"
    assert not half_written(customers, [f.name for f in dataclasses.fields(Customer)])
    assert not half_written(invoices, [f.name for f in dataclasses.fields(Invoice)], per_customer_index=True)
