"""The test suite: every REST app in one process; Redis and service URLs come from the suite's fixtures."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-not-secret")

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, redis_cache

SERVICE_NAME = "test"
INSTALLED_APPS = [*INSTALLED_APPS, "customers", "products", "invoices"]
ROOT_URLCONF = "config.urls.test"
# Replaced at session start by tests/conftest.py with the suite's own redis-server and services.
CACHES = redis_cache("redis://127.0.0.1:6379/0")
CUSTOMERS_URL = "http://127.0.0.1:9"
PRODUCTS_URL = "http://127.0.0.1:9"
HTTP_GET_RETRIES = 0
HTTP_READ_TIMEOUT = 1.0
