"""Issuing invoices: validate against customers and products, then one atomic write."""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from common.errors import Conflict, FieldInvalid, NotFound
from common.store import now_score
from invoices import clients, store
from invoices.domain import Invoice

CENT = Decimal("0.01")


@dataclass(frozen=True)
class IssuedInvoice:
    invoice: Invoice
    replayed: bool


def _fingerprint(*, customer_id: str, product_id: str, quantity: int) -> str:
    return hashlib.sha256(f"{customer_id}|{product_id}|{quantity}".encode()).hexdigest()[:32]


def _replay(claim: tuple[str, str], fingerprint: str) -> IssuedInvoice:
    invoice_id, recorded_fingerprint = claim
    if recorded_fingerprint != fingerprint:
        raise Conflict("This Idempotency-Key was already used for a different invoice request.")
    return IssuedInvoice(invoice=invoice_get(invoice_id=invoice_id), replayed=True)


def invoice_create(
    *, customer_id: str, product_id: str, quantity: int, idempotency_key: str | None = None
) -> IssuedInvoice:
    """Issue an invoice, or return the one a request with the same Idempotency-Key issued.

    Unknown customer or product: FieldInvalid naming the field. A dependency that cannot answer:
    ServiceUnavailable. Either way nothing is written.
    """
    fingerprint = _fingerprint(customer_id=customer_id, product_id=product_id, quantity=quantity)
    if idempotency_key is not None and (claim := store.idempotency_claim(idempotency_key)):
        return _replay(claim, fingerprint)

    customer = clients.customer_fetch(customer_id)
    if customer is None:
        raise FieldInvalid("customer_id", "No customer with this id.")
    product = clients.product_fetch(product_id)
    if product is None:
        raise FieldInvalid("product_id", "No product with this id.")

    score = now_score()
    invoice = Invoice(
        id=str(uuid.uuid4()),
        customer_id=customer.id,
        product_id=product.id,
        quantity=quantity,
        customer_name=customer.name,
        customer_address=customer.address,
        product_name=product.name,
        unit_price=product.unit_price.quantize(CENT),
        total=(product.unit_price * quantity).quantize(CENT),
        issued_at=datetime.fromtimestamp(score / 1_000_000, UTC),
    )
    earlier = store.invoice_insert(invoice, score=score, idempotency_key=idempotency_key, fingerprint=fingerprint)
    if earlier is not None:
        return _replay(earlier, fingerprint)
    return IssuedInvoice(invoice=invoice, replayed=False)


def invoice_get(*, invoice_id: str) -> Invoice:
    invoice = store.invoice_load(invoice_id)
    if invoice is None:
        raise NotFound("Invoice not found.")
    return invoice


def invoice_list(*, customer_id: str | None, cursor: str | None, limit: int) -> tuple[list[Invoice], str | None]:
    return store.invoice_page(customer_id=customer_id, cursor=cursor, limit=limit)
