import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import UUID_PATTERN, page_response, parse_entity_id
from common.errors import FieldInvalid
from invoices import services
from invoices.serializers import (
    InvoiceInputSerializer,
    InvoicePageSerializer,
    InvoiceQuerySerializer,
    InvoiceSerializer,
)

MAX_IDEMPOTENCY_KEY_LENGTH = 200
# Visible ASCII, no spaces: a UUID, a hash or an order number fits, and the key reads the same in
# every log and proxy.
IDEMPOTENCY_KEY = re.compile(rf"[!-~]{{1,{MAX_IDEMPOTENCY_KEY_LENGTH}}}")
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "pattern": f"^{IDEMPOTENCY_KEY.pattern}$", "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH},
    OpenApiParameter.HEADER,
    description="Retrying a POST with the same key returns the first result instead of a second invoice; "
    "the same key with a different request is refused with 422.",
)

REPLAYED_HEADER = OpenApiParameter(
    "Idempotent-Replayed",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[201],
    enum=["true"],
    description="Present when this is the invoice an earlier request with the same Idempotency-Key issued.",
)


class InvoiceViewSet(viewsets.ViewSet):
    """Invoices are immutable: create, read and list only."""

    lookup_value_regex = UUID_PATTERN

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
        parameters=[IDEMPOTENCY_HEADER, REPLAYED_HEADER],
        responses={
            201: InvoiceSerializer,
            422: OpenApiResponse(description="Idempotency-Key already used for a different invoice request"),
        },
    )
    def create(self, request: Request) -> Response:
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise FieldInvalid(
                "Idempotency-Key", f"Must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters, no spaces."
            )
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
