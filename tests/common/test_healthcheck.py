"""The images' HEALTHCHECK command (python -m config.healthcheck) against a real gunicorn."""

import os
import subprocess
import sys

from ops.processes import free_port
from tests.processes import REPO_ROOT, service_with_own_redis


def healthcheck(port: int, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "config.healthcheck"],
        cwd=REPO_ROOT,
        env={**os.environ, "BIND": f"0.0.0.0:{port}", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_liveness_by_default_and_readiness_when_asked_for():
    with service_with_own_redis("customers") as (service, store):
        assert healthcheck(service.port).returncode == 0
        assert healthcheck(service.port, HEALTHCHECK_PATH="/readyz").returncode == 0

        store.stop()

        alive = healthcheck(service.port)
        ready = healthcheck(service.port, HEALTHCHECK_PATH="/readyz")
        assert alive.returncode == 0
        assert ready.returncode == 1
        assert "/readyz" in ready.stderr


def test_nothing_listening_is_unhealthy_and_says_where():
    port = free_port()

    result = healthcheck(port)

    assert result.returncode == 1
    assert f"/healthz on port {port}" in result.stderr
