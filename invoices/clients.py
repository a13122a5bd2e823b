"""The customers and products services, as invoices sees them (in a deployment: through the gateway)."""

from decimal import Decimal, InvalidOperation
from functools import cache

from django.conf import settings

from common.errors import ServiceUnavailable
from common.http import ServiceClient
from invoices.domain import CustomerSnapshot, ProductSnapshot


@cache
def _client(name: str, base_url: str) -> ServiceClient:
    return ServiceClient(name=name, base_url=base_url)


def customer_fetch(customer_id: str) -> CustomerSnapshot | None:
    body = _client("customers", settings.CUSTOMERS_URL).get_json(f"/api/customers/{customer_id}/")
    if body is None:
        return None
    try:
        return CustomerSnapshot(id=str(body["id"]), name=str(body["name"]), address=str(body["address"]))
    except (KeyError, TypeError):
        raise ServiceUnavailable("The customers service answered with an unexpected body; nothing was saved.") from None


def product_fetch(product_id: str) -> ProductSnapshot | None:
    body = _client("products", settings.PRODUCTS_URL).get_json(f"/api/products/{product_id}/")
    if body is None:
        return None
    try:
        return ProductSnapshot(id=str(body["id"]), name=str(body["name"]), unit_price=Decimal(body["unit_price"]))
    except (KeyError, TypeError, InvalidOperation):
        raise ServiceUnavailable("The products service answered with an unexpected body; nothing was saved.") from None
