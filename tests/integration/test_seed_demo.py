"""The demo seed as the stack runs it (manage.py in the frontend's settings, against the gateway's
internal listener), twice: the second run adds nothing."""

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from common.management.commands.seed_demo import DEMO_CUSTOMERS, DEMO_PRODUCTS
from ops.local import LocalSystem
from tests.integration.conftest import system_of_its_own
from tests.processes import REPO_ROOT


@pytest.fixture(scope="module")
def empty_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    with system_of_its_own(tmp_path_factory, "seed-demo") as system:
        yield system


def seed(system: LocalSystem, metrics_dir: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.frontend",
        "SECRET_KEY": "test-only-not-secret",
        "API_WRITE_TOKEN": system.credentials.api_token,
        "API_URL": system.internal_url,
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
    }
    command = [sys.executable, "manage.py", "seed_demo", "--api-url", system.internal_url]
    return subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=120)


def names(system: LocalSystem, path: str) -> list[str]:
    response = requests.get(f"{system.gateway_url}{path}?limit=100", timeout=10)
    assert response.status_code == 200
    return sorted(row["name"] for row in response.json()["results"])


def test_seeding_twice_through_the_gateway_adds_nothing_the_second_time(empty_system, tmp_path):
    for run in range(2):
        result = seed(empty_system, str(tmp_path / f"metrics-{run}"))
        assert result.returncode == 0, result.stderr

    assert names(empty_system, "/api/products/") == sorted(name for name, _ in DEMO_PRODUCTS)
    assert names(empty_system, "/api/customers/") == sorted(name for name, _ in DEMO_CUSTOMERS)
