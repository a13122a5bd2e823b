from decimal import Decimal

from rest_framework import serializers

from common.api import OutputSerializer, StrictCharField, StrictSerializer, UtcDateTimeField, page_serializer

MAX_UNIT_PRICE = Decimal("1000000000.00")


class ProductInputSerializer(StrictSerializer):
    name = StrictCharField(max_length=200)
    unit_price = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), max_value=MAX_UNIT_PRICE, coerce_to_string=True
    )


class ProductSerializer(OutputSerializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True, coerce_to_string=True)
    created_at = UtcDateTimeField(read_only=True)
    updated_at = UtcDateTimeField(read_only=True)


ProductPageSerializer = page_serializer(ProductSerializer, "ProductPage")
