"""One family of application errors and the single place that turns any error into JSON.

Every 4xx/5xx body has the shape {"error": {"code", "message", "fields"?}}; "fields" appears
only on validation errors and maps a field name to its messages.
"""

import logging
from typing import Any

import redis.exceptions
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    status_code: int = status.HTTP_400_BAD_REQUEST
    code: str = "bad_request"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class FieldInvalid(ApplicationError):
    """A business rule failed on one field (e.g. an invoice's customer does not exist)."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "validation_error"

    def __init__(self, field: str, message: str) -> None:
        super().__init__("Invalid input.", fields={field: [message]})


class Conflict(ApplicationError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "conflict"


class ServiceUnavailable(ApplicationError):
    """A dependency (our Redis, another service) cannot answer now; retrying later may work."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "service_unavailable"


STORAGE_DOWN_MESSAGE = "The service's database (Redis) is unreachable; try again shortly."
STORAGE_FULL_MESSAGE = (
    "The service's database (Redis) is full: it refuses new data until an operator frees or adds "
    "memory. Nothing of this request was written; reads still work."
)

_DRF_CODES = {
    exceptions.ParseError: "parse_error",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
}


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields is not None:
        error["fields"] = fields
    return {"error": error}


def _validation_fields(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return detail
    return {"non_field_errors": detail if isinstance(detail, list) else [detail]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: map every known error to the project's JSON error shape."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        status_code, body = exc.status_code, error_body(exc.code, exc.message, exc.fields)
    elif isinstance(exc, exceptions.ValidationError):
        status_code = status.HTTP_400_BAD_REQUEST
        body = error_body("validation_error", "Invalid input.", _validation_fields(exc.detail))
    elif isinstance(exc, exceptions.NotAuthenticated):
        # DRF turns this into 403 when no authenticator names a scheme; the write token's scheme is Bearer.
        status_code = status.HTTP_401_UNAUTHORIZED
        body = error_body("not_authenticated", str(exc.detail))
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
        body = error_body(code, str(exc.detail))
        # Throttled carries the seconds to wait (its stubs do not declare the attribute).
        wait = getattr(exc, "wait", None)
        if wait:
            headers["Retry-After"] = str(int(wait))
    elif isinstance(exc, Http404):
        status_code, body = status.HTTP_404_NOT_FOUND, error_body("not_found", "Not found.")
    elif isinstance(exc, PermissionDenied):
        status_code, body = status.HTTP_403_FORBIDDEN, error_body("permission_denied", "Permission denied.")
    elif isinstance(exc, RequestDataTooBig):
        status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        body = error_body("payload_too_large", "The request body is too large.")
    elif isinstance(exc, redis.exceptions.OutOfMemoryError):
        # Redis's maxmemory with noeviction: the whole transaction was refused, so nothing is half
        # written. Not transient (no Retry-After): it lasts until an operator acts, so log it loudly.
        logger.error("redis refuses writes at its memory limit: %s", exc)
        status_code = status.HTTP_507_INSUFFICIENT_STORAGE
        body = error_body("storage_full", STORAGE_FULL_MESSAGE)
    elif isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        logger.warning("redis unavailable: %s", exc)
        status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        body = error_body("service_unavailable", STORAGE_DOWN_MESSAGE)
    else:
        return None
    if status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        headers["Retry-After"] = "1"
    if status_code == status.HTTP_401_UNAUTHORIZED:
        headers["WWW-Authenticate"] = "Bearer"
    set_rollback()
    return Response(body, status=status_code, headers=headers)


def json_error(code: str, message: str, status_code: int) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error("bad_request", "Bad request.", 400)


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error("permission_denied", "Permission denied.", 403)


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error("not_found", "Not found.", 404)


def handler500(request: HttpRequest) -> JsonResponse:
    return json_error("internal_error", "Internal server error; it has been logged.", 500)
