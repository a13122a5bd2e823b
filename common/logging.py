"""Log records as one JSON object per line, with the current request id when there is one."""

import json
import logging
import time

from django.conf import settings

from common import context

_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

# What every LogRecord would otherwise gather and no line of ours prints: the caller's file and
# line (a walk up the stack), the thread's name and the multiprocessing process name (the
# switches the logging HOWTO lists under "Optimization"). The pid stays: gunicorn's own lines show it.
logging._srcfile = None
logging.logThreads = False
logging.logMultiprocessing = False


def _utc_timestamp(created: float, _last: list[tuple[int, str]] = [(-1, "")]) -> str:  # noqa: B006
    """ISO 8601 in UTC with milliseconds (2026-01-31T12:00:00.123+00:00); the part up to the
    seconds is formatted once per second (a list of one tuple, replaced whole: thread-safe)."""
    second = int(created)
    cached_second, prefix = _last[0]
    if second != cached_second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _last[0] = (second, prefix)
    return f"{prefix}.{int((created - second) * 1000):03d}+00:00"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": _utc_timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "service": getattr(settings, "SERVICE_NAME", ""),
            "host": getattr(settings, "SERVED_BY", ""),
            "msg": record.getMessage(),
        }
        request_id = context.request_id.get()
        if request_id:
            entry["request_id"] = request_id
        fields = record.__dict__
        # The keys a caller passed in `extra`, found by set difference in C, kept in their order.
        if extra := fields.keys() - _STANDARD_ATTRS:
            entry.update({key: value for key, value in fields.items() if key in extra})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class UncaughtExceptionsOnly(logging.Filter):
    """Passes the records that carry a traceback: django.request logs every 4xx/5xx response,
    and the middleware already writes a line per request; an uncaught exception is the one
    thing only Django's record tells (what failed, where)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is not None
