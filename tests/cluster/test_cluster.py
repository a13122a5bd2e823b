"""The node-failure exercises on a real three-node swarm (m1 manager, w1 and w2 workers).

In order: the cluster as deployed; w2 killed under load (its tasks move to m1 and w1, the
site keeps answering through their gateways: not one read fails, and every customer and
invoice a client sends again with its Idempotency-Key is stored exactly once, even when the
first attempt was written and only its answer died with w2); w2 started again and the
services rebalanced onto it, without a failed request.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import time

import pytest
import requests

from common.waiting import wait_until
from customers.domain import Customer
from invoices.domain import Invoice
from ops import cluster, credentials, load, stack
from ops.engine import SERVICE_NAME_LABEL
from tests.cluster.conftest import run_cli
from tests.data_safety import SNAPSHOT_LUA, Snapshot, Write, WriteLoad, half_written, lost_or_altered
from tests.processes import redis_cli
from tests.timeout_chain import chain

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1800)]

KILLED = "w2"
SURVIVORS = ("m1", "w1")
RESCHEDULE_LIMIT = 180.0
SILENCE_LIMIT = 10
# Reads: the gateway sends a read that hangs on a dead node's task to a live one (after its
# read timeout), so a client that waits as long as the gateway may take never sees one fail.
READS = {operation: weight for operation, weight in load.DEFAULT_MIX.items() if not operation.endswith(".create")}
# Writes: a POST in flight to a dead task is not sent again by nginx (it may have been
# written); the client sends it again with the same Idempotency-Key, at most this many times.
WRITE_ATTEMPTS = 8
WRITE_RATE = 2.0
# The chain's worst cases plus room for the client's own work on a busy machine.
CLIENT_MARGIN = 10.0


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


def redis_snapshot(service: str, kind: str) -> Snapshot:
    """What a Redis of the stack holds, read inside its container on whichever node runs it."""
    for node in SURVIVORS:
        engine = cluster.node_engine(node)
        found = engine.containers({SERVICE_NAME_LABEL: f"{stack.STACK}_{service}"}, status="running")
        if found:
            result = engine.exec(
                found[0].id, redis_cli("--raw", "EVAL", SNAPSHOT_LUA, "1", f"{kind}:index", f"{kind}:")
            )
            assert result.returncode == 0, result.stderr
            return Snapshot.from_json(result.stdout)
    raise AssertionError(f"no running {service} container on {', '.join(SURVIVORS)}")


@dataclasses.dataclass(frozen=True)
class WriteIntents:
    """One write load through one gateway; each intent is recognisable in Redis: a customer by its
    name, an invoice by its quantity (the load's own buyer has no other invoice)."""

    node: str
    buyer: str
    product: str

    def body(self, kind: str, n: int) -> dict[str, object]:
        if kind == "invoice":
            return {"customer_id": self.buyer, "product_id": self.product, "quantity": n + 1}
        return {"name": f"Node loss {self.node} {n}", "address": f"{n} Failover Street"}

    def stored(self, customers: Snapshot, invoices: Snapshot) -> dict[tuple[str, str], list[str]]:
        """(kind, the intent's mark) -> ids of the entities Redis holds for it."""
        found: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
        for entity, row in customers.hashes.items():
            if row.get("name", "").startswith(f"Node loss {self.node} "):
                found[("customer", row["name"])].append(entity)
        for entity, row in invoices.hashes.items():
            if row.get("customer_id") == self.buyer:
                found[("invoice", row["quantity"])].append(entity)
        return found

    @staticmethod
    def mark(write: Write) -> tuple[str, str]:
        return (write.kind, write.sent["name"] if write.kind == "customer" else write.sent["quantity"])


def write_intents(base: str, node: str) -> WriteIntents:
    session = requests.Session()
    session.headers.update(credentials.load().api_headers())
    buyer = session.post(f"{base}/api/customers/", json={"name": f"Buyer {node}", "address": "1 Quorum"}, timeout=30)
    product = session.post(f"{base}/api/products/", json={"name": "Spare node", "unit_price": "9.99"}, timeout=30)
    assert buyer.status_code == product.status_code == 201, (buyer.text, product.text)
    return WriteIntents(node, buyer.json()["id"], product.json()["id"])


def exactly_once_problems(
    intents: WriteIntents, writes: list[Write], customers: Snapshot, invoices: Snapshot
) -> list[str]:
    """Intents not acknowledged, or not stored exactly once as the entity the acknowledgement named."""
    stored = intents.stored(customers, invoices)
    problems = []
    for write in writes:
        ids = stored.get(intents.mark(write), [])
        if write.status != 201:
            problems.append(f"{write.kind} {intents.mark(write)[1]}: never acknowledged, last {write.status}")
        elif ids != [write.entity_id]:
            problems.append(f"{write.kind} {intents.mark(write)[1]}: acknowledged {write.entity_id}, stored {ids}")
    return problems


def test_killed_worker_tasks_move_and_nothing_is_lost(
    deployed_cluster: cluster.ClusterSettings, entities: dict[str, dict]
) -> None:
    before = replicated_placement()
    on_killed = sorted(slot for slot, running_on in before.items() if KILLED in running_on)
    print(f"\non {KILLED} before the kill: {on_killed}")
    assert on_killed, f"no replicated task on {KILLED} to reschedule: {before}"

    timeouts = chain()
    read_timeout = max(timeouts.public_api_read_worst, timeouts.public_page_worst) + CLIENT_MARGIN
    write_timeout = timeouts.public_api_write_worst + CLIENT_MARGIN
    intents = [write_intents(gateway(deployed_cluster, node), node) for node in SURVIVORS]
    timelines = [Timeline(node) for node in SURVIVORS]
    runners = [
        load.LoadRunner(
            load.LoadConfig(
                base_url=gateway(deployed_cluster, timeline.node),
                duration=RESCHEDULE_LIMIT + 60,
                rate=6,
                threads=4,
                mix=dict(READS),
                timeout=read_timeout,
                printer=timeline,
            )
        ).start()
        for timeline in timelines
    ]
    writers = [
        WriteLoad(
            gateway(deployed_cluster, mine.node),
            mine.body,
            auth=credentials.load().api_headers(),
            kinds=("customer", "invoice"),
            writers=2,
            rate=WRITE_RATE,
            timeout=write_timeout,
            attempts=WRITE_ATTEMPTS,
        ).start()
        for mine in intents
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
        writes = [writer.stop() for writer in writers]

    failed = sum(report.errors for report in reports)
    sent = sum(report.requests for report in reports)
    print(f"\n{KILLED}'s tasks {on_killed} running on {'/'.join(SURVIVORS)} {rescheduled_after:.1f}s after the kill")
    print(f"client timeouts: reads {read_timeout:g}s, writes {write_timeout:g}s (the gateway's worst cases + margin)")
    for timeline, report in zip(timelines, reports, strict=True):
        print(f"reads via {timeline.node}'s gateway: {report.summary()}")
        print(f"  longest stretch without a successful answer: {timeline.longest_silence()}s")
    print(f"failed GETs during the node failure: {failed} of {sent}")
    customers, invoices = redis_snapshot("customers-redis", "customer"), redis_snapshot("invoices-redis", "invoice")
    problems = []
    for mine, done in zip(intents, writes, strict=True):
        retried = [write for write in done if write.retried]
        failed_attempts = collections.Counter(str(status) for write in done for status in write.retried)
        print(
            f"writes via {mine.node}'s gateway: {len(done)} POSTs, {sum(w.status == 201 for w in done)} acknowledged, "
            f"{len(retried)} sent again with their Idempotency-Key after {dict(failed_attempts) or 'nothing'}"
        )
        for write in retried:
            print(f"  {write.kind} at {write.at:.1f}s: {' -> '.join(map(str, write.retried))} -> {write.status}")
        problems += exactly_once_problems(mine, done, customers, invoices)
    assert sent > 0
    assert all(timeline.longest_silence() < SILENCE_LIMIT for timeline in timelines)
    samples = [sample for report in reports for sample in report.error_samples[:10]]
    assert failed == 0, samples
    assert all(done for done in writes)
    assert problems == [], problems
    all_writes = [write for done in writes for write in done]
    assert not lost_or_altered(all_writes, customers, "customer")
    assert not lost_or_altered(all_writes, invoices, "invoice")
    assert not half_written(customers, [f.name for f in dataclasses.fields(Customer)])
    assert not half_written(invoices, [f.name for f in dataclasses.fields(Invoice)], per_customer_index=True)

    survivor = gateway(deployed_cluster, "w1")
    assert unreadable(survivor, entities) == []
    acknowledged = {load.VERIFY_PATH[kind].format(id=id_): None for report in reports for kind, id_ in report.created}
    acknowledged |= {load.VERIFY_PATH[w.kind].format(id=w.entity_id): None for w in all_writes if w.entity_id}
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
