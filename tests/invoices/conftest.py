from collections.abc import Iterator

import pytest
import requests

from tests.conftest import IN_PROCESS_DB
from tests.processes import WRITE, Gunicorn


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
    return _created(
        use_live_services["customers"].url, "customers", {"name": "Ada Lovelace", "address": "12 Analytical Row"}
    )


@pytest.fixture
def product(use_live_services):
    return _created(use_live_services["products"].url, "products", {"name": "Ceramic mug", "unit_price": "0.10"})
