from rest_framework import serializers

from common.api import OutputSerializer, StrictCharField, StrictSerializer, UtcDateTimeField, page_serializer


class CustomerInputSerializer(StrictSerializer):
    name = StrictCharField(max_length=200)
    address = StrictCharField(max_length=500)


class CustomerSerializer(OutputSerializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    address = serializers.CharField(read_only=True)
    created_at = UtcDateTimeField(read_only=True)
    updated_at = UtcDateTimeField(read_only=True)


CustomerPageSerializer = page_serializer(CustomerSerializer, "CustomerPage")
