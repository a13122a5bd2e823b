"""The output serializers render exactly what DRF's own Serializer renders for the same object."""

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from common.api import OutputSerializer
from customers.domain import Customer
from customers.serializers import CustomerSerializer
from invoices.domain import Invoice
from invoices.serializers import InvoiceSerializer


def drf_twin(serializer_class: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The same declared fields on a plain DRF Serializer, with DRF's default DateTimeField."""
    fields = {
        name: serializers.DateTimeField(read_only=True) if isinstance(field, serializers.DateTimeField) else field
        for name, field in serializer_class._declared_fields.items()
    }
    return type(f"Plain{serializer_class.__name__}", (serializers.Serializer,), fields)


ISSUED = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)
INVOICE = Invoice(
    id=str(uuid.uuid4()),
    customer_id=str(uuid.uuid4()),
    product_id=str(uuid.uuid4()),
    quantity=3,
    customer_name="Ada",
    customer_address="12 Analytical Row\nLondon",
    product_name="Mug",
    unit_price=Decimal("0.10"),
    total=Decimal("0.30"),
    issued_at=ISSUED,
)


@pytest.mark.parametrize(
    "moment",
    [ISSUED, datetime(2026, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2))), datetime(1999, 12, 31, 23, 59, 59)],
)
def test_a_customer_renders_like_drf(moment):
    customer = Customer(id=str(uuid.uuid4()), name="Grace", address="x", created_at=moment, updated_at=ISSUED)

    assert CustomerSerializer(customer).data == drf_twin(CustomerSerializer)(customer).data


def test_a_page_of_invoices_renders_like_drf():
    page = [INVOICE] * 3

    assert InvoiceSerializer(page, many=True).data == drf_twin(InvoiceSerializer)(page, many=True).data
    assert InvoiceSerializer(INVOICE).data["issued_at"] == "2026-03-01T12:30:05.123456Z"
    assert InvoiceSerializer(INVOICE).data["unit_price"] == "0.10"


def test_none_stays_none():
    customer = Customer(id=str(uuid.uuid4()), name="Grace", address=None, created_at=ISSUED, updated_at=ISSUED)

    assert CustomerSerializer(customer).data["address"] is None


def test_a_field_reading_another_attribute_is_refused():
    class Renamed(OutputSerializer):
        label = serializers.CharField(source="name", read_only=True)

    with pytest.raises(ImproperlyConfigured, match="label"):
        Renamed().to_representation(Customer(id="1", name="n", address="a", created_at=ISSUED, updated_at=ISSUED))
