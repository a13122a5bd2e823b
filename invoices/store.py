"""The only code that touches the invoices Redis.

Keys: `invoice:{id}` (hash), `invoice:index` (all, by issue time), `invoice:customer:{id}`
(one customer's invoices, so filtering by customer never scans), and
`invoice:idempotency:{sha256(key)}` -> "<invoice id> <request fingerprint>" for 24 hours.

The module's functions run on the service's Redis (django-redis); ``InvoiceStore(client)`` runs
the same code on a given client (the benchmarks' seeder batches its writes that way).
"""

import hashlib
import typing

import redis

from common.store import Claim, EntityStore, from_row, to_row
from invoices.domain import Invoice

IDEMPOTENCY_TTL_SECONDS = 24 * 3600


def _customer_index(customer_id: str) -> str:
    return f"invoice:customer:{customer_id}"


def _idempotency_key(key: str) -> str:
    return f"invoice:idempotency:{hashlib.sha256(key.encode()).hexdigest()}"


def _parse_claim(value: str) -> tuple[str, str]:
    invoice_id, fingerprint = value.split(" ", 1)
    return invoice_id, fingerprint


class InvoiceStore:
    def __init__(self, connection: redis.Redis | None = None) -> None:
        self._entities = EntityStore("invoice", connection=connection)

    def invoice_load(self, invoice_id: str) -> Invoice | None:
        row = self._entities.load(invoice_id)
        return from_row(Invoice, row) if row else None

    def idempotency_claim(self, key: str) -> tuple[str, str] | None:
        """(invoice id, request fingerprint) recorded under an Idempotency-Key, if any."""
        value = typing.cast("str | None", self._entities.redis.get(_idempotency_key(key)))
        return _parse_claim(value) if value else None

    def invoice_insert(
        self, invoice: Invoice, *, score: float, idempotency_key: str | None, fingerprint: str
    ) -> tuple[str, str] | None:
        """Write the invoice and its index entries in one transaction.

        With an idempotency key already recorded (by an earlier or a concurrent request), nothing is
        written and that request's (invoice id, fingerprint) is returned; None means this one was written.
        """
        claim = None
        if idempotency_key is not None:
            claim = Claim(
                key=_idempotency_key(idempotency_key),
                value=f"{invoice.id} {fingerprint}",
                ttl_seconds=IDEMPOTENCY_TTL_SECONDS,
            )
        holder = self._entities.insert(
            invoice.id,
            to_row(invoice),
            score=score,
            extra_indexes=[_customer_index(invoice.customer_id)],
            claim=claim,
        )
        return _parse_claim(holder) if holder else None

    def invoice_page(
        self, *, customer_id: str | None, cursor: str | None, limit: int
    ) -> tuple[list[Invoice], str | None]:
        index_key = _customer_index(customer_id) if customer_id else None
        page = self._entities.page(index_key=index_key, cursor=cursor, limit=limit)
        return [from_row(Invoice, row) for row in page.rows], page.next_cursor


_default = InvoiceStore()
invoice_load = _default.invoice_load
idempotency_claim = _default.idempotency_claim
invoice_insert = _default.invoice_insert
invoice_page = _default.invoice_page
