"""Per-request context that outbound calls and log lines read without threading it through."""

from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="")
