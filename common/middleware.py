"""Per-request context: request id, served-by and version headers, metrics and one JSON log line."""

import logging
import re
import secrets
import time
from collections.abc import Callable

import redis.exceptions
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from common import context, metrics
from common.errors import STORAGE_DOWN_MESSAGE, json_error

logger = logging.getLogger("request")

# Accept a caller's id only when it is short and plain, so it is safe in headers and logs.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def incoming_request_id(request: HttpRequest) -> str:
    # META, not request.headers: that builds a dict of every header on first use.
    candidate = request.META.get("HTTP_X_REQUEST_ID", "")
    # 32 random hex digits, as uuid4().hex gave, without building a UUID object for each request.
    return candidate if _VALID_REQUEST_ID.match(candidate) else secrets.token_hex(16)


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # Fixed for the life of the process; each read through django.conf.settings costs a
        # Python-level attribute lookup on every request.
        self.served_by = settings.SERVED_BY
        self.service_version = settings.SERVICE_VERSION

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = incoming_request_id(request)
        token = context.request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            context.request_id.reset(token)
        response["X-Request-ID"] = request_id
        response["X-Served-By"] = self.served_by
        response["X-Service-Version"] = self.service_version
        self._record(request, response, request_id, time.perf_counter() - started)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Views outside DRF (health, frontend) get the same 503 as the API when Redis is down."""
        if isinstance(exception, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
            logger.warning("redis unavailable: %s", exception)
            return json_error("service_unavailable", STORAGE_DOWN_MESSAGE, 503)
        return None

    @staticmethod
    def _record(request: HttpRequest, response: HttpResponse, request_id: str, seconds: float) -> None:
        match = getattr(request, "resolver_match", None)
        # URL names ("customer-detail") keep the label set small and free of ids and regexes.
        route = (match.view_name or match.route) if match is not None else "unmatched"
        method = request.method if request.method in metrics.KNOWN_METHODS else "other"
        metrics.labelled(metrics.REQUESTS, method, route, str(response.status_code)).inc()
        metrics.labelled(metrics.REQUEST_SECONDS, method, route).observe(seconds)
        if route in {"healthz", "readyz", "metrics"}:
            return
        logger.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 2),
            },
        )
