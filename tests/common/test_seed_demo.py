"""The demo seed when the APIs do not answer: a clear error, not a traceback. Seeding twice through
the real gateway is tests/integration/test_seed_demo.py."""

import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ops.processes import free_port
from tests.processes import REPO_ROOT, TEST_CREDENTIALS


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
