"""Content negotiation with a shortcut for the usual API client."""

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class JsonFirstNegotiation(DefaultContentNegotiation):
    """DRF's own negotiation, except that the commonest request skips parsing Accept: no
    ?format=, and Accept absent, `*/*` or exactly the first renderer's media type (JSON) gets
    that renderer, which is what DRF's rules choose for those. Anything else (a browser asking
    for HTML, a media type nobody renders) goes through DRF unchanged."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> Any:
        # DRF hands over its list of renderer instances, so peeking at the first consumes nothing.
        first = next(iter(renderers), None)
        if first is not None and self._plain(request, format_suffix, first.media_type):
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)

    def _plain(self, request: Request, format_suffix: str | None, media_type: str) -> bool:
        """No format asked for by URL, and an Accept header DRF would answer with `media_type`."""
        if format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE):
            return False
        return request.META.get("HTTP_ACCEPT", "*/*") in ("*/*", media_type)
