"""Cursor pages over the real Redis when many entities share one creation time."""

import pytest

from common.store import EntityStore, InvalidCursor


@pytest.fixture
def store(raw_redis):
    return EntityStore("thing", connection=raw_redis)


def walk(store, limit):
    seen, cursor = [], None
    for _ in range(100):
        page = store.page(cursor=cursor, limit=limit)
        seen += [row["id"] for row in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 8, 50])
def test_entities_with_the_same_score_are_each_served_once(store, limit):
    ids = [f"id-{n:02d}" for n in range(7)] + ["ïd-non-ascii", "Z-upper"]
    for entity_id in ids:
        store.insert(entity_id, {"id": entity_id}, score=1_000_000.0)
    store.insert("newest", {"id": "newest"}, score=2_000_000.0)
    store.insert("oldest", {"id": "oldest"}, score=500_000.0)

    seen = walk(store, limit)

    tied = sorted(ids, key=lambda i: i.encode(), reverse=True)
    assert seen == ["newest", *tied, "oldest"]


def test_an_index_entry_without_its_hash_is_skipped(store, raw_redis):
    for n in range(4):
        store.insert(f"e{n}", {"id": f"e{n}"}, score=float(n + 1))
    raw_redis.delete("thing:e2")

    assert walk(store, 2) == ["e3", "e1", "e0"]


def test_a_forged_cursor_is_refused(store):
    with pytest.raises(InvalidCursor):
        store.page(cursor="not base64 at all!", limit=5)
