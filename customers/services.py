"""Rules and writes for customers."""

import uuid
from datetime import UTC, datetime

from common.errors import NotFound
from common.idempotency import Attempt, Created, replay
from common.store import now_score
from customers import store
from customers.domain import Customer


def customer_create(*, name: str, address: str, idempotency: Attempt | None = None) -> Created[Customer]:
    """Create a customer, or return the one a request with the same Idempotency-Key created.

    That key used for a different request: Conflict. The earlier customer deleted since: NotFound.
    """
    score = now_score()
    created_at = datetime.fromtimestamp(score / 1_000_000, UTC)
    customer = Customer(id=str(uuid.uuid4()), name=name, address=address, created_at=created_at, updated_at=created_at)
    earlier = store.customer_insert(customer, score=score, idempotency=idempotency)
    if earlier is not None:
        return replay(earlier, idempotency, lambda customer_id: customer_get(customer_id=customer_id), "customer")
    return Created(customer)


def customer_get(*, customer_id: str) -> Customer:
    customer = store.customer_load(customer_id)
    if customer is None:
        raise NotFound("Customer not found.")
    return customer


def customer_update(*, customer_id: str, name: str | None = None, address: str | None = None) -> Customer:
    fields = {key: value for key, value in (("name", name), ("address", address)) if value is not None}
    fields["updated_at"] = datetime.now(UTC).isoformat()
    customer = store.customer_save_fields(customer_id, fields)
    if customer is None:
        raise NotFound("Customer not found.")
    return customer


def customer_delete(*, customer_id: str) -> None:
    if not store.customer_remove(customer_id):
        raise NotFound("Customer not found.")


def customer_list(*, cursor: str | None, limit: int) -> tuple[list[Customer], str | None]:
    return store.customer_page(cursor=cursor, limit=limit)
