"""Log records as one JSON object per line, with the current request id when there is one."""

import functools
import json
import logging
from datetime import UTC, datetime

from django.conf import settings

from common import context

_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

# What every LogRecord would otherwise gather and no line of ours prints: the caller's file and
# line (a walk up the stack), the thread's name and the multiprocessing process name (the
# switches the logging HOWTO lists under "Optimization"). The pid stays: gunicorn's own lines show it.
logging._srcfile = None
logging.logThreads = False
logging.logMultiprocessing = False

# json.dumps(entry, default=str) makes a new encoder for every line; this one is made once.
_encoder = json.JSONEncoder(default=str)


@functools.cache
def _service_and_host() -> tuple[str, str]:
    """Fixed for the life of the process: read from the settings once, not for every line."""
    return getattr(settings, "SERVICE_NAME", ""), getattr(settings, "SERVED_BY", "")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        service, host = _service_and_host()
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "service": service,
            "host": host,
            "msg": record.getMessage(),
        }
        request_id = context.request_id.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _encoder.encode(entry)


class UncaughtExceptionsOnly(logging.Filter):
    """Passes the records that carry a traceback: django.request logs every 4xx/5xx response,
    and the middleware already writes a line per request; an uncaught exception is the one
    thing only Django's record tells (what failed, where)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is not None
