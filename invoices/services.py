"""Issuing invoices: validate against customers and products, then one atomic write."""

import contextvars
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

from common.errors import FieldInvalid, NotFound, ServiceUnavailable
from common.idempotency import Attempt, Created, Recorded, replay
from common.store import now_score
from invoices import clients, store
from invoices.domain import CustomerSnapshot, Invoice, ProductSnapshot

CENT = Decimal("0.01")
# The customer lookup of each POST runs here while the request's own thread asks for the product.
# Threads start on first use, so a worker forked after import gets its own.
_lookups = ThreadPoolExecutor(max_workers=8, thread_name_prefix="invoice-lookup")


def _replay(earlier: Recorded, idempotency: Attempt | None) -> Created[Invoice]:
    return replay(earlier, idempotency, lambda invoice_id: invoice_get(invoice_id=invoice_id), "invoice")


def invoice_create(
    *, customer_id: str, product_id: str, quantity: int, idempotency: Attempt | None = None
) -> Created[Invoice]:
    """Issue an invoice, or return the one a request with the same Idempotency-Key issued.

    Unknown customer or product: FieldInvalid naming the field. A dependency that cannot answer:
    ServiceUnavailable. Either way nothing is written. The key used for a different request: Conflict.
    """
    # A retry is answered before the lookups: they are most of what a POST costs.
    if idempotency is not None and (earlier := store.idempotency_recorded(idempotency)):
        return _replay(earlier, idempotency)

    customer, product = _fetch_both(customer_id, product_id)

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
    earlier = store.invoice_insert(invoice, score=score, idempotency=idempotency)
    if earlier is not None:
        return _replay(earlier, idempotency)
    return Created(invoice)


def _fetch_both(customer_id: str, product_id: str) -> tuple[CustomerSnapshot, ProductSnapshot]:
    """Both lookups at once (a POST waits for the slower one, not for the sum), judged in the order
    a caller expects: the customer's answer first, then the product's."""
    customer_lookup = _lookups.submit(contextvars.copy_context().run, clients.customer_fetch, customer_id)
    product_error: ServiceUnavailable | None = None
    try:
        product = clients.product_fetch(product_id)
    except ServiceUnavailable as exc:
        product_error = exc
    customer = customer_lookup.result()
    if customer is None:
        raise FieldInvalid("customer_id", "No customer with this id.")
    if product_error is not None:
        raise product_error
    if product is None:
        raise FieldInvalid("product_id", "No product with this id.")
    return customer, product


def invoice_get(*, invoice_id: str) -> Invoice:
    invoice = store.invoice_load(invoice_id)
    if invoice is None:
        raise NotFound("Invoice not found.")
    return invoice


def invoice_list(*, customer_id: str | None, cursor: str | None, limit: int) -> tuple[list[Invoice], str | None]:
    return store.invoice_page(customer_id=customer_id, cursor=cursor, limit=limit)
