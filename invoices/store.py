"""The only code that touches the invoices Redis.

Keys: `invoice:{id}` (hash), `invoice:index` (all, by issue time), `invoice:customer:{id}`
(one customer's invoices, so filtering by customer never scans), and
`invoice:idempotency:{sha256(key)}` for 24 hours (common.idempotency).

The module's functions run on the service's Redis (django-redis); ``InvoiceStore(client)`` runs
the same code on a given client (the benchmarks' seeder batches its writes that way).
"""

import typing

import redis

from common.idempotency import Attempt, Recorded, claim_key, insert_once
from common.store import EntityStore, from_row, to_row
from invoices.domain import Invoice


def _customer_index(customer_id: str) -> str:
    return f"invoice:customer:{customer_id}"


class InvoiceStore:
    def __init__(self, connection: redis.Redis | None = None) -> None:
        self._entities = EntityStore("invoice", connection=connection)

    def invoice_load(self, invoice_id: str) -> Invoice | None:
        row = self._entities.load(invoice_id)
        return from_row(Invoice, row) if row else None

    def idempotency_recorded(self, idempotency: Attempt) -> Recorded | None:
        """What an earlier request with this Idempotency-Key recorded, if any."""
        value = typing.cast("str | None", self._entities.redis.get(claim_key(self._entities.kind, idempotency.key)))
        return Recorded.parse(value) if value else None

    def invoice_insert(self, invoice: Invoice, *, score: float, idempotency: Attempt | None = None) -> Recorded | None:
        """common.idempotency.insert_once for an invoice, also in its customer's index."""
        return insert_once(
            self._entities,
            invoice.id,
            to_row(invoice),
            score=score,
            attempt=idempotency,
            extra_indexes=[_customer_index(invoice.customer_id)],
        )

    def invoice_page(
        self, *, customer_id: str | None, cursor: str | None, limit: int
    ) -> tuple[list[Invoice], str | None]:
        index_key = _customer_index(customer_id) if customer_id else None
        page = self._entities.page(index_key=index_key, cursor=cursor, limit=limit)
        return [from_row(Invoice, row) for row in page.rows], page.next_cursor


_default = InvoiceStore()
invoice_load = _default.invoice_load
idempotency_recorded = _default.idempotency_recorded
invoice_insert = _default.invoice_insert
invoice_page = _default.invoice_page
