"""URL patterns every REST deployable shares: health, metrics, OpenAPI schema and offline Swagger UI."""

from django.urls import URLPattern, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from common import health


def internal_patterns() -> list[URLPattern]:
    return [
        path("healthz", health.healthz, name="healthz"),
        path("readyz", health.readyz, name="readyz"),
        path("metrics", health.metrics_view, name="metrics"),
    ]


def api_docs_patterns(service: str) -> list[URLPattern]:
    return [
        path(f"api/{service}/schema/", SpectacularAPIView.as_view(), name="schema"),
        path(f"api/{service}/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    ]
