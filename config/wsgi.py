"""WSGI entry point shared by every deployable; DJANGO_SETTINGS_MODULE picks which one."""

from django.core.cache import caches
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver
from rest_framework.settings import api_settings

from config.entrypoint import require_settings_module

require_settings_module()

application = get_wsgi_application()

# What the first request would import (the URLconf with its views and serializers, DRF's
# renderers and parsers, the cache backend's client: django-redis with its pool, serializer and
# compressor modules in the APIs), imported now: under gunicorn's preload_app the master then
# holds it once for every worker, instead of each worker importing its own copy. Building the
# client opens no connection: each worker connects on first use.
get_resolver().url_patterns  # noqa: B018
api_settings.DEFAULT_RENDERER_CLASSES  # noqa: B018
api_settings.DEFAULT_PARSER_CLASSES  # noqa: B018
getattr(caches["default"], "client", None)
