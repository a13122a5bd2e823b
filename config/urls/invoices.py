from django.urls import include, path

from common.urls import api_docs_patterns, internal_patterns

urlpatterns = [
    *internal_patterns(),
    *api_docs_patterns("invoices"),
    path("api/", include("invoices.urls")),
]

handler400 = "common.errors.handler400"
handler403 = "common.errors.handler403"
handler404 = "common.errors.handler404"
handler500 = "common.errors.handler500"
