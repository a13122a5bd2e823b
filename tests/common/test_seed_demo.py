"""The demo seed, through real services, twice: the second run adds nothing. APIs that do not
answer are a clear error, not a traceback."""

import os
import subprocess
import sys
from typing import Any

import pytest
import requests
import urllib3
from django.core.management import call_command
from django.core.management.base import CommandError

from common.management.commands.seed_demo import DEMO_CUSTOMERS, DEMO_PRODUCTS
from ops.processes import free_port
from tests.processes import REPO_ROOT, TEST_CREDENTIALS, Gunicorn


def test_seed_demo_is_idempotent(live_services: dict[str, Gunicorn], monkeypatch: pytest.MonkeyPatch) -> None:
    # The seed talks to one base URL (the gateway); here each service answers its own prefix.
    def routed(self: urllib3.PoolManager, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        service = "products" if "/api/products/" in url else "customers"
        url = url.replace("http://gateway", live_services[service].url)
        return original(self, method, url, *args, **kwargs)

    original = urllib3.PoolManager.request
    monkeypatch.setattr(urllib3.PoolManager, "request", routed)

    call_command("seed_demo", api_url="http://gateway")
    call_command("seed_demo", api_url="http://gateway")

    products = requests.get(f"{live_services['products'].url}/api/products/?limit=100", timeout=5).json()["results"]
    customers = requests.get(f"{live_services['customers'].url}/api/customers/?limit=100", timeout=5).json()["results"]
    assert sorted(p["name"] for p in products) == sorted(name for name, _ in DEMO_PRODUCTS)
    assert sorted(c["name"] for c in customers) == sorted(name for name, _ in DEMO_CUSTOMERS)


def test_seed_demo_fails_clearly_when_the_apis_do_not_answer() -> None:
    closed_url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CommandError, match=f"The APIs at {closed_url} do not answer."):
        call_command("seed_demo", api_url=closed_url, wait=0)


def test_seed_demo_runs_as_the_stack_runs_it_without_a_metrics_directory(tmp_path) -> None:
    """The seed job is manage.py in the frontend image, which sets PROMETHEUS_MULTIPROC_DIR for
    gunicorn; no gunicorn creates that directory for a one-off command."""
    closed_url = f"http://127.0.0.1:{free_port()}"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.frontend",
        "SECRET_KEY": "test-only-not-secret",
        "API_WRITE_TOKEN": TEST_CREDENTIALS.api_token,
        "API_URL": closed_url,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "not-created-yet"),
    }
    command = [sys.executable, "manage.py", "seed_demo", "--api-url", closed_url, "--wait", "0"]

    result = subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert f"The APIs at {closed_url} do not answer." in result.stderr
    assert "Traceback" not in result.stderr
