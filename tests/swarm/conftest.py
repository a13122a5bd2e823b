"""The stack deployed once per session on a single-node swarm (python -m ops.stack up).

Environment:
  SWARM_KEEP=1          leave the stack running afterwards (default: removed with its volumes,
                        unless it was already deployed before the session)
  SWARM_GATEWAY_PORT    host port for the gateway (default 80 when free, else a free port)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
import requests

from ops import credentials, engine, stack
from tests.processes import docker_unusable, host_port, run_logged


@pytest.fixture(scope="session")
def gateway_port() -> int:
    return host_port(variable="SWARM_GATEWAY_PORT", in_use=stack.published_port(), preferred=80)


# Other suites (tests/monitoring) import `deployed` into their conftest, which makes it a second
# fixture of the same name: the first one set up brings the stack up and takes it down, the
# others reuse its URL.
_session_stack: dict[str, str] = {}


@pytest.fixture(scope="session")
def deployed(gateway_port: int) -> Iterator[str]:
    """Base URL of the gateway of a converged stack."""
    if reason := docker_unusable():
        pytest.skip(reason)
    if "base_url" in _session_stack:
        yield _session_stack["base_url"]
        return
    swarm_active = engine.local().swarm_state() == "active"
    existed = swarm_active and stack.published_port() is not None
    run_logged(sys.executable, "-m", "ops.stack", "up", "--gateway-port", str(gateway_port), timeout=1200)
    base_url = f"http://127.0.0.1:{gateway_port}"
    _session_stack["base_url"] = base_url
    yield base_url
    _session_stack.clear()
    if os.environ.get("SWARM_KEEP") == "1" or existed:
        print(f"\nstack kept (SWARM_KEEP=1 or deployed before the session) at {base_url}")
        return
    run_logged(sys.executable, "-m", "ops.stack", "down", "--volumes", timeout=300)


@pytest.fixture(scope="session")
def v2_images() -> str:
    """customers and invoices as v2 (SERVICE_VERSION v2): the rolling upgrade's target."""
    run_logged(
        sys.executable, "-m", "ops.images", "build", "--tag", "v2", "--service", "customers", "--service", "invoices",
        timeout=900,
    )  # fmt: skip
    return "v2"


@pytest.fixture(scope="session")
def broken_image() -> str:
    """customers:v3 whose healthcheck always fails."""
    run_logged(sys.executable, "-m", "ops.images", "build", "--broken", "--tag", "v3", timeout=900)
    return "v3"


@pytest.fixture
def api(deployed: str) -> requests.Session:
    """An API client with the stack's token (ops.stack up made it)."""
    session = requests.Session()
    session.headers["Accept"] = "application/json"
    session.headers.update(credentials.load().api_headers())
    return session
