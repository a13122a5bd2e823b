"""All REST apps in one URLconf, for the in-process part of the test suite."""

from django.urls import include, path

from common.urls import internal_patterns

urlpatterns = [
    *internal_patterns(),
    path("api/", include("customers.urls")),
    path("api/", include("products.urls")),
    path("api/", include("invoices.urls")),
]

handler404 = "common.errors.handler404"
handler500 = "common.errors.handler500"
