"""The gateway passes only the HTTP methods the services answer; any other stops at nginx."""

import secrets
import string

import pytest

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("path", ["/api/customers/", "/api/invoices/", "/"])
def test_a_made_up_method_is_a_json_405_from_the_gateway(gateway, path):
    # nginx takes any method of capital letters; anything else is already a 400.
    method = "".join(secrets.choice(string.ascii_uppercase) for _ in range(12))

    response = gateway.request(method, path)

    assert response.status_code == 405
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    assert "X-Served-By" not in response.headers
    [line] = gateway.log_lines_for(response.headers["X-Request-ID"])
    assert line["status"] == 405
    assert line["upstream_addr"] == ""


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_the_methods_the_services_answer_still_reach_them(gateway, method):
    response = gateway.request(method, "/api/customers/")

    assert response.status_code == 200
    assert response.headers["X-Served-By"]


def test_a_services_own_405_keeps_its_one_allow_header(gateway):
    response = gateway.request("DELETE", "/api/customers/")

    assert response.status_code == 405
    assert response.headers["X-Served-By"]
    assert response.raw.headers.getlist("Allow") == ["GET, POST, HEAD, OPTIONS"]
