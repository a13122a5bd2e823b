from django.urls import include, path

from common.urls import internal_patterns
from viz import views

# viz has no Redis: it is ready when the Docker engine answers, so its own readyz replaces the shared one.
urlpatterns = [
    path("readyz", views.readyz, name="readyz"),
    *(pattern for pattern in internal_patterns() if pattern.name != "readyz"),
    path("", include("viz.urls")),
]

handler400 = "common.errors.handler400"
handler403 = "common.errors.handler403"
handler404 = "common.errors.handler404"
handler500 = "common.errors.handler500"
