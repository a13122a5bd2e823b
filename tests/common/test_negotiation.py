"""The negotiation shortcut chooses what DRF's own negotiation chooses."""

import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from common.negotiation import JsonFirstNegotiation

RENDERERS = [JSONRenderer(), BrowsableAPIRenderer()]


def chosen(negotiation, accept: str | None, query: str = "") -> tuple[type, str]:
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/api/customers/{query}", **headers))
    renderer, media_type = negotiation.select_renderer(request, RENDERERS)
    return type(renderer), media_type


@pytest.mark.parametrize(
    ("accept", "query"),
    [
        (None, ""),
        ("*/*", ""),
        ("application/json", ""),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", ""),
        ("application/json; indent=4", ""),
        ("*/*", "?format=api"),
        (None, "?format=json"),
    ],
)
def test_the_choice_is_drfs_own(accept, query):
    assert chosen(JsonFirstNegotiation(), accept, query) == chosen(DefaultContentNegotiation(), accept, query)


def test_a_browser_still_gets_the_browsable_api():
    assert chosen(JsonFirstNegotiation(), "text/html,*/*;q=0.8")[0] is BrowsableAPIRenderer
