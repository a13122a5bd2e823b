"""The invoices API: base settings + the invoices app + its Redis + where customers and products are."""

from .base import *  # noqa: F403
from .base import API_MIDDLEWARE, INSTALLED_APPS, SPECTACULAR_SETTINGS, env, redis_cache, required

SERVICE_NAME = "invoices"
MIDDLEWARE = API_MIDDLEWARE
INSTALLED_APPS = [*INSTALLED_APPS, "invoices"]
ROOT_URLCONF = "config.urls.invoices"
CACHES = redis_cache(env("REDIS_URL"))
STATIC_URL = "/api/invoices/static/"
# POST/PUT/PATCH/DELETE need "Authorization: Bearer <this>" (common.permissions); a Docker secret.
API_WRITE_TOKEN = required("API_WRITE_TOKEN")
SPECTACULAR_SETTINGS = {**SPECTACULAR_SETTINGS, "TITLE": "Invoices API"}

# In a deployment both point at the gateway, so calls are load-balanced and retried there.
CUSTOMERS_URL = env("CUSTOMERS_URL")
PRODUCTS_URL = env("PRODUCTS_URL")
