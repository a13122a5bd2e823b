"""With two managers, Redis still restarts on the node that holds its volume, never on an empty one.

Redis is placed by the node label demo.redis-data=true (ops.stack and ops.cluster set it on one
node), not by `node.role == manager`: here w1 is promoted, so the swarm has two managers, and a
forced update of customers-redis must start the new task on the labelled node again, with every
customer still there.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
import requests

from common.waiting import wait_until
from ops import cluster, credentials, stack

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1200)]

PROMOTED = "w1"


def redis_nodes(service: str) -> set[str]:
    return {task.node for task in cluster.running_tasks() if task.name.startswith(f"{stack.STACK}_{service}.")}


def read(url: str) -> requests.Response:
    """GET through the public listener, waiting out its rate limit (bounded)."""
    for _ in range(30):
        response = requests.get(url, timeout=30)
        if response.status_code not in (429, 503):
            return response
        time.sleep(1)
    return response


@pytest.fixture
def two_managers(deployed_cluster: cluster.ClusterSettings) -> Iterator[None]:
    manager = cluster.node_engine(cluster.MANAGER)
    node = next(n for n in manager.nodes() if n.hostname == PROMOTED)
    manager.node_role_set(node.id, "manager")
    wait_until(
        f"{PROMOTED} to be a reachable manager",
        lambda: any(n.hostname == PROMOTED and n.role == "manager" and n.ready for n in manager.nodes()),
        timeout=60,
        interval=1,
    )
    try:
        yield
    finally:
        manager.node_role_set(node.id, "worker")


def test_redis_restarts_on_its_labelled_node_with_two_managers(
    deployed_cluster: cluster.ClusterSettings, two_managers: None
) -> None:
    manager = cluster.manager_engine()
    managers = [n.hostname for n in manager.nodes() if n.role == "manager"]
    labelled = [n.hostname for n in manager.nodes() if n.labels.get(stack.REDIS_NODE_LABEL) == "true"]
    assert sorted(managers) == sorted([cluster.MANAGER, PROMOTED])
    assert len(labelled) == 1
    base = f"http://127.0.0.1:{deployed_cluster.node_gateway_port(cluster.MANAGER)}"
    created = requests.post(
        f"{base}/api/customers/",
        json={"name": "Kept across managers", "address": "2 Quorum Road"},
        headers=credentials.load().api_headers(),
        timeout=30,
    )
    assert created.status_code == 201, created.text
    customer = created.json()
    assert redis_nodes("customers-redis") == set(labelled)

    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    manager.service_update(f"{stack.STACK}_customers-redis", force=True)
    stack.wait_converged(services=["customers-redis"], since=since, timeout=300, engine=manager)

    assert redis_nodes("customers-redis") == set(labelled)
    again = read(f"{base}/api/customers/{customer['id']}/")
    assert again.status_code == 200, again.text
    assert again.json() == customer
