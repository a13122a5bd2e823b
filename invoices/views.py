from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import page_response, parse_entity_id
from common.errors import FieldInvalid
from invoices import services
from invoices.serializers import (
    InvoiceInputSerializer,
    InvoicePageSerializer,
    InvoiceQuerySerializer,
    InvoiceSerializer,
)

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Retrying a POST with the same key returns the first result instead of a second invoice.",
)
MAX_IDEMPOTENCY_KEY_LENGTH = 200


class InvoiceViewSet(viewsets.ViewSet):
    """Invoices are immutable: create, read and list only."""

    lookup_value_regex = "[^/]+"

    @extend_schema(parameters=[InvoiceQuerySerializer], responses=InvoicePageSerializer)
    def list(self, request: Request) -> Response:
        query = InvoiceQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        customer = query.validated_data.get("customer")
        invoices, next_cursor = services.invoice_list(
            customer_id=str(customer) if customer else None,
            cursor=query.validated_data.get("cursor") or None,
            limit=query.validated_data["limit"],
        )
        return page_response(request, invoices, next_cursor, InvoiceSerializer)

    @extend_schema(
        request=InvoiceInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: InvoiceSerializer},
    )
    def create(self, request: Request) -> Response:
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
            raise FieldInvalid("Idempotency-Key", f"Must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters.")
        payload = InvoiceInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        issued = services.invoice_create(
            customer_id=str(payload.validated_data["customer_id"]),
            product_id=str(payload.validated_data["product_id"]),
            quantity=payload.validated_data["quantity"],
            idempotency_key=idempotency_key,
        )
        headers = {"Idempotent-Replayed": "true"} if issued.replayed else {}
        return Response(InvoiceSerializer(issued.invoice).data, status=status.HTTP_201_CREATED, headers=headers)

    @extend_schema(responses=InvoiceSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(InvoiceSerializer(services.invoice_get(invoice_id=parse_entity_id(pk))).data)
