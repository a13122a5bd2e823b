"""A three-node Docker-in-Docker swarm with the stack deployed, once per session (python -m ops.cluster).

Environment:
  CLUSTER_KEEP=1         leave the cluster running afterwards (default: python -m ops.cluster down)
  CLUSTER_GATEWAY_PORT   host port of m1's gateway (w1, w2: the next two), CLUSTER_VIZ_PORT,
  CLUSTER_REGISTRY_PORT, CLUSTER_SUBNET: as for `python -m ops.cluster up`
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from ops import cluster

REPO = cluster.REPO


def run_cli(*argv: str, timeout: float) -> float:
    """Run `python -m ops.cluster ...` as a user would; the seconds it took."""
    started = time.monotonic()
    print(f"\n$ python -m ops.cluster {' '.join(argv)}", flush=True)
    subprocess.run([sys.executable, "-m", "ops.cluster", *argv], cwd=REPO, check=True, timeout=timeout)
    seconds = time.monotonic() - started
    print(f"({seconds:.0f}s)", flush=True)
    return seconds


def _docker_usable() -> str | None:
    if not shutil.which("docker"):
        return "docker is not installed"
    info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, check=False)
    return None if info.returncode == 0 else "the Docker engine does not answer"


@pytest.fixture(scope="session")
def deployed_cluster() -> Iterator[cluster.ClusterSettings]:
    """The cluster's ports and addresses, with every service of the stack converged and healthy."""
    if reason := _docker_usable():
        pytest.skip(reason)
    run_cli("up", timeout=900)
    run_cli("deploy", timeout=1500)
    yield cluster.settings_in_use(cluster.ClusterSettings())
    if os.environ.get("CLUSTER_KEEP") == "1":
        print("\ncluster kept (CLUSTER_KEEP=1): python -m ops.cluster down removes it")
        return
    run_cli("down", timeout=300)
