"""The customers API: base settings + the customers app + its Redis."""

from .base import *  # noqa: F403
from .base import API_MIDDLEWARE, INSTALLED_APPS, SPECTACULAR_SETTINGS, env, redis_cache, required

SERVICE_NAME = "customers"
MIDDLEWARE = API_MIDDLEWARE
INSTALLED_APPS = [*INSTALLED_APPS, "customers"]
ROOT_URLCONF = "config.urls.customers"
CACHES = redis_cache(env("REDIS_URL"))
STATIC_URL = "/api/customers/static/"
# POST/PUT/PATCH/DELETE need "Authorization: Bearer <this>" (common.permissions); a Docker secret.
API_WRITE_TOKEN = required("API_WRITE_TOKEN")
SPECTACULAR_SETTINGS = {**SPECTACULAR_SETTINGS, "TITLE": "Customers API"}
