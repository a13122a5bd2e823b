from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from frontend.api import api_calls


class ApiCallLogMiddleware:
    """Gives each request its own list of API calls, which the page footer renders."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = api_calls.set([])
        try:
            return self.get_response(request)
        finally:
            api_calls.reset(token)
