from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    unit_price: Decimal
    created_at: datetime
    updated_at: datetime
