"""Log records as one JSON object per line, with the current request id when there is one."""

import functools
import json
import logging
import math
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from django.conf import settings

from common import context

_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

# What every LogRecord would otherwise gather and no line of ours prints: the caller's file and
# line (a walk up the stack), the thread's name and the multiprocessing process name (the
# switches the logging HOWTO lists under "Optimization"). The pid stays: gunicorn's own lines show it.
logging._srcfile = None
logging.logThreads = False
logging.logMultiprocessing = False

# The second a timestamp fell in, and its date and time of day as isoformat writes them.
_formatted_second: tuple[int, str] = (0, datetime.fromtimestamp(0, UTC).replace(tzinfo=None).isoformat())


def utc_timestamp(created: float) -> str:
    """datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds"), the same text for
    every value, with the date and time of day formatted once per second: building a datetime
    was an eighth of what a request's log line cost. The fraction is rounded to the microsecond
    half to even first, as datetime does, so 0.9999996 is the next second."""
    global _formatted_second
    fraction, whole = math.modf(created)
    seconds, micros = int(whole), round(fraction * 1e6)
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    elif micros < 0:
        seconds, micros = seconds - 1, micros + 1_000_000
    cached = _formatted_second
    if cached[0] != seconds:
        cached = _formatted_second = (seconds, datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None).isoformat())
    return f"{cached[1]}.{micros // 1000:03d}+00:00"


# json.dumps(entry, default=str) builds an encoder for every call (and a dict to catch
# containers that hold themselves); this one is built once.
_encoder = c_make_encoder(None, str, encode_basestring_ascii, None, ": ", ", ", False, False, True)


def json_line(entry: dict[str, Any]) -> str:
    """json.dumps(entry, default=str), character for character, by an encoder made once.

    Without the check for containers that hold themselves, such a value recurses until Python
    stops it; json.dumps then says what it says for it.
    """
    try:
        return "".join(_encoder(entry, 0))
    except RecursionError:
        return json.dumps(entry, default=str)


@functools.cache
def _service_and_host() -> tuple[str, str]:
    """Fixed for the life of the process: read from the settings once, not for every line."""
    return getattr(settings, "SERVICE_NAME", ""), getattr(settings, "SERVED_BY", "")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        service, host = _service_and_host()
        entry = {
            "ts": utc_timestamp(record.created),
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
        return json_line(entry)


class UncaughtExceptionsOnly(logging.Filter):
    """Passes the records that carry a traceback: django.request logs every 4xx/5xx response,
    and the middleware already writes a line per request; an uncaught exception is the one
    thing only Django's record tells (what failed, where)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is not None
