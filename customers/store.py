"""The only code that touches the customers Redis.

Keys: `customer:{id}` (hash), `customer:index` (all, by creation time), and
`customer:idempotency:{sha256(key)}` for 24 hours (common.idempotency).

The module's functions run on the service's Redis (django-redis); ``CustomerStore(client)`` runs
the same code on a given client (the benchmarks' seeder batches its writes that way).
"""

import redis

from common.idempotency import Attempt, Recorded, insert_once
from common.store import EntityStore, from_row, to_row
from customers.domain import Customer


class CustomerStore:
    def __init__(self, connection: redis.Redis | None = None) -> None:
        self._entities = EntityStore("customer", connection=connection)

    def customer_load(self, customer_id: str) -> Customer | None:
        row = self._entities.load(customer_id)
        return from_row(Customer, row) if row else None

    def customer_insert(
        self, customer: Customer, *, score: float, idempotency: Attempt | None = None
    ) -> Recorded | None:
        """common.idempotency.insert_once for a customer."""
        return insert_once(self._entities, customer.id, to_row(customer), score=score, attempt=idempotency)

    def customer_save_fields(self, customer_id: str, fields: dict[str, str]) -> Customer | None:
        row = self._entities.update(customer_id, fields)
        return from_row(Customer, row) if row else None

    def customer_remove(self, customer_id: str) -> bool:
        return self._entities.delete(customer_id)

    def customer_page(self, *, cursor: str | None, limit: int) -> tuple[list[Customer], str | None]:
        page = self._entities.page(cursor=cursor, limit=limit)
        return [from_row(Customer, row) for row in page.rows], page.next_cursor


_default = CustomerStore()
customer_load = _default.customer_load
customer_insert = _default.customer_insert
customer_save_fields = _default.customer_save_fields
customer_remove = _default.customer_remove
customer_page = _default.customer_page
