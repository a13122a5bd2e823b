from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import UUID_PATTERN, page_response, parse_entity_id
from common.idempotency import attempt_for, create_schema, header_key, response_headers
from invoices import services
from invoices.serializers import (
    InvoiceInputSerializer,
    InvoicePageSerializer,
    InvoiceQuerySerializer,
    InvoiceSerializer,
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

    @create_schema(InvoiceInputSerializer, InvoiceSerializer, "invoice")
    def create(self, request: Request) -> Response:
        key = header_key(request)
        payload = InvoiceInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        issued = services.invoice_create(
            customer_id=str(payload.validated_data["customer_id"]),
            product_id=str(payload.validated_data["product_id"]),
            quantity=payload.validated_data["quantity"],
            idempotency=attempt_for(key, payload.validated_data),
        )
        return Response(
            InvoiceSerializer(issued.entity).data, status=status.HTTP_201_CREATED, headers=response_headers(issued)
        )

    @extend_schema(responses=InvoiceSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(InvoiceSerializer(services.invoice_get(invoice_id=parse_entity_id(pk))).data)
