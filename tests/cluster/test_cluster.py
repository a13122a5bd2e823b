"""The node-failure exercises on a real three-node swarm (m1 manager, w1 and w2 workers).

In order: the cluster as deployed; w2 killed under load (its tasks move to m1 and w1, the
site keeps answering through their gateways, no entity is lost); w2 started again and the
services rebalanced onto it, without a failed request.
"""

from __future__ import annotations

import re
import time

import pytest
import requests

from common.waiting import wait_until
from ops import cluster, credentials, load, stack
from tests.cluster.conftest import run_cli

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1800)]

KILLED = "w2"
SURVIVORS = ("m1", "w1")
RESCHEDULE_LIMIT = 180.0
# A node that dies takes the requests it was serving with it: nginx cannot tell a dead peer
# from a slow one before proxy_read_timeout, and a POST already sent is never retried.
# Everything after that must be absorbed by the gateways' retries on the surviving tasks.
FAILED_SHARE_LIMIT = 0.02
SILENCE_LIMIT = 10


class Timeline:
    """A LoadRunner printer that keeps how many requests succeeded in each second."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.succeeded: list[int] = []

    def __call__(self, line: str) -> None:
        print(f"load via {self.node} {line}", flush=True)
        if match := re.search(r"req +(\d+) +err +(\d+)", line):
            self.succeeded.append(int(match[1]) - int(match[2]))

    def longest_silence(self) -> int:
        """The most consecutive seconds in which no request succeeded."""
        longest = current = 0
        for count in self.succeeded:
            current = current + 1 if count == 0 else 0
            longest = max(longest, current)
        return longest


def gateway(settings: cluster.ClusterSettings, node: str) -> str:
    return f"http://127.0.0.1:{settings.node_gateway_port(node)}"


def replicated_placement() -> dict[str, set[str]]:
    """'customers.1' -> nodes where a task of that slot is running (global services left out)."""
    placement: dict[str, set[str]] = {}
    for task in cluster.running_tasks():
        if task.slot is not None:
            placement.setdefault(task.name.removeprefix(f"{stack.STACK}_"), set()).add(task.node)
    return placement


@pytest.fixture(scope="module")
def entities(deployed_cluster: cluster.ClusterSettings) -> dict[str, dict]:
    """Customers, products and invoices written through m1's gateway before anything breaks: path -> body."""
    base = gateway(deployed_cluster, "m1")
    session = requests.Session()
    session.headers.update(credentials.load().api_headers())
    written: dict[str, dict] = {}

    def create(kind: str, body: dict) -> dict:
        response = session.post(f"{base}/api/{kind}/", json=body, timeout=30)
        assert response.status_code == 201, response.text
        created = response.json()
        written[f"/api/{kind}/{created['id']}/"] = created
        return created

    products = [create("products", {"name": f"Cluster part {n}", "unit_price": f"{n}.25"}) for n in range(3)]
    for n in range(6):
        customer = create("customers", {"name": f"Cluster customer {n}", "address": f"{n} Node Lane"})
        body = {"customer_id": customer["id"], "product_id": products[n % 3]["id"], "quantity": n + 1}
        create("invoices", body)
    return written


def get_within_rate_limit(session: requests.Session, url: str) -> requests.Response:
    """GET, waiting out the public listener's rate limit (429 with Retry-After) a bounded number of times."""
    for _ in range(20):
        response = session.get(url, timeout=30)
        if response.status_code != 429:
            return response
        time.sleep(float(response.headers.get("Retry-After", "1")))
    return response


def unreadable(base: str, written: dict[str, dict | None]) -> list[str]:
    """Paths that do not read back (with the same body, where one is given)."""
    session = requests.Session()
    problems = []
    for path, body in written.items():
        response = get_within_rate_limit(session, base + path)
        if response.status_code != 200 or (body is not None and response.json() != body):
            problems.append(f"{path}: HTTP {response.status_code}")
    return problems


def test_three_nodes_ready_and_tasks_spread(deployed_cluster: cluster.ClusterSettings) -> None:
    nodes = {node.hostname: node for node in cluster.swarm_nodes()}
    assert set(nodes) == set(cluster.NODES)
    assert all(node.ready for node in nodes.values()), nodes
    assert nodes["m1"].leader

    placement = replicated_placement()
    used = {node for running_on in placement.values() for node in running_on}
    print(f"\nreplicated tasks: {dict(sorted(placement.items()))}")
    assert len(used) >= 2, placement
    for node in cluster.NODES:
        response = requests.get(gateway(deployed_cluster, node) + "/api/customers/", timeout=30)
        assert response.status_code == 200, (node, response.text[:200])


