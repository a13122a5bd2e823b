"""The frontend's only way to the data: HTTP calls to the APIs through the gateway (API_URL).

The calls go through the shared client core (common.http): one pooled session, explicit
connect/read timeouts, the current request id passed on. This module turns answers into the
apps' own domain objects and failures into ApiError, and logs every call (status, X-Served-By,
X-Service-Version, duration) for the page footer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar, get_type_hints

from django.conf import settings

from common.http import SAFE_METHODS, Answer, HttpClient, NoAnswer, TimedOut
from customers.domain import Customer
from invoices.domain import Invoice
from products.domain import Product

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# ------------------------------------------------------------------------------
# Errors the views turn into field errors, banners or 404 pages
# ------------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, service: str, message: str) -> None:
        super().__init__(message)
        self.service = service
        self.message = message


class ApiUnavailable(ApiError):
    """The service could not answer now (down, overloaded, too slow); the page shows a banner."""


class ApiNotFound(ApiError):
    pass


class ApiValidationError(ApiError):
    def __init__(self, service: str, message: str, fields: dict[str, list[str]]) -> None:
        super().__init__(service, message)
        self.fields = fields


class ApiRejected(ApiError):
    """Any other 4xx: the request was understood and refused (e.g. an Idempotency-Key conflict)."""


# ------------------------------------------------------------------------------
# What the page footer shows
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiCall:
    method: str
    path: str
    status: int | None
    served_by: str
    version: str
    milliseconds: float
    problem: str = ""


api_calls: ContextVar[list[ApiCall] | None] = ContextVar("api_calls", default=None)


def _record(call: ApiCall) -> None:
    calls = api_calls.get()
    if calls is not None:
        calls.append(call)


# ------------------------------------------------------------------------------
# The shapes the pages render: the apps' own domain dataclasses, read from the APIs' JSON
# ------------------------------------------------------------------------------

T = TypeVar("T", bound="DataclassInstance")

_READERS: dict[Any, Callable[[Any], Any]] = {
    str: str,
    int: int,
    Decimal: Decimal,
    datetime: lambda value: datetime.fromisoformat(value.replace("Z", "+00:00")),
}


@cache
def _field_readers(kind: type[DataclassInstance]) -> dict[str, Callable[[Any], Any]]:
    hints = get_type_hints(kind)
    return {field.name: _READERS[hints[field.name]] for field in fields(kind)}


def _from_json(kind: type[T], data: dict[str, Any]) -> T:
    """A domain object from its API representation: each field is read as its annotation says."""
    return kind(**{name: read(data[name]) for name, read in _field_readers(kind).items()})


@dataclass(frozen=True)
class Page(Generic[T]):
    results: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class Created(Generic[T]):
    """What a create POST answered; replayed when an earlier POST with its Idempotency-Key made it."""

    entity: T
    replayed: bool


# ------------------------------------------------------------------------------
# Calls through the gateway
# ------------------------------------------------------------------------------


# Connection failures only: nothing was sent, and the gateway itself retries on the next task.
GATEWAY_CONNECT_RETRIES = 1


@cache
def _gateway(*, write: bool) -> HttpClient:
    """One pooled session per process for reads, one for writes (the gateway waits longer for a
    write, so the frontend does too). Only connection failures are retried, once: the gateway
    already retries idempotent requests on the next task. No circuit breaker: one client serves
    all three APIs, and a page must name the one service that is down, not pause the others."""
    return HttpClient(
        target="gateway",
        base_url=settings.API_URL,
        connect_timeout=settings.HTTP_CONNECT_TIMEOUT,
        read_timeout=settings.HTTP_WRITE_TIMEOUT if write else settings.HTTP_READ_TIMEOUT,
        retries=GATEWAY_CONNECT_RETRIES,
    )


def _call(
    method: str,
    path: str,
    *,
    params: dict[str, str | int | None] | None = None,
    json: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    token: str | None = None,
) -> Answer:
    """The response of a 2xx call; anything else raises an ApiError subclass. A write carries
    `token`, which the views take from frontend.auth.api_token_for (signed-in operators only)."""
    service = _service_of(path)
    if method not in SAFE_METHODS:
        if not token:
            raise PermissionError(f"{method} {path} needs the API token of a signed-in operator")
        headers = {**(headers or {}), "Authorization": f"Bearer {token}"}
    sent = {key: value for key, value in (params or {}).items() if value not in (None, "")}
    shown_path = path + ("?" + "&".join(f"{k}={v}" for k, v in sent.items()) if sent else "")
    started = time.perf_counter()
    try:
        response = _gateway(write=method not in SAFE_METHODS).request(
            method, path, params=sent, json=json, headers=headers
        )
    except TimedOut as error:
        _record(ApiCall(method, shown_path, None, "", "", _since(started), "timeout"))
        message = f"The {service} service did not answer within {error.seconds:g} seconds."
        raise ApiUnavailable(service, message) from None
    except NoAnswer:
        _record(ApiCall(method, shown_path, None, "", "", _since(started), "unreachable"))
        raise ApiUnavailable(service, f"The {service} service cannot be reached.") from None
    _record(
        ApiCall(
            method=method,
            path=shown_path,
            status=response.status_code,
            served_by=response.headers.get("X-Served-By", ""),
            version=response.headers.get("X-Service-Version", ""),
            milliseconds=_since(started),
        )
    )
    if response.ok:
        return response
    raise _error_for(service, response)


def _json(method: str, path: str, **kwargs: Any) -> Any:
    return _parsed(_call(method, path, **kwargs), path)


def _parsed(response: Answer, path: str) -> Any:
    try:
        return response.json()
    except ValueError:
        service = _service_of(path)
        raise ApiUnavailable(service, f"The {service} service sent an answer that is not JSON.") from None


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _service_of(path: str) -> str:
    parts = path.strip("/").split("/")
    return parts[1] if len(parts) > 1 and parts[0] == "api" else "API"


def _error_for(service: str, response: Answer) -> ApiError:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    message = error.get("message") if isinstance(error, dict) else None
    status = response.status_code
    if status >= 500:
        explanation = f" {message}" if message else ""
        return ApiUnavailable(service, f"The {service} service is unavailable right now (HTTP {status}).{explanation}")
    if status == 404:
        return ApiNotFound(service, message or "Not found.")
    if status == 400 and error.get("code") == "validation_error":
        return ApiValidationError(service, message or "Invalid input.", error.get("fields") or {})
    if status == 429:
        return ApiUnavailable(service, f"The {service} service is busy; try again in a moment.")
    return ApiRejected(service, message or f"The {service} service refused the request (HTTP {status}).")


# ------------------------------------------------------------------------------
# One function per API operation the pages need
# ------------------------------------------------------------------------------


def _page(path: str, kind: type[T], *, cursor: str | None, limit: int, **filters: str | None) -> Page[T]:
    body = _json("GET", path, params={"cursor": cursor, "limit": limit, **filters})
    return Page(results=[_from_json(kind, row) for row in body["results"]], next_cursor=body.get("next_cursor"))


def customer_list(*, cursor: str | None = None, limit: int = 20) -> Page[Customer]:
    return _page("/api/customers/", Customer, cursor=cursor, limit=limit)


def customer_get(*, customer_id: str) -> Customer:
    return _from_json(Customer, _json("GET", f"/api/customers/{customer_id}/"))


def customer_create(*, token: str, name: str, address: str, idempotency_key: str) -> Created[Customer]:
    body = {"name": name, "address": address}
    return _create("/api/customers/", Customer, body, token=token, idempotency_key=idempotency_key)


def customer_update(*, token: str, customer_id: str, name: str, address: str) -> Customer:
    body = _json("PUT", f"/api/customers/{customer_id}/", json={"name": name, "address": address}, token=token)
    return _from_json(Customer, body)


def customer_delete(*, token: str, customer_id: str) -> None:
    _call("DELETE", f"/api/customers/{customer_id}/", token=token)


def product_list(*, cursor: str | None = None, limit: int = 20) -> Page[Product]:
    return _page("/api/products/", Product, cursor=cursor, limit=limit)


def product_choices(*, max_pages: int = 5) -> list[Product]:
    """Products for a select box: newest first, at most max_pages pages of 100."""
    products: list[Product] = []
    cursor = None
    for _ in range(max_pages):
        page = product_list(cursor=cursor, limit=100)
        products.extend(page.results)
        cursor = page.next_cursor
        if not cursor:
            break
    return products


def product_get(*, product_id: str) -> Product:
    return _from_json(Product, _json("GET", f"/api/products/{product_id}/"))


def product_create(*, token: str, name: str, unit_price: Decimal, idempotency_key: str) -> Created[Product]:
    body = {"name": name, "unit_price": str(unit_price)}
    return _create("/api/products/", Product, body, token=token, idempotency_key=idempotency_key)


def product_update(*, token: str, product_id: str, name: str, unit_price: Decimal) -> Product:
    price = str(unit_price)
    body = _json("PUT", f"/api/products/{product_id}/", json={"name": name, "unit_price": price}, token=token)
    return _from_json(Product, body)


def invoice_list(*, cursor: str | None = None, limit: int = 20, customer_id: str | None = None) -> Page[Invoice]:
    return _page("/api/invoices/", Invoice, cursor=cursor, limit=limit, customer=customer_id)


def invoice_get(*, invoice_id: str) -> Invoice:
    return _from_json(Invoice, _json("GET", f"/api/invoices/{invoice_id}/"))


def invoice_create(
    *, token: str, customer_id: str, product_id: str, quantity: int, idempotency_key: str
) -> Created[Invoice]:
    body = {"customer_id": str(customer_id), "product_id": str(product_id), "quantity": quantity}
    return _create("/api/invoices/", Invoice, body, token=token, idempotency_key=idempotency_key)


def _create(path: str, cls: type[T], body: dict[str, Any], *, token: str, idempotency_key: str) -> Created[T]:
    """POST under the form's Idempotency-Key: the same form sent twice creates one entity."""
    response = _call("POST", path, json=body, headers={"Idempotency-Key": idempotency_key}, token=token)
    return Created(
        entity=_from_json(cls, _parsed(response, path)),
        replayed=response.headers.get("Idempotent-Replayed") == "true",
    )
