"""Writes need the API token, always: a service without one does not start, a write without it is
a 401 that changes nothing, and reads stay open."""

import os
import subprocess
import sys

import pytest

from ops.services import API_SERVICES, service
from tests.conftest import post_json
from tests.processes import REPO_ROOT, TEST_CREDENTIALS

WITH_TOKEN = {"Authorization": f"Bearer {TEST_CREDENTIALS.api_token}"}


@pytest.fixture
def customer_id(api):
    return post_json(api, "/api/customers/", {"name": "Ada", "address": "x"}).json()["id"]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong",
        f"Basic {TEST_CREDENTIALS.api_token}",
        "Bearer",
        f"Bearer {TEST_CREDENTIALS.api_token}x",
        f"Bearer {TEST_CREDENTIALS.api_token[:-1]}",
        "Bearer é",
    ],
)
def test_writes_without_the_token_are_401_and_change_nothing(anonymous_api, customer_id, raw_redis, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    before = raw_redis.hgetall(f"customer:{customer_id}")

    responses = [
        post_json(anonymous_api, "/api/customers/", {"name": "Eve", "address": "y"}, **headers),
        anonymous_api.patch(f"/api/customers/{customer_id}/", {"name": "Eve"}, format="json", headers=headers),
        anonymous_api.put(
            f"/api/customers/{customer_id}/", {"name": "Eve", "address": "y"}, format="json", headers=headers
        ),
        anonymous_api.delete(f"/api/customers/{customer_id}/", headers=headers),
        post_json(anonymous_api, "/api/products/", {"name": "Free", "unit_price": "1.00"}, **headers),
        post_json(anonymous_api, "/api/invoices/", {"customer_id": customer_id}, **headers),
    ]

    assert [r.status_code for r in responses] == [401] * len(responses)
    assert {r.json()["error"]["code"] for r in responses} == {"not_authenticated"}
    assert responses[0]["WWW-Authenticate"] == "Bearer"
    assert raw_redis.zcard("customer:index") == 1
    assert raw_redis.zcard("product:index") == 0
    assert raw_redis.hgetall(f"customer:{customer_id}") == before


def test_reads_stay_open_and_writes_with_the_token_work(anonymous_api, customer_id):
    assert anonymous_api.get(f"/api/customers/{customer_id}/").status_code == 200
    assert anonymous_api.get("/api/customers/").status_code == 200

    response = anonymous_api.patch(
        f"/api/customers/{customer_id}/", {"name": "Ada L."}, format="json", headers=WITH_TOKEN
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Ada L."


@pytest.mark.parametrize("name", API_SERVICES)
@pytest.mark.parametrize("token", [None, ""])
def test_an_api_service_without_a_token_refuses_to_start(name, token):
    env = {key: value for key, value in os.environ.items() if not key.startswith("API_WRITE_TOKEN")}
    env |= {"DJANGO_SETTINGS_MODULE": service(name).settings, "SECRET_KEY": "x", "REDIS_URL": "redis://127.0.0.1:9/0"}
    env |= {"CUSTOMERS_URL": "http://127.0.0.1:9", "PRODUCTS_URL": "http://127.0.0.1:9"}
    if token is not None:
        env["API_WRITE_TOKEN"] = token

    result = subprocess.run(
        [sys.executable, "-c", "import config.wsgi"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured: " in result.stderr
    assert "API_WRITE_TOKEN" in result.stderr.splitlines()[-1], result.stderr[-500:]
