"""Rules and writes for products."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from common.errors import NotFound
from common.idempotency import Attempt, Created, replay
from common.store import now_score
from products import store
from products.domain import Product


def product_create(*, name: str, unit_price: Decimal, idempotency: Attempt | None = None) -> Created[Product]:
    """Create a product, or return the one a request with the same Idempotency-Key created.

    That key used for a different request: Conflict. The earlier product deleted since: NotFound.
    """
    score = now_score()
    created_at = datetime.fromtimestamp(score / 1_000_000, UTC)
    product = Product(
        id=str(uuid.uuid4()), name=name, unit_price=unit_price, created_at=created_at, updated_at=created_at
    )
    earlier = store.product_insert(product, score=score, idempotency=idempotency)
    if earlier is not None:
        return replay(earlier, idempotency, lambda product_id: product_get(product_id=product_id), "product")
    return Created(product)


def product_get(*, product_id: str) -> Product:
    product = store.product_load(product_id)
    if product is None:
        raise NotFound("Product not found.")
    return product


def product_update(*, product_id: str, name: str | None = None, unit_price: Decimal | None = None) -> Product:
    fields = {key: str(value) for key, value in (("name", name), ("unit_price", unit_price)) if value is not None}
    fields["updated_at"] = datetime.now(UTC).isoformat()
    product = store.product_save_fields(product_id, fields)
    if product is None:
        raise NotFound("Product not found.")
    return product


def product_delete(*, product_id: str) -> None:
    if not store.product_remove(product_id):
        raise NotFound("Product not found.")


def product_list(*, cursor: str | None, limit: int) -> tuple[list[Product], str | None]:
    return store.product_page(cursor=cursor, limit=limit)
