"""The web frontend: base settings + the frontend app + where the gateway is. No Redis of its own."""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, MIDDLEWARE, PUBLIC_URL, TEMPLATES, env, required

SERVICE_NAME = "frontend"
INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.auth", "django.contrib.messages", "frontend"]
ROOT_URLCONF = "config.urls.frontend"

# Every API call goes through the gateway, so it is load-balanced and retried there.
API_URL = env("API_URL").rstrip("/")
FRONTEND_PAGE_SIZE = int(env("FRONTEND_PAGE_SIZE", "20"))

# Anyone may browse; creating, editing and deleting need the operator's sign-in (frontend.auth),
# and only a signed-in operator's writes carry the API token.
OPERATOR_USERNAME = env("OPERATOR_USERNAME", "operator")
# Empty: nobody can sign in, so the UI is read-only (a one-off command such as seed_demo needs none).
OPERATOR_PASSWORD = env("OPERATOR_PASSWORD", "")
API_WRITE_TOKEN = required("API_WRITE_TOKEN")
AUTHENTICATION_BACKENDS = ["frontend.auth.OperatorBackend"]
LOGIN_URL = "frontend:sign_in"
LOGIN_REDIRECT_URL = "frontend:home"
LOGOUT_REDIRECT_URL = "frontend:home"

# No database: the session (who is signed in) travels in a cookie signed with SECRET_KEY, flash
# messages in another, CSRF tokens in their own. A session ends after 12 hours or at sign-out.
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_AGE = 12 * 60 * 60
SESSION_COOKIE_SAMESITE = "Lax"
# Over HTTPS (PUBLIC_URL https://...) the cookies never travel in clear.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PUBLIC_URL.startswith("https://")
MIDDLEWARE = [
    *MIDDLEWARE,
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
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
