"""Redis at its memory limit: writes get a clear JSON error, nothing is half written, reads go on."""

from collections.abc import Iterator

import pytest
import redis
from drf_spectacular.generators import SchemaGenerator

from tests.conftest import post_json

FILLER_DB = 15


@pytest.fixture
def full_redis(redis_server) -> Iterator[redis.Redis]:
    """The suite's redis-server with a memory limit just above what it holds, then filled to it."""
    admin = redis.Redis.from_url(redis_server.url(FILLER_DB))
    admin.config_set("maxmemory", admin.info("memory")["used_memory"] + 2 * 1024 * 1024)
    try:
        filler = 0
        while filler < 10_000:  # 10 MB at most: the limit is 2 MB away
            try:
                admin.set(f"filler:{filler}", "x" * 1024)
            except redis.exceptions.OutOfMemoryError:
                break
            filler += 1
        else:
            pytest.fail("Redis never reached its memory limit")
        # used_memory moves by a few kilobytes as client buffers come and go; a limit just under
        # what is held keeps the server full for every write of the test.
        admin.config_set("maxmemory", admin.info("memory")["used_memory"] - 64 * 1024)
        yield admin
    finally:
        admin.config_set("maxmemory", 0)


def test_a_write_at_the_memory_limit_is_a_507_and_writes_nothing(api, raw_redis, full_redis):
    before = sorted(raw_redis.keys("*"))

    response = post_json(api, "/api/customers/", {"name": "Ada", "address": "1 Full Road"})

    assert response.status_code == 507
    assert response.json()["error"]["code"] == "storage_full"
    assert "Nothing of this request was written" in response.json()["error"]["message"]
    assert sorted(raw_redis.keys("*")) == before


def test_reads_keep_working_and_writes_resume_once_memory_is_freed(api, raw_redis, full_redis):
    refused = post_json(api, "/api/products/", {"name": "Widget", "unit_price": "2.50"})
    listing = api.get("/api/products/")

    full_redis.flushdb()
    accepted = post_json(api, "/api/products/", {"name": "Widget", "unit_price": "2.50"})

    assert refused.status_code == 507
    assert listing.status_code == 200
    assert listing.json()["results"] == []
    assert accepted.status_code == 201
    assert api.get(f"/api/products/{accepted.json()['id']}/").json()["name"] == "Widget"


def test_the_schema_documents_507_on_writes_only():
    schema = SchemaGenerator(urlconf="config.urls.customers").get_schema(request=None, public=True)

    item = schema["paths"]["/api/customers/{id}/"]
    assert "507" in schema["paths"]["/api/customers/"]["post"]["responses"]
    assert "507" in item["put"]["responses"]
    assert "507" in item["patch"]["responses"]
    assert "507" not in item["get"]["responses"]
