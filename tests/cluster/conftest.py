"""A three-node Docker-in-Docker swarm with the stack deployed, once per session (python -m ops.cluster).

Environment:
  CLUSTER_KEEP=1         leave the cluster running afterwards (default: python -m ops.cluster down)
  CLUSTER_GATEWAY_PORT   host port of m1's gateway (w1, w2: the next two), CLUSTER_VIZ_PORT,
  CLUSTER_REGISTRY_PORT, CLUSTER_SUBNET: as for `python -m ops.cluster up`
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from ops import cluster
from tests.processes import docker_unusable, run_logged


def run_cli(*argv: str, timeout: float) -> float:
    """Run `python -m ops.cluster ...` as a user would; the seconds it took."""
    return run_logged(sys.executable, "-m", "ops.cluster", *argv, timeout=timeout)


@pytest.fixture(scope="session")
def deployed_cluster() -> Iterator[cluster.ClusterSettings]:
    """The cluster's ports and addresses, with every service of the stack converged and healthy."""
    if reason := docker_unusable():
        pytest.skip(reason)
    run_cli("up", timeout=900)
    run_cli("deploy", timeout=1500)
    yield cluster.settings_in_use(cluster.ClusterSettings())
    if os.environ.get("CLUSTER_KEEP") == "1":
        print("\ncluster kept (CLUSTER_KEEP=1): python -m ops.cluster down removes it")
        return
    run_cli("down", timeout=300)
