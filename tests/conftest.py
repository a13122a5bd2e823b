"""Fixtures for the whole suite: the suite's own redis-server, flushed between tests, and real
customers and products services under gunicorn for everything that crosses HTTP."""

import json
from collections.abc import Iterator

import pytest
import redis
import requests
from django.conf import settings
from django.core.cache import caches
from playwright.sync_api import Browser
from rest_framework.test import APIClient

from ops.local import LocalSystem
from tests.chromium import launched_chromium
from tests.frontend.site import running_system
from tests.processes import TEST_CREDENTIALS, WRITE, Gunicorn, RedisServer

# Database numbers on the suite's redis-server: one per service, like one Redis each in a deployment.
IN_PROCESS_DB, CUSTOMERS_DB, PRODUCTS_DB = 0, 1, 2


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def _point_django_at_test_redis(redis_server: RedisServer) -> None:
    settings.CACHES["default"]["LOCATION"] = redis_server.url(IN_PROCESS_DB)
    caches["default"].close()


@pytest.fixture(autouse=True)
def _flush_redis(redis_server: RedisServer) -> None:
    redis.Redis.from_url(redis_server.url()).flushall()


@pytest.fixture
def raw_redis(redis_server: RedisServer) -> redis.Redis:
    """The in-process services' Redis, for checking what was (not) written."""
    return redis.Redis.from_url(redis_server.url(IN_PROCESS_DB), decode_responses=True)


@pytest.fixture(scope="session")
def live_services(redis_server: RedisServer) -> Iterator[dict[str, Gunicorn]]:
    """Real customers and products services, each on its own Redis database."""
    services = {
        "customers": Gunicorn("customers", {"REDIS_URL": redis_server.url(CUSTOMERS_DB)}),
        "products": Gunicorn("products", {"REDIS_URL": redis_server.url(PRODUCTS_DB)}),
    }
    for service in services.values():
        service.start()
    yield services
    for service in services.values():
        service.stop()


@pytest.fixture
def use_live_services(live_services: dict[str, Gunicorn], settings) -> dict[str, Gunicorn]:
    """Invoices (in process) validates against the live customers and products services."""
    settings.CUSTOMERS_URL = live_services["customers"].url
    settings.PRODUCTS_URL = live_services["products"].url
    return live_services


@pytest.fixture(scope="session")
def live_server_invoices(redis_server, live_services) -> Iterator[str]:
    """Invoices under gunicorn (threads, two workers) on the database raw_redis inspects."""
    service = Gunicorn(
        "invoices",
        {
            "REDIS_URL": redis_server.url(IN_PROCESS_DB),
            "CUSTOMERS_URL": live_services["customers"].url,
            "PRODUCTS_URL": live_services["products"].url,
            "GUNICORN_THREADS": "4",
        },
    )
    service.start()
    yield service.url
    service.stop()


def _created(service_url: str, kind: str, body: dict) -> dict:
    response = requests.post(f"{service_url}/api/{kind}/", json=body, headers=WRITE, timeout=5)
    assert response.status_code == 201
    return response.json()


@pytest.fixture
def customer(use_live_services):
    """A customer of the live customers service, which in-process invoices look up."""
    return _created(
        use_live_services["customers"].url, "customers", {"name": "Ada Lovelace", "address": "12 Analytical Row"}
    )


@pytest.fixture
def product(use_live_services):
    """A product of the live products service."""
    return _created(use_live_services["products"].url, "products", {"name": "Ceramic mug", "unit_price": "0.10"})


@pytest.fixture(scope="session")
def local_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    """The whole system in local mode (redis-servers, every service under gunicorn, the nginx
    gateway, the frontend) on free ports, shared by the suites that test through the gateway."""
    with running_system(tmp_path_factory.mktemp("local-mode")) as system:
        yield system


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def api() -> APIClient:
    """A client of the in-process services that sends the API token with every request."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {TEST_CREDENTIALS.api_token}")
    return client


@pytest.fixture
def anonymous_api() -> APIClient:
    """A client without credentials."""
    return APIClient()


def post_json(client: APIClient, url: str, body: object, **headers: str):
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)
