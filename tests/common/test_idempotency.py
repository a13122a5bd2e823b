"""Idempotency-Key on the create POST of every service: a client that sends a POST again gets the
first entity back, never a second one; the same key with another body is refused."""

import hashlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import redis
import requests

from common.idempotency import fingerprint
from tests.conftest import CUSTOMERS_DB, IN_PROCESS_DB, PRODUCTS_DB, post_json
from tests.processes import WRITE


@dataclass(frozen=True)
class Creation:
    """One service's create POST: a body, another body, and the service under gunicorn with its Redis."""

    kind: str
    body: dict
    different_body: dict
    live_url: str
    live_redis: redis.Redis

    @property
    def path(self) -> str:
        return f"/api/{self.kind}s/"

    @property
    def index(self) -> str:
        return f"{self.kind}:index"


@pytest.fixture(params=["customer", "product", "invoice"])
def creation(request, redis_server, use_live_services) -> Creation:
    def on(db: int) -> redis.Redis:
        return redis.Redis.from_url(redis_server.url(db), decode_responses=True)

    if request.param == "customer":
        body = {"name": "Ada Lovelace", "address": "12 Analytical Row"}
        return Creation(
            "customer",
            body,
            {**body, "address": "13 Analytical Row"},
            use_live_services["customers"].url,
            on(CUSTOMERS_DB),
        )
    if request.param == "product":
        body = {"name": "Ceramic mug", "unit_price": "0.10"}
        return Creation(
            "product", body, {**body, "unit_price": "0.11"}, use_live_services["products"].url, on(PRODUCTS_DB)
        )
    customer, product = request.getfixturevalue("customer"), request.getfixturevalue("product")
    body = {"customer_id": customer["id"], "product_id": product["id"], "quantity": 2}
    return Creation(
        "invoice", body, {**body, "quantity": 5}, request.getfixturevalue("live_server_invoices"), on(IN_PROCESS_DB)
    )


def test_same_key_returns_the_first_entity(api, creation, raw_redis):
    first = post_json(api, creation.path, creation.body, **{"Idempotency-Key": "order-42"})
    retry = post_json(api, creation.path, creation.body, **{"Idempotency-Key": "order-42"})

    assert first.status_code == retry.status_code == 201, retry.content
    assert retry.json() == first.json()
    assert "Idempotent-Replayed" not in first
    assert retry["Idempotent-Replayed"] == "true"
    assert raw_redis.zcard(creation.index) == 1


def test_other_keys_and_no_key_create_new_entities(api, creation, raw_redis):
    post_json(api, creation.path, creation.body, **{"Idempotency-Key": "order-42"})
    post_json(api, creation.path, creation.body, **{"Idempotency-Key": "order-43"})
    post_json(api, creation.path, creation.body)
    post_json(api, creation.path, creation.body)

    assert raw_redis.zcard(creation.index) == 4


def test_same_key_with_a_different_body_is_refused(api, creation, raw_redis):
    first = post_json(api, creation.path, creation.body, **{"Idempotency-Key": "order-43"})

    response = post_json(api, creation.path, creation.different_body, **{"Idempotency-Key": "order-43"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "conflict"
    assert creation.kind in response.json()["error"]["message"]
    assert raw_redis.zrange(creation.index, 0, -1) == [first.json()["id"]]


def test_the_key_is_kept_for_24_hours_with_the_entity(api, creation, raw_redis):
    post_json(api, creation.path, creation.body, **{"Idempotency-Key": "order-44"})

    (claim,) = raw_redis.keys(f"{creation.kind}:idempotency:*")
    assert 24 * 3600 - 60 < raw_redis.ttl(claim) <= 24 * 3600
    assert "order-44" not in claim, "the key is stored hashed"


def test_concurrent_posts_with_one_key_make_one_entity(creation):
    def send(_):
        return requests.post(
            creation.live_url + creation.path,
            json=creation.body,
            headers={**WRITE, "Idempotency-Key": "burst"},
            timeout=10,
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(send, range(16)))

    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert creation.live_redis.zcard(creation.index) == 1


@pytest.mark.parametrize("key", ["k" * 201, "order 42", "ordre-\u00e9t\u00e9", "\t", ""])
def test_a_key_outside_visible_ascii_or_too_long_is_400(api, creation, raw_redis, key):
    response = post_json(api, creation.path, creation.body, **{"Idempotency-Key": key})

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]
    assert raw_redis.dbsize() == 0


def test_a_malformed_key_is_named_before_the_body(api, creation):
    response = post_json(api, creation.path, {}, **{"Idempotency-Key": "two words"})

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["Idempotency-Key"]


def test_bodies_that_differ_only_in_where_a_bar_falls_are_different_requests(api, raw_redis):
    post_json(api, "/api/customers/", {"name": "a|b", "address": "c"}, **{"Idempotency-Key": "bar"})

    response = post_json(api, "/api/customers/", {"name": "a", "address": "b|c"}, **{"Idempotency-Key": "bar"})

    assert response.status_code == 422


def test_an_invoice_key_recorded_by_the_previous_release_still_replays():
    # Until customers and products read the key, invoices fingerprinted "<customer>|<product>|<quantity>".
    customer, product = "6f1c0f0e-4a34-4a55-9d5e-0c8f1b1d2e3f", "0b6a7d1c-2e3f-4a5b-8c9d-0e1f2a3b4c5d"
    before = hashlib.sha256(f"{customer}|{product}|3".encode()).hexdigest()[:32]

    assert fingerprint([uuid.UUID(customer), uuid.UUID(product), 3]) == before
