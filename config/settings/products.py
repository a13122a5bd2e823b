"""The products API: base settings + the products app + its Redis."""

from .base import *  # noqa: F403
from .base import API_MIDDLEWARE, INSTALLED_APPS, SPECTACULAR_SETTINGS, env, redis_cache, required

SERVICE_NAME = "products"
MIDDLEWARE = API_MIDDLEWARE
INSTALLED_APPS = [*INSTALLED_APPS, "products"]
ROOT_URLCONF = "config.urls.products"
CACHES = redis_cache(env("REDIS_URL"))
STATIC_URL = "/api/products/static/"
# POST/PUT/PATCH/DELETE need "Authorization: Bearer <this>" (common.permissions); a Docker secret.
API_WRITE_TOKEN = required("API_WRITE_TOKEN")
SPECTACULAR_SETTINGS = {**SPECTACULAR_SETTINGS, "TITLE": "Products API"}
