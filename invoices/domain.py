from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class CustomerSnapshot:
    id: str
    name: str
    address: str


@dataclass(frozen=True)
class ProductSnapshot:
    id: str
    name: str
    unit_price: Decimal


@dataclass(frozen=True)
class Invoice:
    """Immutable: carries what the customer and product were when it was issued."""

    id: str
    customer_id: str
    product_id: str
    quantity: int
    customer_name: str
    customer_address: str
    product_name: str
    unit_price: Decimal
    total: Decimal
    issued_at: datetime
