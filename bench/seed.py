"""Bulk data straight into each service's Redis, written by the services' own store functions.

The services' store classes (customers.store.CustomerStore, ...) run unchanged, built on
`BatchedRedis` instead of the service's connection: it queues every per-entity script call
on one pipeline and sends it in large batches. So the keys, hash fields and index layout are
exactly what the services write, and seeding 100k entities takes seconds, not 100k HTTP calls.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import redis

BATCH = 5000
# Invoices of the customer whose invoice list is benchmarked: a fixed number, so its page costs
# the same at every N while the total number of invoices grows around it.
HOT_CUSTOMER_INVOICES = 50


def setup_django() -> None:
    """The stores import Django settings; the test settings hold every app and need no environment."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()


class BatchedRedis:
    """Enough of a redis.Redis for EntityStore.insert without a claim: its script call goes into a
    batch. A queued call cannot load a script Redis does not know yet, so the stores' scripts are
    loaded first."""

    def __init__(self, client: redis.Redis, batch: int = BATCH) -> None:
        from common.store import load_scripts

        load_scripts(client)
        self._pipe = client.pipeline(transaction=False)
        self._batch = batch
        self._queued = 0

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: str | int | float) -> None:
        self._pipe.evalsha(sha, numkeys, *keys_and_args)
        self._queued += 1
        if self._queued >= self._batch:
            self.flush()

    def flush(self) -> None:
        self._pipe.execute()
        self._queued = 0


@contextmanager
def batched(client: redis.Redis) -> Iterator[BatchedRedis]:
    """A BatchedRedis on ``client`` whose last, partial batch is sent on exit."""
    batch = BatchedRedis(client)
    yield batch
    batch.flush()


@dataclass
class Dataset:
    """What has been seeded so far and the ids the scenarios use."""

    customer_ids: list[str] = field(default_factory=list)
    product_ids: list[str] = field(default_factory=list)
    invoices: int = 0
    hot_customer: str = ""
    # Scores go down from here: each new entity is "older", so every score is unique.
    next_score: float = 0.0

    def take_score(self) -> float:
        self.next_score -= 1
        return self.next_score


@dataclass
class Seeder:
    customers_redis: redis.Redis
    products_redis: redis.Redis
    invoices_redis: redis.Redis
    data: Dataset = field(default_factory=Dataset)
    rng: random.Random = field(default_factory=lambda: random.Random(7))  # noqa: S311 (repeatable test data, not secrets)

    def __post_init__(self) -> None:
        from common.store import now_score

        self.data.next_score = now_score() - 1_000_000

    def flush(self) -> None:
        for client in (self.customers_redis, self.products_redis, self.invoices_redis):
            client.flushdb()

    def grow_to(self, n: int) -> None:
        """Bring customers, products and invoices up to n each (the hot customer's invoices included)."""
        self._customers(n - len(self.data.customer_ids))
        self._products(n - len(self.data.product_ids))
        self._invoices(n - self.data.invoices)

    def _issued(self, score: float) -> datetime:
        return datetime.fromtimestamp(score / 1_000_000, UTC)

    def _customers(self, count: int) -> None:
        from customers.domain import Customer
        from customers.store import CustomerStore

        with batched(self.customers_redis) as batch:
            store = CustomerStore(batch)
            for _ in range(max(0, count)):
                score = self.data.take_score()
                at = self._issued(score)
                number = len(self.data.customer_ids)
                customer = Customer(
                    id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                    name=f"Customer {number}",
                    address=f"{number} Benchmark Street, 1000 Loadtown",
                    created_at=at,
                    updated_at=at,
                )
                store.customer_insert(customer, score=score)
                self.data.customer_ids.append(customer.id)
        if not self.data.hot_customer and self.data.customer_ids:
            self.data.hot_customer = self.data.customer_ids[0]

    def _products(self, count: int) -> None:
        from products.domain import Product
        from products.store import ProductStore

        with batched(self.products_redis) as batch:
            store = ProductStore(batch)
            for _ in range(max(0, count)):
                score = self.data.take_score()
                at = self._issued(score)
                number = len(self.data.product_ids)
                product = Product(
                    id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                    name=f"Product {number}",
                    unit_price=Decimal(self.rng.randint(1, 99_999)) / 100,
                    created_at=at,
                    updated_at=at,
                )
                store.product_insert(product, score=score)
                self.data.product_ids.append(product.id)

    def _invoices(self, count: int) -> None:
        from invoices.domain import Invoice
        from invoices.store import InvoiceStore

        cent = Decimal("0.01")
        with batched(self.invoices_redis) as batch:
            store = InvoiceStore(batch)
            for _ in range(max(0, count)):
                score = self.data.take_score()
                # The hot customer is customer 0; everyone else shares the rest at random.
                hot = self.data.invoices < HOT_CUSTOMER_INVOICES
                number = 0 if hot else self.rng.randrange(1, len(self.data.customer_ids))
                customer_id = self.data.customer_ids[number]
                product_id = self.rng.choice(self.data.product_ids)
                unit_price = Decimal(self.rng.randint(1, 99_999)) / 100
                quantity = self.rng.randint(1, 9)
                invoice = Invoice(
                    id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                    customer_id=customer_id,
                    product_id=product_id,
                    quantity=quantity,
                    customer_name=f"Customer {number}",
                    customer_address=f"{number} Benchmark Street, 1000 Loadtown",
                    product_name="Product",
                    unit_price=unit_price.quantize(cent),
                    total=(unit_price * quantity).quantize(cent),
                    issued_at=self._issued(score),
                )
                store.invoice_insert(invoice, score=score)
                self.data.invoices += 1

    def cursor_at(self, fraction: float) -> str:
        """The cursor that opens the customers list at `fraction` of its length (a deep page)."""
        from common.store import encode_cursor

        position = max(0, int(len(self.data.customer_ids) * fraction) - 1)
        [(member, score)] = self.customers_redis.zrevrange("customer:index", position, position, withscores=True)
        return encode_cursor(score, member)
