from rest_framework import serializers

from common.api import (
    OutputSerializer,
    PageQuerySerializer,
    StrictIntegerField,
    StrictSerializer,
    StrictUUIDField,
    UtcDateTimeField,
    page_serializer,
)

MAX_QUANTITY = 1_000_000


class InvoiceInputSerializer(StrictSerializer):
    customer_id = StrictUUIDField(format="hex_verbose")
    product_id = StrictUUIDField(format="hex_verbose")
    quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY)


class InvoiceQuerySerializer(PageQuerySerializer):
    customer = StrictUUIDField(required=False, help_text="Only this customer's invoices")


class InvoiceSerializer(OutputSerializer):
    id = serializers.UUIDField(read_only=True)
    customer_id = serializers.UUIDField(read_only=True)
    product_id = serializers.UUIDField(read_only=True)
    quantity = serializers.IntegerField(read_only=True)
    customer_name = serializers.CharField(read_only=True)
    customer_address = serializers.CharField(read_only=True)
    product_name = serializers.CharField(read_only=True)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    total = serializers.DecimalField(max_digits=20, decimal_places=2, read_only=True)
    issued_at = UtcDateTimeField(read_only=True)


InvoicePageSerializer = page_serializer(InvoiceSerializer, "InvoicePage")
