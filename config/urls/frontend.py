from django.urls import include, path

from common.urls import internal_patterns

urlpatterns = [
    *internal_patterns(),
    path("", include("frontend.urls")),
]

handler400 = "frontend.views.bad_request"
handler403 = "frontend.views.permission_denied"
handler404 = "frontend.views.page_not_found"
handler500 = "frontend.views.server_error"
