"""The monitoring stack (monitoring-stack.yml) deployed beside the main stack for its tests.

Environment:
  MONITORING_PORT   host port for Prometheus (default 9090 when free, else a free port)
  SWARM_KEEP=1      leave both stacks running afterwards
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from ops import monitoring, stack
from tests.swarm.conftest import deployed, gateway_port  # noqa: F401 (fixtures shared with the swarm suite)


def _prometheus_port() -> int:
    if os.environ.get("MONITORING_PORT"):
        return int(os.environ["MONITORING_PORT"])
    if current := stack.published_port(monitoring.STACK, "prometheus", 9090):
        return current
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", 9090))  # noqa: S104 (the host-mode port binds every interface)
            return 9090
        except OSError:
            pass
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(*argv: str, timeout: float) -> None:
    started = time.monotonic()
    print(f"\n$ {' '.join(argv)}", flush=True)
    subprocess.run(argv, cwd=monitoring.REPO, check=True, timeout=timeout)
    print(f"({time.monotonic() - started:.0f}s)", flush=True)


# Module scope: removed as soon as its tests are done, so it does not take CPU from the swarm
# suite that may follow in the same session.
@pytest.fixture(scope="module")
def prometheus(deployed: str) -> Iterator[monitoring.Settings]:  # noqa: F811 (the imported fixture)
    """Prometheus of a freshly deployed monitoring stack; removed with its volume afterwards."""
    settings = monitoring.Settings(port=_prometheus_port())
    _run(sys.executable, "-m", "ops.monitoring", "up", "--port", str(settings.port), timeout=900)
    yield settings
    if os.environ.get("SWARM_KEEP") == "1":
        print(f"\nmonitoring stack kept (SWARM_KEEP=1): {settings.url}{monitoring.DASHBOARD_PATH}")
        return
    _run(sys.executable, "-m", "ops.monitoring", "down", "--volumes", timeout=300)
