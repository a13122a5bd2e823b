from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view

from common.api import EntityViewSet, PageQuerySerializer
from common.idempotency import Attempt, Created, create_schema
from products import services
from products.domain import Product
from products.serializers import ProductInputSerializer, ProductPageSerializer, ProductSerializer


@extend_schema_view(
    list=extend_schema(parameters=[PageQuerySerializer], responses=ProductPageSerializer),
    create=create_schema(ProductInputSerializer, ProductSerializer, "product"),
    retrieve=extend_schema(responses=ProductSerializer),
    update=extend_schema(request=ProductInputSerializer, responses=ProductSerializer),
    partial_update=extend_schema(request=ProductInputSerializer, responses=ProductSerializer),
    destroy=extend_schema(responses={204: None}),
)
class ProductViewSet(EntityViewSet):
    output_serializer = ProductSerializer
    input_serializer = ProductInputSerializer

    def service_list(self, *, cursor: str | None, limit: int) -> tuple[list[Product], str | None]:
        return services.product_list(cursor=cursor, limit=limit)

    def service_get(self, entity_id: str) -> Product:
        return services.product_get(product_id=entity_id)

    def service_create(self, data: dict[str, Any], *, idempotency: Attempt | None) -> Created[Product]:
        return services.product_create(**data, idempotency=idempotency)

    def service_update(self, entity_id: str, data: dict[str, Any]) -> Product:
        return services.product_update(product_id=entity_id, **data)

    def service_delete(self, entity_id: str) -> None:
        services.product_delete(product_id=entity_id)
