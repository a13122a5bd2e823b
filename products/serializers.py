from decimal import Decimal

from rest_framework import serializers

from common.api import (
    OutputSerializer,
    StrictCharField,
    StrictDecimalField,
    StrictSerializer,
    UtcDateTimeField,
    page_serializer,
)

MAX_UNIT_PRICE = Decimal("1000000000.00")
# 0 to MAX_UNIT_PRICE with up to 2 decimals, no sign, exponent or leading zero: "0", "9.5", "1000000000.00".
UNIT_PRICE_PATTERN = r"\A(?:(?:0|[1-9][0-9]{0,8})(?:\.[0-9]{1,2})?|1000000000(?:\.00?)?)\Z"


class ProductInputSerializer(StrictSerializer):
    name = StrictCharField(max_length=200)
    unit_price = StrictDecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=MAX_UNIT_PRICE,
        pattern=UNIT_PRICE_PATTERN,
        help_text="A decimal string: 0 to 1000000000.00, at most 2 decimals",
    )


class ProductSerializer(OutputSerializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True, coerce_to_string=True)
    created_at = UtcDateTimeField(read_only=True)
    updated_at = UtcDateTimeField(read_only=True)


ProductPageSerializer = page_serializer(ProductSerializer, "ProductPage")
