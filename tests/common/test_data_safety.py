"""Redis killed in the middle of a write load and started again: every write the API acknowledged
is there afterwards, and no entity is half-written (a hash without its index entry or the reverse)."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from tests.processes import service_with_own_redis

WRITERS = 4
LOAD_SECONDS = 6.0


@pytest.fixture
def customers_on_a_redis_we_kill():
    # appendfsync everysec, as the images run it.
    with service_with_own_redis("customers", {"REDIS_TIMEOUT": "1"}, appendfsync="everysec") as service_and_store:
        yield service_and_store


def test_acknowledged_writes_survive_a_redis_crash_and_nothing_is_half_written(customers_on_a_redis_we_kill):
    service, store = customers_on_a_redis_we_kill
    acknowledged: list[str] = []
    statuses: list[int | str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + LOAD_SECONDS

    def write(writer: int) -> None:
        session = requests.Session()
        n = 0
        while time.monotonic() < deadline:
            n += 1
            try:
                response = session.post(
                    f"{service.url}/api/customers/", json={"name": f"w{writer}-{n}", "address": "x"}, timeout=10
                )
                status: int | str = response.status_code
            except requests.ConnectionError:
                status = "connection error"
            with lock:
                statuses.append(status)
                if status == 201:
                    acknowledged.append(response.json()["id"])

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        futures = [pool.submit(write, n) for n in range(WRITERS)]
        time.sleep(LOAD_SECONDS / 3)
        store.kill()
        time.sleep(1)
        store.start()
        for future in futures:
            future.result()

    assert set(statuses) <= {201, 503}, f"only acknowledged writes and clear 503s: {set(statuses)}"
    assert statuses.count(503) > 0, "the crash happened during the load"
    assert statuses[-1] == 201, "the service recovered by itself"
    raw = redis.Redis.from_url(store.url(), decode_responses=True)
    indexed = set(raw.zrange("customer:index", 0, -1))
    hashes = {key.split(":", 1)[1] for key in raw.scan_iter("customer:*") if key != "customer:index"}
    assert set(acknowledged) <= indexed
    assert indexed == hashes, "every index entry has its hash and every hash is indexed"
    found = len(set(acknowledged) & indexed)
    print(f"writes acknowledged {len(acknowledged)}, found {found}, answered 503 {statuses.count(503)}")
