"""The load generator against a system whose customers Redis stops in the middle of the run: the
POSTs refused meanwhile are sent again with their Idempotency-Key, none fails, none is stored twice."""

from collections.abc import Iterator

import pytest

from common.waiting import wait_until
from ops.load import LoadConfig, LoadRunner
from ops.local import LocalSystem
from tests.integration.conftest import Gateway, system_of_its_own

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    # Persistent Redis: the customers written before the stop are there after the start.
    with system_of_its_own(
        tmp_path_factory, "load-retries", persistent_redis=True, with_frontend=False, rate_limit=False
    ) as started:
        yield started


def stored_customers(gateway: Gateway) -> list[str]:
    ids: list[str] = []
    path: str | None = "/api/customers/?limit=100"
    while path:
        page = gateway.get(path).json()
        ids += [customer["id"] for customer in page["results"]]
        path = f"/api/customers/?limit=100&cursor={page['next_cursor']}" if page["next_cursor"] else None
    return ids


def test_posts_refused_while_redis_is_away_are_sent_again_and_stored_once(system: LocalSystem) -> None:
    gateway = Gateway(system)
    redis_customers = system.child("redis-customers")
    config = LoadConfig(
        base_url=system.gateway_url,
        duration=300,
        rate=10,
        threads=4,
        mix={"customers.create": 1},
        timeout=15,
        printer=None,
        api_token=system.credentials.api_token,
    )
    runner = LoadRunner(config).start()
    try:
        logged = len(gateway.access_log())
        redis_customers.stop()
        wait_until(
            "a customer POST answered 503 while the customers Redis is stopped",
            lambda: any(line["method"] == "POST" and line["status"] == 503 for line in gateway.access_log()[logged:]),
            timeout=60,
        )
        redis_customers.start()
        redis_customers.wait_ready(timeout=60)
        created_then = len(runner.report.created)
        wait_until(
            "more customers created after the restart",
            lambda: len(runner.report.created) > created_then + 5,
            timeout=60,
        )
    finally:
        report = runner.stop()

    print(report.summary())
    assert report.errors == 0, report.error_samples
    assert report.retried_posts > 0
    assert set(report.retried_after) == {"customers.create 503"}
    assert f"POSTs sent again with their Idempotency-Key: {report.retried_posts} after" in report.summary()
    acknowledged = sorted(id_ for kind, id_ in report.created if kind == "customer")
    assert sorted(stored_customers(gateway)) == acknowledged, "every acknowledged customer stored once, no other"
