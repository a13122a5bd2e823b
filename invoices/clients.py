"""The customers and products services, as invoices sees them (in a deployment: through the gateway).

A 404 is an answer (no such entity); anything unusable is ServiceUnavailable, and a service that
keeps failing is not called for a few seconds (its circuit breaker) so invoice POSTs fail at once.
"""

import logging
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from django.conf import settings

from common.circuit import CircuitBreaker
from common.errors import ServiceUnavailable
from common.http import CircuitOpen, HttpClient, NoAnswer
from invoices.domain import CustomerSnapshot, ProductSnapshot

logger = logging.getLogger(__name__)


@cache
def _client(target: str, base_url: str) -> HttpClient:
    return HttpClient(
        target=target,
        base_url=base_url,
        connect_timeout=settings.HTTP_CONNECT_TIMEOUT,
        read_timeout=settings.HTTP_READ_TIMEOUT,
        # Connection failures only (the core's rule): a 502/503/504 comes from the gateway after
        # it has tried every task it could (proxy_next_upstream); asking again would multiply
        # those attempts, not add a chance.
        retries=settings.HTTP_GET_RETRIES,
        breaker=CircuitBreaker(
            failure_threshold=settings.CIRCUIT_FAILURE_THRESHOLD, reset_seconds=settings.CIRCUIT_RESET_SECONDS
        ),
    )


def _get_json(target: str, base_url: str, path: str) -> dict[str, Any] | None:
    """The JSON body of a 200, None for a 404; ServiceUnavailable for anything else."""
    try:
        response = _client(target, base_url).request("GET", path)
    except CircuitOpen:
        raise ServiceUnavailable(
            f"The {target} service is failing; calls are paused for a few seconds. Nothing was saved."
        ) from None
    except NoAnswer as error:
        raise _unavailable(target, error.detail) from None
    if response.status_code == 404:
        return None
    if response.status_code == 200:
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            problem = "answered with a body that is not JSON"
        else:
            return body
    else:
        problem = f"answered HTTP {response.status_code}"
    # The core logs calls that got no answer; these got one that is of no use.
    logger.warning("%s service %s", target, problem, extra={"target": target})
    raise _unavailable(target, problem)


def _unavailable(target: str, what: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"The {target} service {what}; nothing was saved. Try again shortly.")


def customer_fetch(customer_id: str) -> CustomerSnapshot | None:
    body = _get_json("customers", settings.CUSTOMERS_URL, f"/api/customers/{customer_id}/")
    if body is None:
        return None
    try:
        return CustomerSnapshot(id=str(body["id"]), name=str(body["name"]), address=str(body["address"]))
    except (KeyError, TypeError):
        raise ServiceUnavailable("The customers service answered with an unexpected body; nothing was saved.") from None


def product_fetch(product_id: str) -> ProductSnapshot | None:
    body = _get_json("products", settings.PRODUCTS_URL, f"/api/products/{product_id}/")
    if body is None:
        return None
    try:
        return ProductSnapshot(id=str(body["id"]), name=str(body["name"]), unit_price=Decimal(body["unit_price"]))
    except (KeyError, TypeError, InvalidOperation):
        raise ServiceUnavailable("The products service answered with an unexpected body; nothing was saved.") from None
