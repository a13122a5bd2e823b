"""The customers API as a client sees it, in process against the suite's real Redis."""

import pytest

from tests.conftest import post_json

URL = "/api/customers/"


def create(api, name="Ada Lovelace", address="12 Analytical Row"):
    response = post_json(api, URL, {"name": name, "address": address})
    assert response.status_code == 201, response.content
    return response.json()


def test_create_then_get_returns_the_same_customer(api):
    created = create(api)
    assert set(created) == {"id", "name", "address", "created_at", "updated_at"}

    fetched = api.get(f"{URL}{created['id']}/")

    assert fetched.status_code == 200
    assert fetched.json() == created


def test_put_replaces_and_patch_changes_one_field(api):
    customer = create(api)
    url = f"{URL}{customer['id']}/"

    replaced = api.put(url, {"name": "Grace", "address": "3 Compiler Lane"}, format="json")
    patched = api.patch(url, {"address": "4 Compiler Lane"}, format="json")

    assert replaced.status_code == 200
    assert patched.status_code == 200
    assert patched.json()["name"] == "Grace"
    assert patched.json()["address"] == "4 Compiler Lane"
    assert patched.json()["created_at"] == customer["created_at"]
    assert patched.json()["updated_at"] > customer["updated_at"]
    assert api.get(url).json() == patched.json()


def test_put_needs_every_field(api):
    customer = create(api)

    response = api.put(f"{URL}{customer['id']}/", {"name": "Only a name"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"address": ["This field is required."]}


def test_delete_removes_it_from_get_and_list(api):
    customer = create(api)

    assert api.delete(f"{URL}{customer['id']}/").status_code == 204
    assert api.get(f"{URL}{customer['id']}/").status_code == 404
    assert api.get(URL).json()["results"] == []
    assert api.delete(f"{URL}{customer['id']}/").status_code == 404


def test_update_of_a_deleted_customer_does_not_bring_it_back(api, raw_redis):
    customer = create(api)
    api.delete(f"{URL}{customer['id']}/")

    response = api.patch(f"{URL}{customer['id']}/", {"name": "Ghost"}, format="json")

    assert response.status_code == 404
    assert not raw_redis.exists(f"customer:{customer['id']}")


def test_list_pages_newest_first_without_gaps_or_repeats(api):
    created_ids = [create(api, name=f"Customer {n}")["id"] for n in range(25)]

    seen, url = [], f"{URL}?limit=10"
    while url:
        body = api.get(url).json()
        assert len(body["results"]) <= 10
        seen += [row["id"] for row in body["results"]]
        url = body["next"]

    assert seen == list(reversed(created_ids))


def test_list_is_stable_when_entities_are_added_between_pages(api):
    first_ids = [create(api, name=f"Old {n}")["id"] for n in range(6)]
    first_page = api.get(f"{URL}?limit=3").json()
    create(api, name="Newcomer")

    second_page = api.get(f"{URL}?limit=3&cursor={first_page['next_cursor']}").json()

    assert [row["id"] for row in second_page["results"]] == list(reversed(first_ids))[3:]


def test_limit_is_capped(api):
    for n in range(3):
        create(api, name=f"C{n}")

    response = api.get(f"{URL}?limit=100000")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=-1",
        "limit=abc",
        "cursor=%%%",
        "cursor=bm90LWEtY3Vyc29y",
        "cursor=%20",
        "cursor=a%0A",
        "limit=+5",
        "limit=5.0",
        "limit=%D9%A5",
    ],
)
def test_bad_list_parameters_are_400(api, query):
    response = api.get(f"{URL}?{query}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("customer_id", ["not-a-uuid", "123", "00000000-0000-0000-0000-000000000000"])
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_unknown_or_malformed_ids_are_404(api, customer_id, method):
    response = getattr(api, method)(f"{URL}{customer_id}/", {"name": "x", "address": "y"}, format="json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"address": "x"}, "name"),
        ({"name": "", "address": "x"}, "name"),
        ({"name": "   ", "address": "x"}, "name"),
        ({"name": "x" * 201, "address": "x"}, "name"),
        ({"name": 42, "address": "x"}, "name"),
        ({"name": ["a"], "address": "x"}, "name"),
        ({"name": None, "address": "x"}, "name"),
        ({"name": "x", "address": "y", "id": "forced"}, "id"),
        ({"name": "nul\x00byte", "address": "y"}, "name"),
        ({"name": "x", "address": "y" * 501}, "address"),
        ({"name": " " + "x" * 200, "address": "y"}, "name"),
        ({"name": "\u3000\u2028\x1f", "address": "y"}, "name"),
    ],
)
def test_invalid_bodies_are_400_naming_the_field(api, body, field, raw_redis):
    response = post_json(api, URL, body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert raw_redis.dbsize() == 0


def test_surrounding_whitespace_is_removed_and_the_limit_counts_what_was_sent(api):
    customer = create(api, name="  Ada  ", address="x" * 499 + "\n")

    assert customer["name"] == "Ada"
    assert customer["address"] == "x" * 499


def test_an_id_is_a_hyphenated_uuid_in_either_case(api):
    customer_id = create(api)["id"]

    assert api.get(f"{URL}{customer_id.upper()}/").status_code == 200
    assert api.get(f"{URL}{customer_id.replace('-', '')}/").status_code == 404
    assert api.get(f"{URL}{{{customer_id}}}/").status_code == 404


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "parse_error"),
        (b"", "application/json", 400, "validation_error"),
        (b"[1, 2]", "application/json", 400, "validation_error"),
        (b'"a string"', "application/json", 400, "validation_error"),
        (b"name=x&address=y", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"\xff\xfe\x00garbage", "application/json", 400, "parse_error"),
    ],
)
def test_malformed_requests_get_a_clear_4xx(api, raw, content_type, status, code, raw_redis):
    response = api.generic("POST", URL, raw, content_type=content_type)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert raw_redis.dbsize() == 0


def test_a_10_mb_string_is_refused_with_413(api, raw_redis):
    response = post_json(api, URL, {"name": "x" * (10 * 1024 * 1024), "address": "y"})

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert raw_redis.dbsize() == 0


def test_method_not_allowed_is_json(api):
    response = api.post(f"{URL}00000000-0000-0000-0000-000000000000/", {}, format="json")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_every_response_names_request_server_and_version(api):
    response = api.get(URL, headers={"X-Request-ID": "trace-abc-123"})

    assert response["X-Request-ID"] == "trace-abc-123"
    assert response["X-Served-By"]
    assert response["X-Service-Version"]


def test_unsafe_request_ids_are_replaced(api):
    response = api.get(URL, headers={"X-Request-ID": "bad id\twith spaces"})

    assert response["X-Request-ID"] != "bad id\twith spaces"
    assert len(response["X-Request-ID"]) == 32


def test_browsable_api_renders_html(api):
    response = api.get(URL, headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert b"<html" in response.content
