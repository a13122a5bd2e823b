"""The customers API: base settings + the customers app + its Redis."""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, SPECTACULAR_SETTINGS, env, redis_cache

SERVICE_NAME = "customers"
INSTALLED_APPS = [*INSTALLED_APPS, "customers"]
ROOT_URLCONF = "config.urls.customers"
CACHES = redis_cache(env("REDIS_URL"))
STATIC_URL = "/api/customers/static/"
SPECTACULAR_SETTINGS = {**SPECTACULAR_SETTINGS, "TITLE": "Customers API"}
