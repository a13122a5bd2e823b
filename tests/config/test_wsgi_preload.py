"""What config.wsgi imports before gunicorn forks its workers (preload_app): code a worker would
otherwise import on its first request, each worker its own copy (bench's PSS per replica)."""

import json
import os
import subprocess
import sys

import pytest

from tests.processes import REPO_ROOT, TEST_CREDENTIALS

# Read in a fresh interpreter, as gunicorn's master does, with nothing imported beforehand.
REPORT = """
import json, socket, sys
connections = []
real_connect = socket.socket.connect
socket.socket.connect = lambda self, address: connections.append(str(address)) or real_connect(self, address)
import config.wsgi
print(json.dumps({"modules": sorted(sys.modules), "connections": connections}))
"""


def imported_by_wsgi(service: str) -> dict[str, list[str]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": f"config.settings.{service}",
        "SECRET_KEY": "test-only-secret-key",
        "API_WRITE_TOKEN": TEST_CREDENTIALS.api_token,
        # Nothing listens there: the import must not need Redis.
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "CUSTOMERS_URL": "http://127.0.0.1:1",
        "PRODUCTS_URL": "http://127.0.0.1:1",
    }
    result = subprocess.run(
        [sys.executable, "-c", REPORT], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("service", ["customers", "products", "invoices"])
def test_the_master_holds_the_redis_client_code_without_connecting(service: str) -> None:
    report = imported_by_wsgi(service)

    assert {"django_redis.client.default", "django_redis.pool", "django_redis.serializers.pickle"} <= set(
        report["modules"]
    )
    assert report["connections"] == []
