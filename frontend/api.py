"""The frontend's only way to the data: HTTP calls to the APIs through the gateway (API_URL).

One pooled requests.Session, explicit connect/read timeouts, one retry of idempotent requests
that never reached a server, the current request id passed on, and a log of every call
(status, X-Served-By, X-Service-Version, duration) that the page shows in its footer.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from common import __version__, context

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

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
# Domain objects as the APIs return them
# ------------------------------------------------------------------------------


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    address: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Customer:
        return cls(
            id=data["id"],
            name=data["name"],
            address=data["address"],
            created_at=_when(data["created_at"]),
            updated_at=_when(data["updated_at"]),
        )


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    unit_price: Decimal
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Product:
        return cls(
            id=data["id"],
            name=data["name"],
            unit_price=Decimal(data["unit_price"]),
            created_at=_when(data["created_at"]),
            updated_at=_when(data["updated_at"]),
        )


@dataclass(frozen=True)
class Invoice:
    id: str
    customer_id: str
    product_id: str
    quantity: int
    customer_name: str
    customer_address: str
    product_name: str
    unit_price: Decimal
    total: Decimal
    issued_at: datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Invoice:
        return cls(
            id=data["id"],
            customer_id=data["customer_id"],
            product_id=data["product_id"],
            quantity=int(data["quantity"]),
            customer_name=data["customer_name"],
            customer_address=data["customer_address"],
            product_name=data["product_name"],
            unit_price=Decimal(data["unit_price"]),
            total=Decimal(data["total"]),
            issued_at=_when(data["issued_at"]),
        )


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    results: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class IssuedInvoice:
    invoice: Invoice
    replayed: bool


# ------------------------------------------------------------------------------
# The HTTP client
# ------------------------------------------------------------------------------


class ApiClient:
    def __init__(self, *, base_url: str, connect_timeout: float, read_timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        # Only connection failures are retried here: the gateway already retries idempotent
        # requests on the next task, and a POST that reached a service must never be resent.
        retry = Retry(total=1, connect=1, read=False, status=0, other=0, backoff_factor=0.05, raise_on_status=False)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"frontend/{__version__}"
        self.session.headers["Accept"] = "application/json"
        adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """The response of a 2xx call; anything else raises an ApiError subclass."""
        service = _service_of(path)
        headers = dict(headers or {})
        if request_id := context.request_id.get():
            headers["X-Request-ID"] = request_id
        # When the APIs protect writes with a token, the frontend is a trusted writer.
        if method not in SAFE_METHODS and (token := getattr(settings, "API_WRITE_TOKEN", "")):
            headers["Authorization"] = f"Bearer {token}"
        params = {key: value for key, value in (params or {}).items() if value not in (None, "")}
        shown_path = path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
        started = time.perf_counter()
        try:
            response = self.session.request(
                method, f"{self.base_url}{path}", params=params, json=json, headers=headers, timeout=self.timeout
            )
        except requests.Timeout:
            self._record_failure(method, shown_path, started, "timeout")
            raise ApiUnavailable(
                service, f"The {service} service did not answer within {self.timeout[1]:g} seconds."
            ) from None
        except requests.RequestException as exc:
            self._record_failure(method, shown_path, started, "unreachable")
            logger.warning("%s API unreachable: %r", service, exc)
            raise ApiUnavailable(service, f"The {service} service cannot be reached.") from None
        _record(
            ApiCall(
                method=method,
                path=shown_path,
                status=response.status_code,
                served_by=response.headers.get("X-Served-By", ""),
                version=response.headers.get("X-Service-Version", ""),
                milliseconds=(time.perf_counter() - started) * 1000,
            )
        )
        if response.ok:
            return response
        raise _error_for(service, response)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            service = _service_of(path)
            raise ApiUnavailable(service, f"The {service} service sent an answer that is not JSON.") from None

    @staticmethod
    def _record_failure(method: str, path: str, started: float, problem: str) -> None:
        _record(ApiCall(method, path, None, "", "", (time.perf_counter() - started) * 1000, problem))


def _service_of(path: str) -> str:
    parts = path.strip("/").split("/")
    return parts[1] if len(parts) > 1 and parts[0] == "api" else "API"


def _error_for(service: str, response: requests.Response) -> ApiError:
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


_client: ApiClient | None = None


def client() -> ApiClient:
    global _client  # one pooled session per process
    if _client is None:
        _client = ApiClient(
            base_url=settings.API_URL,
            connect_timeout=settings.HTTP_CONNECT_TIMEOUT,
            read_timeout=settings.HTTP_READ_TIMEOUT,
        )
    return _client


# ------------------------------------------------------------------------------
# One function per API operation the pages need
# ------------------------------------------------------------------------------


def _page(path: str, item: Any, *, cursor: str | None, limit: int, **filters: Any) -> Page[T]:
    body = client().json("GET", path, params={"cursor": cursor, "limit": limit, **filters})
    return Page(results=[item.from_json(row) for row in body["results"]], next_cursor=body.get("next_cursor"))


def customer_list(*, cursor: str | None = None, limit: int = 20) -> Page[Customer]:
    return _page("/api/customers/", Customer, cursor=cursor, limit=limit)


def customer_get(*, customer_id: str) -> Customer:
    return Customer.from_json(client().json("GET", f"/api/customers/{customer_id}/"))


def customer_create(*, name: str, address: str) -> Customer:
    return Customer.from_json(client().json("POST", "/api/customers/", json={"name": name, "address": address}))


def customer_update(*, customer_id: str, name: str, address: str) -> Customer:
    body = client().json("PUT", f"/api/customers/{customer_id}/", json={"name": name, "address": address})
    return Customer.from_json(body)


def customer_delete(*, customer_id: str) -> None:
    client().call("DELETE", f"/api/customers/{customer_id}/")


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
    return Product.from_json(client().json("GET", f"/api/products/{product_id}/"))


def product_create(*, name: str, unit_price: Decimal) -> Product:
    body = client().json("POST", "/api/products/", json={"name": name, "unit_price": str(unit_price)})
    return Product.from_json(body)


def product_update(*, product_id: str, name: str, unit_price: Decimal) -> Product:
    body = client().json("PUT", f"/api/products/{product_id}/", json={"name": name, "unit_price": str(unit_price)})
    return Product.from_json(body)


def invoice_list(*, cursor: str | None = None, limit: int = 20, customer_id: str | None = None) -> Page[Invoice]:
    return _page("/api/invoices/", Invoice, cursor=cursor, limit=limit, customer=customer_id)


def invoice_get(*, invoice_id: str) -> Invoice:
    return Invoice.from_json(client().json("GET", f"/api/invoices/{invoice_id}/"))


def invoice_create(*, customer_id: str, product_id: str, quantity: int, idempotency_key: str) -> IssuedInvoice:
    response = client().call(
        "POST",
        "/api/invoices/",
        json={"customer_id": str(customer_id), "product_id": str(product_id), "quantity": quantity},
        headers={"Idempotency-Key": idempotency_key},
    )
    return IssuedInvoice(
        invoice=Invoice.from_json(response.json()),
        replayed=response.headers.get("Idempotent-Replayed") == "true",
    )
