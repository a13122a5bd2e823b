"""OpenAPI additions: the error shape every operation can answer with, documented once."""

from typing import Any

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

COMMON_ERRORS = {
    "400": "Invalid input (the fields say which) or a malformed request",
    "401": "A write without the API token, when one is configured",
    "404": "No such entity",
    "405": "Method not allowed",
    "406": "Not acceptable",
    "413": "Request body too large",
    "415": "Unsupported media type",
    "414": "Request URI too long",
    "503": "Redis or a service this one depends on cannot answer now; retry later",
}
WRITE_ERRORS = {"507": "Redis is at its memory limit and refuses new data (nothing was written)"}
CREATE_ERRORS = {"422": "Idempotency-Key reused with a different request"}
WRITE_METHODS = {"post", "put", "patch"}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            errors = (
                COMMON_ERRORS
                | (WRITE_ERRORS if method in WRITE_METHODS else {})
                | (CREATE_ERRORS if method == "post" else {})
            )
            for status, description in errors.items():
                operation.setdefault("responses", {}).setdefault(
                    status, {"description": description, "content": reference}
                )
    return result
