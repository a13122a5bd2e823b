"""What Django's CommonMiddleware gives the APIs: the Host check, Content-Length, the slash redirect."""

import uuid

import pytest

URL = "/api/customers/"


def test_a_host_outside_allowed_hosts_is_a_400(api, settings):
    settings.ALLOWED_HOSTS = ["shop.example"]

    refused = api.get(URL, HTTP_HOST="elsewhere.example")
    served = api.get(URL, HTTP_HOST="shop.example")

    assert refused.status_code == 400
    assert served.status_code == 200


@pytest.mark.parametrize("host", ["bad host", "a/b", "[::1"])
def test_a_malformed_host_is_a_400_even_when_every_host_is_allowed(api, settings, host):
    settings.ALLOWED_HOSTS = ["*"]

    assert api.get(URL, HTTP_HOST=host).status_code == 400


@pytest.mark.parametrize("path", [URL, f"{URL}{uuid.uuid4()}/", "/api/nothing-here/"])
def test_every_response_states_its_length(api, path):
    """gunicorn sends a response without Content-Length chunked."""
    response = api.get(path)

    assert response["Content-Length"] == str(len(response.content))


def test_a_path_without_its_trailing_slash_redirects_to_the_one_with_it(api):
    response = api.get("/api/customers?limit=5")

    assert response.status_code == 301
    assert response["Location"] == "/api/customers/?limit=5"


def test_a_path_without_its_slash_that_names_nothing_either_is_a_404(api):
    assert api.get("/api/nothing-here").status_code == 404
