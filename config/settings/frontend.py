"""The web frontend: base settings + the frontend app + where the gateway is. No Redis of its own."""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, MIDDLEWARE, TEMPLATES, env

SERVICE_NAME = "frontend"
INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.messages", "frontend"]
ROOT_URLCONF = "config.urls.frontend"

# Every API call goes through the gateway, so it is load-balanced and retried there.
API_URL = env("API_URL").rstrip("/")
FRONTEND_PAGE_SIZE = int(env("FRONTEND_PAGE_SIZE", "20"))

# No sessions: flash messages travel in a signed cookie, CSRF tokens in their own cookie.
MIDDLEWARE = [
    *MIDDLEWARE,
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "frontend.middleware.ApiCallLogMiddleware",
]
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"
CSRF_COOKIE_HTTPONLY = True

TEMPLATES = [
    {
        **TEMPLATES[0],
        "OPTIONS": {
            "context_processors": [
                *TEMPLATES[0]["OPTIONS"]["context_processors"],
                "django.contrib.messages.context_processors.messages",
                "frontend.context_processors.page_info",
            ],
        },
    }
]
