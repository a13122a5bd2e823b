"""The ceiling: the least a Django + DRF service can do to answer GET one customer.

One DRF APIView, one HGETALL (redis-py with hiredis, the same client library as the services),
JSON out; no middleware, no request id, no log line, no metrics, no error shape. ``python -m
bench`` serves it under gunicorn with the services' own config/gunicorn.conf.py on the customers
Redis and prints every single-entity scenario as a ratio to it: a ratio taken in one run is the
figure to track on a shared machine.

    gunicorn -c config/gunicorn.conf.py bench.bare   (BARE_REDIS_URL=redis://...)
"""

from __future__ import annotations

import os

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-bare-only-not-a-secret",  # noqa: S106
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["rest_framework"],
    MIDDLEWARE=[],
    DATABASES={},
    USE_TZ=True,
    REST_FRAMEWORK={
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "DEFAULT_PARSER_CLASSES": [],
        "DEFAULT_AUTHENTICATION_CLASSES": [],
        "DEFAULT_PERMISSION_CLASSES": [],
        "UNAUTHENTICATED_USER": None,
    },
)
django.setup()

import redis  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

_redis = redis.Redis.from_url(os.environ["BARE_REDIS_URL"], decode_responses=True)


class CustomerView(APIView):
    def get(self, request: Request, customer_id: str) -> Response:
        row = _redis.hgetall(f"customer:{customer_id}")
        return Response(row) if row else Response(status=404)


urlpatterns = [path("api/customers/<str:customer_id>/", CustomerView.as_view())]
application = get_wsgi_application()
