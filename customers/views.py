from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view

from common.api import EntityViewSet, PageQuerySerializer
from common.idempotency import Attempt, Created, create_schema
from customers import services
from customers.domain import Customer
from customers.serializers import CustomerInputSerializer, CustomerPageSerializer, CustomerSerializer


@extend_schema_view(
    list=extend_schema(parameters=[PageQuerySerializer], responses=CustomerPageSerializer),
    create=create_schema(CustomerInputSerializer, CustomerSerializer, "customer"),
    retrieve=extend_schema(responses=CustomerSerializer),
    update=extend_schema(request=CustomerInputSerializer, responses=CustomerSerializer),
    partial_update=extend_schema(request=CustomerInputSerializer, responses=CustomerSerializer),
    destroy=extend_schema(responses={204: None}),
)
class CustomerViewSet(EntityViewSet):
    output_serializer = CustomerSerializer
    input_serializer = CustomerInputSerializer

    def service_list(self, *, cursor: str | None, limit: int) -> tuple[list[Customer], str | None]:
        return services.customer_list(cursor=cursor, limit=limit)

    def service_get(self, entity_id: str) -> Customer:
        return services.customer_get(customer_id=entity_id)

    def service_create(self, data: dict[str, Any], *, idempotency: Attempt | None) -> Created[Customer]:
        return services.customer_create(**data, idempotency=idempotency)

    def service_update(self, entity_id: str, data: dict[str, Any]) -> Customer:
        return services.customer_update(customer_id=entity_id, **data)

    def service_delete(self, entity_id: str) -> None:
        services.customer_delete(customer_id=entity_id)
