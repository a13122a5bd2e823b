from django.apps import AppConfig
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, reset_queries


class CommonConfig(AppConfig):
    name = "common"

    def ready(self) -> None:
        # Business data lives in Redis and no SQL database is configured: Django's per-request
        # database bookkeeping (reset queries, close stale connections) has nothing to do, yet
        # walks the connection handler twice per request.
        if all(db.get("ENGINE") == "django.db.backends.dummy" for db in settings.DATABASES.values()):
            request_started.disconnect(reset_queries)
            request_started.disconnect(close_old_connections)
            request_finished.disconnect(close_old_connections)
