from collections.abc import Iterator

import pytest

from tests.conftest import IN_PROCESS_DB
from tests.processes import Gunicorn


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
