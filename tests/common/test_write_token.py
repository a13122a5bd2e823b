"""With API_WRITE_TOKEN set, writes need the bearer token; without it nothing changes."""

import pytest

from tests.conftest import post_json

TOKEN = "a-long-random-token"


@pytest.fixture
def token_required(settings):
    settings.API_WRITE_TOKEN = TOKEN


@pytest.fixture
def customer_id(api):
    return post_json(api, "/api/customers/", {"name": "Ada", "address": "x"}).json()["id"]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x"])
def test_writes_without_the_token_are_401_and_change_nothing(
    api, customer_id, token_required, raw_redis, authorization
):
    headers = {"Authorization": authorization} if authorization else {}
    before = raw_redis.hgetall(f"customer:{customer_id}")

    responses = [
        post_json(api, "/api/customers/", {"name": "Eve", "address": "y"}, **headers),
        api.patch(f"/api/customers/{customer_id}/", {"name": "Eve"}, format="json", headers=headers),
        api.put(f"/api/customers/{customer_id}/", {"name": "Eve", "address": "y"}, format="json", headers=headers),
        api.delete(f"/api/customers/{customer_id}/", headers=headers),
    ]

    assert [r.status_code for r in responses] == [401] * 4
    assert {r.json()["error"]["code"] for r in responses} == {"not_authenticated"}
    assert responses[0]["WWW-Authenticate"] == "Bearer"
    assert raw_redis.zcard("customer:index") == 1
    assert raw_redis.hgetall(f"customer:{customer_id}") == before


def test_reads_stay_open_and_writes_with_the_token_work(api, customer_id, token_required):
    assert api.get(f"/api/customers/{customer_id}/").status_code == 200

    response = api.patch(
        f"/api/customers/{customer_id}/",
        {"name": "Ada L."},
        format="json",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Ada L."
