"""The one JSON line each request writes: its exact text, and the logging configuration it obeys."""

import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
from django.conf import settings

from common.logging import JsonFormatter

URL = "/api/customers/"


@pytest.fixture
def request_lines() -> Iterator[io.StringIO]:
    """What a handler like the services' own (a stream, the JSON formatter) writes for the request logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("request")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


def test_a_request_writes_one_line_with_these_keys_in_this_order(api, request_lines):
    missing = uuid.uuid4()

    response = api.get(f"{URL}{missing}/", HTTP_X_REQUEST_ID="order-check-1")

    [line] = request_lines.getvalue().splitlines()
    entry = json.loads(line)
    assert list(entry) == [
        "ts", "level", "logger", "service", "host", "msg", "request_id", "method", "path", "status", "duration_ms",
    ]  # fmt: skip
    assert entry["ts"].endswith("+00:00")
    assert datetime.fromisoformat(entry["ts"]).microsecond % 1000 == 0
    assert isinstance(entry["duration_ms"], float)
    assert {key: entry[key] for key in list(entry)[1:-1]} == {
        "level": "info",
        "logger": "request",
        "service": settings.SERVICE_NAME,
        "host": settings.SERVED_BY,
        "msg": "request",
        "request_id": "order-check-1",
        "method": "GET",
        "path": f"{URL}{missing}/",
        "status": response.status_code,
    }
    # Exactly as json.dumps writes it (its separators, ASCII escapes): what log pipelines already parse.
    assert line == json.dumps(entry)


def test_a_path_with_quotes_and_other_scripts_is_escaped_as_json_dumps_escapes_it(api, request_lines):
    path = '/api/customers/"x"\\ü€😀/'

    api.get(path)

    [line] = request_lines.getvalue().splitlines()
    assert json.loads(line)["path"] == path
    assert line == json.dumps(json.loads(line))


def test_raising_the_request_loggers_level_to_warning_drops_the_line(api, request_lines):
    logger = logging.getLogger("request")
    logger.setLevel(logging.WARNING)
    try:
        response = api.get(f"{URL}{uuid.uuid4()}/")
    finally:
        logger.setLevel(logging.NOTSET)

    assert response.status_code == 404
    assert request_lines.getvalue() == ""
