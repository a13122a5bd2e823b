"""What the OpenAPI schemas say beyond drf-spectacular's defaults: the write token, strict request
bodies, decimal formats, and the error responses each operation can give, in one error shape."""

import re
from typing import Any

from django.conf import settings
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import SAFE_METHODS

from common.permissions import WriteTokenRequired

SECURITY_SCHEME_NAME = "writeToken"


def schema_pattern(python_pattern: str) -> str:
    """A Python regex anchored with \\A and \\Z as JSON Schema writes it (ECMA anchors), as
    drf-spectacular does for a RegexValidator."""
    return python_pattern.replace(r"\A", "^").replace(r"\Z", "$")


class AutoSchema(openapi.AutoSchema):
    """Writes name the bearer token they need; reads need none. The token check is a permission
    (common.permissions), which drf-spectacular does not read, so it is declared here."""

    def get_auth(self) -> list[dict[str, Any]]:
        needs_token = any(isinstance(permission, WriteTokenRequired) for permission in self.view.get_permissions())
        if self.method in SAFE_METHODS or not needs_token:
            return super().get_auth()
        self.registry.register_on_missing(
            ResolvedComponent(
                name=SECURITY_SCHEME_NAME,
                type=ResolvedComponent.SECURITY_SCHEMA,
                object=WriteTokenRequired,
                schema={
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The API write token: every POST, PUT, PATCH and DELETE sends "
                    "'Authorization: Bearer <token>'.",
                },
            )
        )
        return [{SECURITY_SCHEME_NAME: []}]


class StrictSerializerExtension(OpenApiSerializerExtension):
    """common.api.StrictSerializer refuses fields it does not know: additionalProperties is false."""

    target_class = "common.api.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: openapi.AutoSchema, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}


class StrictDecimalFieldExtension(OpenApiSerializerFieldExtension):
    """common.api.StrictDecimalField's pattern replaces the looser one drf-spectacular derives from
    max_digits and decimal_places."""

    target_class = "common.api.StrictDecimalField"

    def map_serializer_field(self, auto_schema: openapi.AutoSchema, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        return {**schema, "pattern": schema_pattern(self.target.pattern)}


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "example": "validation_error"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {}},
                    "description": "Per-field messages; only on validation errors.",
                },
            },
        }
    },
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying"}}
WWW_AUTHENTICATE = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}


def _body_limit() -> str:
    return f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024} KiB"


def _errors(method: str, *, has_id: bool) -> dict[str, tuple[str, dict[str, Any]]]:
    """Status -> (description, response headers) of the errors one operation can answer with."""
    errors: dict[str, tuple[str, dict[str, Any]]] = {
        "400": ("Invalid input (the fields say which) or a malformed request", {}),
        "406": ("None of the media types in Accept can be served", {}),
        "414": ("Request URI too long (the gateway)", {}),
        "429": ("Too many requests from this client (the gateway's public port)", RETRY_AFTER),
        "502": ("The service behind the gateway is not reachable", {}),
        "503": ("Redis or a service this one depends on cannot answer now; retry later", RETRY_AFTER),
        "504": ("The service behind the gateway did not answer in time", {}),
    }
    if has_id:
        errors["404"] = ("No such entity (an id that is not a UUID names none either)", {})
    if method not in {"get", "head", "options"}:
        errors["401"] = ("No valid API token in 'Authorization: Bearer <token>'", WWW_AUTHENTICATE)
    if method in {"post", "put", "patch"}:
        errors["413"] = (f"Request body larger than {_body_limit()}", {})
        errors["415"] = ("The body is not JSON (Content-Type: application/json)", {})
        errors["507"] = ("Redis is at its memory limit and refuses new data (nothing was written)", {})
    return errors


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the Error component and, on every operation, the errors
    it can give; an error a view declares itself (e.g. 422) gets the Error body too."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            for status, (description, headers) in _errors(method, has_id="{" in path).items():
                response = responses.setdefault(status, {"description": description})
                if headers:
                    response.setdefault("headers", headers)
            for status, response in responses.items():
                if re.fullmatch(r"[45]\d\d", status):
                    response.setdefault("content", content)
    return result