def test_killed_worker_tasks_move_and_nothing_is_lost(
    deployed_cluster: cluster.ClusterSettings, entities: dict[str, dict]
) -> None:
    before = replicated_placement()
    on_killed = sorted(slot for slot, running_on in before.items() if KILLED in running_on)
    print(f"\non {KILLED} before the kill: {on_killed}")
    assert on_killed, f"no replicated task on {KILLED} to reschedule: {before}"

    timelines = [Timeline(node) for node in SURVIVORS]
    runners = [
        load.LoadRunner(
            load.LoadConfig(
                base_url=gateway(deployed_cluster, timeline.node),
                duration=RESCHEDULE_LIMIT + 60,
                rate=8,
                threads=4,
                printer=timeline,
            )
        ).start()
        for timeline in timelines
    ]
    try:
        time.sleep(3)
        run_cli("kill-node", KILLED, timeout=120)
        killed_at = time.monotonic()
        moved_after: dict[str, float] = {}
        placement: dict[str, set[str]] = {}

        def rescheduled() -> bool:
            placement.clear()
            placement.update(replicated_placement())
            for slot in on_killed:
                if slot not in moved_after and placement.get(slot, set()) - {KILLED}:
                    moved_after[slot] = time.monotonic() - killed_at
                    print(f"{slot} running on {sorted(placement[slot])} {moved_after[slot]:.1f}s after the kill")
            return len(moved_after) == len(on_killed) and set(before) <= set(placement)

        wait_until(
            f"{KILLED}'s tasks rescheduled",
            rescheduled,
            timeout=RESCHEDULE_LIMIT,
            interval=1,
            explain=lambda: f"placement {placement}",
        )
        rescheduled_after = max(moved_after.values())
        # A few more seconds of load on the healed cluster.
        time.sleep(5)
    finally:
        reports = [runner.stop() for runner in runners]

    failed = sum(report.errors for report in reports)
    sent = sum(report.requests for report in reports)
    print(f"\n{KILLED}'s tasks {on_killed} running on {'/'.join(SURVIVORS)} {rescheduled_after:.1f}s after the kill")
    for timeline, report in zip(timelines, reports, strict=True):
        print(f"load via {timeline.node}'s gateway: {report.summary()}")
        print(f"  longest stretch without a successful answer: {timeline.longest_silence()}s")
    print(f"failed requests during the node failure: {failed} of {sent}")
    assert sent > 0
    assert all(timeline.longest_silence() < SILENCE_LIMIT for timeline in timelines)
    samples = [sample for report in reports for sample in report.error_samples[:10]]
    assert failed <= FAILED_SHARE_LIMIT * sent, samples

    survivor = gateway(deployed_cluster, "w1")
    assert unreadable(survivor, entities) == []
    acknowledged = {load.VERIFY_PATH[kind].format(id=id_): None for report in reports for kind, id_ in report.created}
    print(f"{len(acknowledged)} entities acknowledged (201) during the load")
    assert unreadable(survivor, acknowledged) == []


def test_restarted_worker_gets_tasks_after_rebalance(
    deployed_cluster: cluster.ClusterSettings, entities: dict[str, dict]
) -> None:
    run_cli("start-node", KILLED, timeout=300)
    assert not any(KILLED in running_on for running_on in replicated_placement().values())

    # Forced updates replace every task, new one first: not one request may fail meanwhile.
    timeline = Timeline("m1")
    config = load.LoadConfig(base_url=gateway(deployed_cluster, "m1"), duration=900, rate=8, printer=timeline)
    runner = load.LoadRunner(config).start()
    try:
        run_cli("rebalance", timeout=900)
    finally:
        report = runner.stop()
    print(f"load via m1's gateway during the rebalance: {report.summary()}")
    assert report.requests > 0
    assert report.errors == 0, report.error_samples[:10]

    placement = replicated_placement()
    print(f"\nafter rebalance: {dict(sorted(placement.items()))}")
    assert any(KILLED in running_on for running_on in placement.values()), placement
    assert unreadable(gateway(deployed_cluster, KILLED), entities) == []
