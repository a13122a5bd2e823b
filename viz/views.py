"""The page, its JSON and the readiness check. All reads go through viz.snapshot / viz.engine."""

from typing import TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from common.errors import json_error
from viz import engine
from viz.snapshot import ACTIVE_STATES, Snapshot, snapshot_get

Response = TypeVar("Response", bound=HttpResponse)


def _retry_soon(response: Response) -> Response:
    response["Retry-After"] = "1"
    return response


@require_GET
@never_cache
def board(request: HttpRequest) -> HttpResponse:
    """The live board; rendered server-side too, so it works (with a meta refresh) without JavaScript."""
    snapshot: Snapshot | None = None
    error = None
    try:
        snapshot = snapshot_get()
    except engine.EngineUnavailable as exc:
        error = exc.message
    response = render(
        request,
        "viz/board.html",
        {
            "snapshot": snapshot,
            "error": error,
            "active_states": ACTIVE_STATES,
            "poll_ms": settings.VIZ_POLL_MILLISECONDS,
        },
        status=503 if error else 200,
    )
    return _retry_soon(response) if error else response


@require_GET
@never_cache
def state(request: HttpRequest) -> JsonResponse:
    try:
        snapshot = snapshot_get()
    except engine.EngineUnavailable as exc:
        return _retry_soon(json_error(exc.code, exc.message, exc.status_code))
    return JsonResponse(snapshot.as_json())


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when the engine answers and can tell us about the swarm (it is a manager)."""
    try:
        info = engine.engine_info()
    except engine.EngineUnavailable as exc:
        return _retry_soon(JsonResponse({"status": "unavailable", "engine": exc.message}, status=503))
    if not (info.get("Swarm") or {}).get("ControlAvailable"):
        message = "The Docker engine is reachable but is not a swarm manager: run viz on a manager node."
        return _retry_soon(JsonResponse({"status": "unavailable", "engine": message}, status=503))
    return JsonResponse({"status": "ready", "engine": "ok"})
