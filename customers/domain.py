from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    address: str
    created_at: datetime
    updated_at: datetime
