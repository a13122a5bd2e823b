"""The only code that touches the products Redis.

Keys: `product:{id}` (hash), `product:index` (all, by creation time), and
`product:idempotency:{sha256(key)}` for 24 hours (common.idempotency).

The module's functions run on the service's Redis (django-redis); ``ProductStore(client)`` runs
the same code on a given client (the benchmarks' seeder batches its writes that way).
"""

import redis

from common.idempotency import Attempt, Recorded, insert_once
from common.store import EntityStore, from_row, to_row
from products.domain import Product


class ProductStore:
    def __init__(self, connection: redis.Redis | None = None) -> None:
        self._entities = EntityStore("product", connection=connection)

    def product_load(self, product_id: str) -> Product | None:
        row = self._entities.load(product_id)
        return from_row(Product, row) if row else None

    def product_insert(self, product: Product, *, score: float, idempotency: Attempt | None = None) -> Recorded | None:
        """common.idempotency.insert_once for a product."""
        return insert_once(self._entities, product.id, to_row(product), score=score, attempt=idempotency)

    def product_save_fields(self, product_id: str, fields: dict[str, str]) -> Product | None:
        row = self._entities.update(product_id, fields)
        return from_row(Product, row) if row else None

    def product_remove(self, product_id: str) -> bool:
        return self._entities.delete(product_id)

    def product_page(self, *, cursor: str | None, limit: int) -> tuple[list[Product], str | None]:
        page = self._entities.page(cursor=cursor, limit=limit)
        return [from_row(Product, row) for row in page.rows], page.next_cursor


_default = ProductStore()
product_load = _default.product_load
product_insert = _default.product_insert
product_save_fields = _default.product_save_fields
product_remove = _default.product_remove
product_page = _default.product_page
