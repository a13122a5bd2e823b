"""The only code that touches the products Redis."""

from common.store import EntityStore, from_row, to_row
from products.domain import Product

_entities = EntityStore("product")


def product_load(product_id: str) -> Product | None:
    row = _entities.load(product_id)
    return from_row(Product, row) if row else None


def product_insert(product: Product, *, score: float) -> None:
    _entities.insert(product.id, to_row(product), score=score)


def product_save_fields(product_id: str, fields: dict[str, str]) -> Product | None:
    row = _entities.update(product_id, fields)
    return from_row(Product, row) if row else None


def product_remove(product_id: str) -> bool:
    return _entities.delete(product_id)


def product_page(*, cursor: str | None, limit: int) -> tuple[list[Product], str | None]:
    page = _entities.page(cursor=cursor, limit=limit)
    return [from_row(Product, row) for row in page.rows], page.next_cursor
