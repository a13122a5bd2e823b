"""The products API: prices are exact decimals with two places, never negative."""

import pytest

from tests.conftest import post_json

URL = "/api/products/"


def test_price_is_returned_with_two_places(api):
    response = post_json(api, URL, {"name": "Mug", "unit_price": "9.5"})

    assert response.status_code == 201
    assert response.json()["unit_price"] == "9.50"
    assert api.get(f"{URL}{response.json()['id']}/").json()["unit_price"] == "9.50"


def test_free_products_are_allowed(api):
    response = post_json(api, URL, {"name": "Sticker", "unit_price": "0"})

    assert response.status_code == 201
    assert response.json()["unit_price"] == "0.00"


def test_patch_changes_the_price_only(api):
    product = post_json(api, URL, {"name": "Kettle", "unit_price": "42.00"}).json()

    patched = api.patch(f"{URL}{product['id']}/", {"unit_price": "39.99"}, format="json")

    assert patched.status_code == 200
    assert patched.json()["unit_price"] == "39.99"
    assert patched.json()["name"] == "Kettle"


def test_list_shows_newest_first(api):
    names = ["A", "B", "C"]
    for name in names:
        post_json(api, URL, {"name": name, "unit_price": "1.00"})

    assert [row["name"] for row in api.get(URL).json()["results"]] == ["C", "B", "A"]


@pytest.mark.parametrize(
    "price",
    ["-0.01", "-1", "1.005", "abc", "", None, "NaN", "Infinity", "1e400", "10000000000.00", True, [1],
     "1000000000.01", "1e3", "+1", "-0", "007", " 1.50", "1.50 ", "1.", ".5", "1,50", 1.5, 2],
)  # fmt: skip
def test_bad_prices_are_400(api, raw_redis, price):
    response = post_json(api, URL, {"name": "Widget", "unit_price": price})

    assert response.status_code == 400
    assert "unit_price" in response.json()["error"]["fields"]
    assert raw_redis.dbsize() == 0


@pytest.mark.parametrize(("price", "stored"), [("0", "0.00"), ("0.05", "0.05"), ("1000000000", "1000000000.00"),
                                             ("1000000000.00", "1000000000.00"), ("12.5", "12.50")])  # fmt: skip
def test_prices_written_as_the_schema_says_are_accepted(api, price, stored):
    response = post_json(api, URL, {"name": "Widget", "unit_price": price})

    assert response.status_code == 201, response.content
    assert response.json()["unit_price"] == stored


def test_delete_then_get_is_404(api):
    product = post_json(api, URL, {"name": "Filter", "unit_price": "4.75"}).json()

    assert api.delete(f"{URL}{product['id']}/").status_code == 204
    assert api.get(f"{URL}{product['id']}/").json()["error"]["code"] == "not_found"
