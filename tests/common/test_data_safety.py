"""Redis killed in the middle of a write load and started again: every write the API acknowledged
is there afterwards, and no entity is half-written (a hash without its index entry or the reverse).
The same checks run on the swarm stack in tests/swarm/test_data_safety_swarm.py."""

import dataclasses
import time

import pytest
import redis

from customers.domain import Customer
from tests.data_safety import WriteLoad, half_written, lost_or_altered, redis_snapshot, unclear_refusals
from tests.processes import WRITE, service_with_own_redis

WRITERS = 4
LOAD_SECONDS = 6.0


@pytest.fixture
def customers_on_a_redis_we_kill():
    # appendfsync everysec, as the images run it.
    with service_with_own_redis("customers", {"REDIS_TIMEOUT": "1"}, appendfsync="everysec") as service_and_store:
        yield service_and_store


def test_acknowledged_writes_survive_a_redis_crash_and_nothing_is_half_written(customers_on_a_redis_we_kill):
    service, store = customers_on_a_redis_we_kill
    load = WriteLoad(
        service.url, lambda kind, n: {"name": f"w-{n}", "address": "x"}, auth=WRITE, writers=WRITERS
    ).start()
    time.sleep(LOAD_SECONDS / 3)
    store.kill()
    killed_at = load.now()
    time.sleep(1)
    store.start()
    time.sleep(LOAD_SECONDS * 2 / 3 - 1)
    writes = load.stop()

    refused = [w for w in writes if w.status != 201]
    assert not unclear_refusals(writes, allowed={503}), "only acknowledged writes and clear 503s"
    assert refused, "the crash happened during the load"
    assert writes[-1].status == 201, "the service recovered by itself"
    snapshot = redis_snapshot(redis.Redis.from_url(store.url(), decode_responses=True), "customer")
    assert not lost_or_altered(writes, snapshot, "customer")
    assert not half_written(snapshot, [field.name for field in dataclasses.fields(Customer)])
    acknowledged = [w for w in writes if w.status == 201]
    print(
        f"writes acknowledged {len(acknowledged)}, all found; answered 503 {len(refused)}"
        f" (Redis killed at {killed_at:.1f}s, restarted 1s later)"
    )
