"""Liveness, readiness and metrics endpoints: internal, the gateway does not route them."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from common import metrics


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers; says nothing about its dependencies (a restart would not fix them)."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when the service's Redis answers (services without a Redis are ready when alive)."""
    if "default" not in getattr(settings, "CACHES", {}) or "redis" not in settings.CACHES["default"]["BACKEND"]:
        return JsonResponse({"status": "ready"})
    from django_redis import get_redis_connection

    try:
        get_redis_connection("default").ping()
    except Exception as exc:  # any failure to reach Redis means "not ready", never a 500
        return JsonResponse({"status": "unavailable", "redis": type(exc).__name__}, status=503)
    return JsonResponse({"status": "ready", "redis": "ok"})


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    body, content_type = metrics.render()
    return HttpResponse(body, content_type=content_type)
