"""Settings shared by every deployable.

Each deployable's module (customers.py, products.py, ...) star-imports this one and adds its
app, its URLconf and its backing services. Differences between environments come from
environment variables only.
"""

import os
import socket
import warnings
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from common import __version__

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str | None = None) -> str:
    """A setting from the environment, or from the file named by `<name>_FILE` (Docker secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE points to {file_path}, which cannot be read: {exc}") from exc
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"The {name} environment variable (or {name}_FILE) is required.")
    return value


def required(name: str) -> str:
    """A credential: from the environment or its `<name>_FILE`, and never empty."""
    value = env(name)
    if not value:
        raise ImproperlyConfigured(f"{name} (or {name}_FILE) is empty; this service needs a value.")
    return value


def env_bool(name: str, default: bool = False) -> bool:
    return env(name, "1" if default else "0").strip().lower() in {"1", "true", "yes", "on"}


def env_float(name: str, default: float) -> float:
    return float(env(name, str(default)))


def redis_cache(url: str) -> dict:
    """CACHES for one Redis through django-redis; short timeouts so a dead Redis fails fast."""
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": env_float("REDIS_CONNECT_TIMEOUT", 1.0),
                "SOCKET_TIMEOUT": env_float("REDIS_TIMEOUT", 2.0),
                # Empty: Redis asks for none (a development redis-server); the stack sets one.
                "PASSWORD": env("REDIS_PASSWORD", "") or None,
                "CONNECTION_POOL_KWARGS": {
                    "max_connections": 50,
                    "health_check_interval": 30,
                    "decode_responses": True,
                },
            },
        }
    }


# ------------------------------------------------------------------------------
# Core
# ------------------------------------------------------------------------------
SECRET_KEY = env("SECRET_KEY")
DEBUG = env_bool("DJANGO_DEBUG")
ALLOWED_HOSTS = [host.strip() for host in env("DJANGO_ALLOWED_HOSTS", "*").split(",") if host.strip()]
SERVICE_VERSION = env("SERVICE_VERSION", "") or __version__
SERVED_BY = socket.gethostname()

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "common",
]

# Pages (frontend, viz): Django sets the browser security headers itself.
MIDDLEWARE = [
    "common.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# The APIs answer only through the gateway, which sets nosniff, X-Frame-Options, Referrer-Policy,
# Cross-Origin-Opener-Policy (and HSTS over HTTPS) on every response of its public listener (its
# internal one serves our services, never a browser) and drops any copy a service sends:
# SecurityMiddleware and XFrameOptionsMiddleware would cost every API request headers nobody
# receives (docker/gateway/nginx.conf, "Headers for browsers" and "the gateway owns them").
API_MIDDLEWARE = [
    name
    for name in MIDDLEWARE
    if name
    not in {"django.middleware.security.SecurityMiddleware", "django.middleware.clickjacking.XFrameOptionsMiddleware"}
]

WSGI_APPLICATION = "config.wsgi.application"
# Business data lives in Redis; no SQL database is used.
DATABASES: dict = {}
# django-redis looks this up at the end of every request and, when unset, pays for a missing
# setting's AttributeError each time. False is its default: the pool keeps its connections.
DJANGO_REDIS_CLOSE_CONNECTION = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
            ],
        },
    }
]

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = False

# ------------------------------------------------------------------------------
# Request limits and security
# ------------------------------------------------------------------------------
# Bodies above this are refused with 413 (the gateway enforces its own, equal limit).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
USE_X_FORWARDED_HOST = False
# Where clients reach the system, e.g. https://shop.example.com; links in API responses
# (pagination "next") start with it. Empty: links are relative ("/api/customers/?cursor=..."),
# which resolve against whatever URL the client used. Never the request's Host header: that is
# whatever the client sent.
PUBLIC_URL = env("PUBLIC_URL", "").rstrip("/")
# The services that accept writes (the three APIs, and the frontend, which forwards its signed-in
# operator's writes) set API_WRITE_TOKEN with required(): no token, no start.

# ------------------------------------------------------------------------------
# Static files (whitenoise; each service gets its own URL prefix so the gateway routes them)
# ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "build" / "static"
# Images run collectstatic; a checkout serves straight from the apps' static folders.
WHITENOISE_USE_FINDERS = not STATIC_ROOT.is_dir()
warnings.filterwarnings("ignore", message="No directory at")

# ------------------------------------------------------------------------------
# Django REST framework and OpenAPI
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["common.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "common.negotiation.JsonFirstNegotiation",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["common.permissions.WriteTokenRequired"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "common.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "common.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
}

SPECTACULAR_SETTINGS = {
    "VERSION": SERVICE_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "common.openapi.add_error_responses",
    ],
}

# ------------------------------------------------------------------------------
# Calls to other services
# ------------------------------------------------------------------------------
# Each read timeout outlasts the worst case of the gateway hop it waits for (its retries included):
# the chain is the table "Timeouts and retries" in docker/README.md, and
# tests/config/test_timeout_chain.py fails when a value here breaks it.
HTTP_CONNECT_TIMEOUT = env_float("HTTP_CONNECT_TIMEOUT", 1.0)
# A read (GET): invoices' lookups, the frontend's pages.
HTTP_READ_TIMEOUT = env_float("HTTP_READ_TIMEOUT", 12.0)
# A write (the frontend's POST/PUT/PATCH/DELETE): an invoice POST waits for two lookups itself.
HTTP_WRITE_TIMEOUT = env_float("HTTP_WRITE_TIMEOUT", 30.0)
HTTP_GET_RETRIES = int(env("HTTP_GET_RETRIES", "2"))
# After this many failed calls in a row a dependency is not called for CIRCUIT_RESET_SECONDS.
CIRCUIT_FAILURE_THRESHOLD = int(env("CIRCUIT_FAILURE_THRESHOLD", "5"))
CIRCUIT_RESET_SECONDS = env_float("CIRCUIT_RESET_SECONDS", 5.0)

# ------------------------------------------------------------------------------
# Logging: one JSON object per line on stdout
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "common.logging.JsonFormatter"}},
    "filters": {"uncaught_only": {"()": "common.logging.UncaughtExceptionsOnly"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        # Request lines come from our middleware; of Django's own, only uncaught exceptions
        # (every 500 the code did not answer itself) are logged, with their traceback.
        "django.request": {"level": "ERROR", "filters": ["uncaught_only"]},
        "django.server": {"level": "WARNING"},
    },
}
