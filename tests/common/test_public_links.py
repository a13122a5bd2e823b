"""Links in API responses never come from what the client says the host is."""

from tests.conftest import post_json

URL = "/api/customers/"


def two_customers(api) -> None:
    for name in ("First", "Second"):
        assert post_json(api, URL, {"name": name, "address": "1 Link Road"}).status_code == 201


def test_next_is_relative_and_ignores_a_foreign_host_header(api):
    two_customers(api)

    page = api.get(f"{URL}?limit=1", HTTP_HOST="attacker.example", HTTP_X_FORWARDED_HOST="attacker.example").json()

    assert page["next"].startswith(f"{URL}?")
    assert "attacker" not in page["next"]
    assert f"cursor={page['next_cursor']}" in page["next"]
    assert api.get(page["next"]).json()["results"][0]["name"] == "First"


def test_next_starts_with_the_configured_public_url(api, settings):
    settings.PUBLIC_URL = "https://shop.example.com"
    two_customers(api)

    page = api.get(f"{URL}?limit=1", HTTP_HOST="attacker.example").json()

    assert page["next"].startswith(f"https://shop.example.com{URL}?")
