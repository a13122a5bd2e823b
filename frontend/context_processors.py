from typing import Any

from django.conf import settings
from django.http import HttpRequest

from common import context
from frontend.api import api_calls


def page_info(request: HttpRequest) -> dict[str, Any]:
    """Who rendered the page and which API calls it made, for the footer.

    The list is live: calls made after this runs (while the template renders) still show.
    """
    calls = api_calls.get()
    return {
        "api_calls": calls if calls is not None else [],
        "frontend_served_by": settings.SERVED_BY,
        "frontend_version": settings.SERVICE_VERSION,
        "request_id": context.request_id.get(),
    }
