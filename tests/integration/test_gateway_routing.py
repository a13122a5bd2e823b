"""What a user sees at the gateway: routes, errors, headers, hidden internals."""

import pytest
import requests

from ops.services import API_SERVICES

pytestmark = pytest.mark.integration


def assert_json_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_gateway_answers_its_own_health_check(gateway):
    response = gateway.get("/gateway-health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("service", API_SERVICES)
def test_each_api_prefix_reaches_its_own_service(gateway, service):
    listing = gateway.get(f"/api/{service}/")
    schema = gateway.get(f"/api/{service}/schema/", params={"format": "json"})

    assert listing.status_code == 200
    assert isinstance(listing.json()["results"], list)
    assert schema.status_code == 200
    assert schema.json()["info"]["title"].lower().startswith(service)


@pytest.mark.parametrize("service", API_SERVICES)
def test_swagger_docs_render_through_the_gateway(gateway, service):
    response = gateway.get(f"/api/{service}/docs/")

    assert response.status_code == 200
    assert "text/html" in response.headers["Content-Type"]


def test_everything_else_goes_to_the_frontend(gateway, local_system):
    response = gateway.get("/")

    assert local_system.with_frontend
    assert response.status_code == 200
    assert "text/html" in response.headers["Content-Type"]


@pytest.mark.parametrize("path", ["/api/", "/api/unknown/", "/api/customersx/", "/api/v2/customers/"])
def test_unknown_api_paths_are_json_404(gateway, path):
    assert_json_error(gateway.get(path), 404, "not_found")


def test_unknown_id_is_the_services_json_404(gateway):
    response = gateway.get("/api/customers/00000000-0000-4000-8000-000000000000/")

    assert_json_error(response, 404, "not_found")


@pytest.mark.parametrize("endpoint", ["healthz", "readyz", "metrics"])
@pytest.mark.parametrize("prefix", ["", "/api/customers", "/api/products", "/api/invoices", "/static", "/x/y"])
def test_internal_endpoints_are_not_reachable(gateway, local_system, prefix, endpoint):
    for path in (f"{prefix}/{endpoint}", f"{prefix}/{endpoint}/", f"{prefix}/{endpoint.upper()}"):
        assert_json_error(gateway.get(path), 404, "not_found")
    percent_encoded = f"{prefix}/%{ord(endpoint[0]):x}{endpoint[1:]}"
    assert_json_error(gateway.get(percent_encoded), 404, "not_found")


def test_internal_endpoints_do_exist_on_the_services_themselves(local_system):
    # Guards the test above: it must be the gateway hiding them, not their absence.
    response = requests.get(f"http://127.0.0.1:{local_system.ports.customers}/healthz", timeout=5)

    assert response.status_code == 200


def test_body_over_one_megabyte_is_rejected_with_json_413(gateway):
    response = gateway.post(
        "/api/customers/", data=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json"}
    )

    assert_json_error(response, 413, "payload_too_large")
    assert gateway.get("/api/customers/").status_code == 200


def test_request_id_is_returned_once_and_reaches_the_service(gateway):
    response = gateway.get("/api/customers/", headers={"X-Request-ID": "routing-test-1"})

    assert response.raw.headers.getlist("X-Request-ID") == ["routing-test-1"]
    [line] = gateway.log_lines_for("routing-test-1")
    assert line["status"] == 200
    assert line["upstream_addr"]


def test_request_id_is_made_when_the_client_sends_none(gateway):
    first = gateway.get("/api/products/")
    second = gateway.get("/api/products/")

    assert first.headers["X-Request-ID"]
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


@pytest.mark.parametrize("path", ["/api/customers/", "/api/unknown/", "/gateway-health"])
def test_security_headers_appear_exactly_once(gateway, path):
    headers = gateway.get(path).raw.headers

    assert headers.getlist("X-Content-Type-Options") == ["nosniff"]
    assert headers.getlist("X-Frame-Options") == ["DENY"]
    assert headers.getlist("Referrer-Policy") == ["same-origin"]
    assert headers.getlist("Cross-Origin-Opener-Policy") == ["same-origin"]
    assert len(headers.getlist("X-Request-ID")) == 1
    assert headers["Server"] == "nginx"


BROWSER_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy")


@pytest.mark.parametrize("path", ["/api/customers/", "/api/unknown/", "/"])
def test_the_internal_listener_sends_no_headers_only_browsers_use(gateway, path):
    """No browser reaches it; its clients (invoices' lookups, the frontend's API calls) would
    parse each of these on every answer. The service's own headers and the request id stay."""
    public = gateway.session.get(gateway.url + path, timeout=15)
    internal = gateway.session.get(gateway.system.internal_url + path, timeout=15)

    assert public.status_code == internal.status_code
    for name in BROWSER_HEADERS:
        assert name in public.headers
        assert name not in internal.headers
    assert len(internal.raw.headers.getlist("X-Request-ID")) == 1
    if path == "/api/customers/":
        assert internal.headers["X-Served-By"]


def test_service_headers_pass_through(gateway):
    response = gateway.get("/api/invoices/")

    assert response.headers["X-Served-By"]
    assert response.headers["X-Service-Version"]


def test_access_log_is_one_json_object_per_request(gateway):
    gateway.get("/api/products/", params={"limit": "1"}, headers={"X-Request-ID": "log-shape-1"})

    [line] = gateway.log_lines_for("log-shape-1")
    assert line["method"] == "GET"
    assert line["uri"] == "/api/products/?limit=1"
    assert line["status"] == 200
    assert line["upstream_status"] == "200"
    assert isinstance(line["request_time"], float | int)
    for key in ("time", "upstream_addr", "upstream_response_time", "bytes_sent"):
        assert key in line


def test_unsafe_request_id_is_replaced_consistently(gateway):
    response = gateway.get("/api/customers/", headers={"X-Request-ID": "bad id with spaces"})

    request_id = response.headers["X-Request-ID"]
    assert request_id != "bad id with spaces"
    assert [line["status"] for line in gateway.log_lines_for(request_id)] == [200]


def test_very_long_uri_is_json_414(gateway):
    assert_json_error(gateway.get("/api/customers/" + "a" * 10_000), 414, "uri_too_long")
