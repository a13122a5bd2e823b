"""The test suite: every REST app in one process; Redis and service URLs come from the suite's fixtures."""

import os
from typing import TYPE_CHECKING

os.environ.setdefault("SECRET_KEY", "test-only-not-secret")

from .base import *  # noqa: F403
from .base import API_MIDDLEWARE, INSTALLED_APPS, redis_cache

if TYPE_CHECKING:
    # mypy's Django plugin reads this one settings module; the frontend and viz settings (their
    # apps run under their own settings in the suites) are imported for their names and types only.
    from .frontend import API_URL as API_URL
    from .frontend import FRONTEND_PAGE_SIZE as FRONTEND_PAGE_SIZE
    from .frontend import OPERATOR_PASSWORD as OPERATOR_PASSWORD
    from .frontend import OPERATOR_USERNAME as OPERATOR_USERNAME
    from .viz import VIZ_DOCKER_API_VERSION as VIZ_DOCKER_API_VERSION
    from .viz import VIZ_DOCKER_HOST as VIZ_DOCKER_HOST
    from .viz import VIZ_DOCKER_TIMEOUT as VIZ_DOCKER_TIMEOUT
    from .viz import VIZ_ENDED_TASK_SECONDS as VIZ_ENDED_TASK_SECONDS
    from .viz import VIZ_POLL_MILLISECONDS as VIZ_POLL_MILLISECONDS
    from .viz import VIZ_SNAPSHOT_TTL as VIZ_SNAPSHOT_TTL

SERVICE_NAME = "test"
# The three APIs run here, as they run in their images.
MIDDLEWARE = API_MIDDLEWARE
INSTALLED_APPS = [*INSTALLED_APPS, "customers", "products", "invoices"]
ROOT_URLCONF = "config.urls.test"
# Replaced at session start by tests/conftest.py with the suite's own redis-server and services.
CACHES = redis_cache("redis://127.0.0.1:6379/0")
CUSTOMERS_URL = "http://127.0.0.1:9"
PRODUCTS_URL = "http://127.0.0.1:9"
# The suite's clients send it (tests.processes.TEST_CREDENTIALS holds the same value).
API_WRITE_TOKEN = "test-only-api-token"  # noqa: S105 (a test value)
HTTP_GET_RETRIES = 0
HTTP_READ_TIMEOUT = 1.0
