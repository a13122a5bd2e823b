"""The only code that touches the customers Redis."""

from common.store import EntityStore, from_row, to_row
from customers.domain import Customer

_entities = EntityStore("customer")


def customer_load(customer_id: str) -> Customer | None:
    row = _entities.load(customer_id)
    return from_row(Customer, row) if row else None


def customer_insert(customer: Customer, *, score: float) -> None:
    _entities.insert(customer.id, to_row(customer), score=score)


def customer_save_fields(customer_id: str, fields: dict[str, str]) -> Customer | None:
    row = _entities.update(customer_id, fields)
    return from_row(Customer, row) if row else None


def customer_remove(customer_id: str) -> bool:
    return _entities.delete(customer_id)


def customer_page(*, cursor: str | None, limit: int) -> tuple[list[Customer], str | None]:
    page = _entities.page(cursor=cursor, limit=limit)
    return [from_row(Customer, row) for row in page.rows], page.next_cursor
