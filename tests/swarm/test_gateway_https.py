"""HTTPS at the gateway, on the deployed stack: `python -m ops.stack up --https-self-signed` makes
a self-signed pair, deploys swarm-https.yml on top, and then port 80 redirects, 443 answers with
the API and HSTS. The stack goes back to plain HTTP afterwards (`--no-https`), the secrets it
made are removed."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
import requests

from common.waiting import wait_until
from ops import engine, stack
from ops.engine import SERVICE_NAME_LABEL
from ops.gateway_config import PUBLIC_PORT
from tests.processes import run_logged

pytestmark = [pytest.mark.swarm, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def https_url(deployed: str, gateway_port: int) -> Iterator[str]:
    had_secrets = stack.tls_secrets_exist(engine=engine.local())
    up = (sys.executable, "-m", "ops.stack", "up", "--no-build", "--gateway-port", str(gateway_port))
    run_logged(*up, "--https-self-signed", timeout=600)
    yield "https://127.0.0.1"
    run_logged(*up, "--no-https", timeout=600)
    if not had_secrets:
        # Refused while a stopping gateway task still holds them; left behind, they would turn
        # HTTPS on for the next deploy.
        for name in stack.TLS_SECRETS:
            wait_until(f"secret {name} removed", lambda n=name: engine.local().secret_remove(n), timeout=60, interval=1)


def test_plain_http_on_the_public_port_redirects_to_https(https_url: str, deployed: str) -> None:
    response = requests.get(f"{deployed}/api/customers/?limit=1", allow_redirects=False, timeout=10)

    assert response.status_code == 308
    assert response.headers["Location"] == f"{https_url}/api/customers/?limit=1"
    assert "Strict-Transport-Security" not in response.headers


def test_https_answers_with_the_api_and_sends_hsts(https_url: str) -> None:
    response = requests.get(f"{https_url}/api/customers/?limit=1", verify=str(stack.SELF_SIGNED_CERT), timeout=10)

    assert response.status_code == 200, response.text[:300]
    assert "results" in response.json()
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert response.headers["X-Served-By"]


def test_the_gateway_publishes_both_ports_and_stays_healthy(https_url: str) -> None:
    gateway = engine.local().service(f"{stack.STACK}_gateway")
    assert gateway is not None
    labels = {SERVICE_NAME_LABEL: f"{stack.STACK}_gateway"}

    containers = engine.local().containers(labels, status="running")

    assert sorted(port.target for port in gateway.ports) == [PUBLIC_PORT, stack.HTTPS_TARGET_PORT]
    assert all(port.mode == "host" for port in gateway.ports)
    for container in containers:
        assert engine.local().container_health(container.id) == "healthy"
