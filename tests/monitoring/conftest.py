"""The monitoring stack (monitoring-stack.yml) deployed beside the main stack for its tests.

Environment:
  MONITORING_PORT   host port for Prometheus (default 9090 when free, else a free port)
  SWARM_KEEP=1      leave both stacks running afterwards
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from ops import monitoring, stack
from tests.processes import host_port, run_logged
from tests.swarm.conftest import deployed, gateway_port  # noqa: F401 (fixtures shared with the swarm suite)


# Module scope: removed as soon as its tests are done, so it does not take CPU from the swarm
# suite that may follow in the same session.
@pytest.fixture(scope="module")
def prometheus(deployed: str) -> Iterator[monitoring.Settings]:  # noqa: F811 (the imported fixture)
    """Prometheus of a freshly deployed monitoring stack; removed with its volume afterwards."""
    port = host_port(
        variable="MONITORING_PORT", in_use=stack.published_port(monitoring.STACK, "prometheus", 9090), preferred=9090
    )
    settings = monitoring.Settings(port=port)
    run_logged(sys.executable, "-m", "ops.monitoring", "up", "--port", str(settings.port), timeout=900)
    yield settings
    if os.environ.get("SWARM_KEEP") == "1":
        print(f"\nmonitoring stack kept (SWARM_KEEP=1): {settings.url}{monitoring.DASHBOARD_PATH}")
        return
    run_logged(sys.executable, "-m", "ops.monitoring", "down", "--volumes", timeout=300)
