"""What a client claims about itself in Host and X-Forwarded-* stops at the gateway."""

import pytest

pytestmark = pytest.mark.integration

SPOOFED = {
    "Host": "attacker.example",
    "X-Forwarded-Host": "attacker.example",
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Ssl": "on",
    "X-Forwarded-Protocol": "https",
    "Forwarded": "for=1.2.3.4;host=attacker.example;proto=https",
}


def test_spoofed_forwarding_headers_get_a_normal_json_page_with_a_local_next_link(gateway):
    for name in ("Trust one", "Trust two"):
        created = gateway.post("/api/customers/", json={"name": name, "address": "1 Edge Road"})
        assert created.status_code == 201

    response = gateway.get("/api/customers/?limit=1", headers=SPOOFED)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    page = response.json()
    assert page["next"].startswith("/api/customers/?")
    assert "attacker" not in response.text


def test_spoofed_headers_on_a_write_are_no_html_400(gateway):
    response = gateway.post("/api/products/", json={"name": "Edge", "unit_price": "1.00"}, headers=SPOOFED)

    assert response.status_code == 201
    assert response.headers["Content-Type"].startswith("application/json")
