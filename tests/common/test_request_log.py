"""The one JSON line each request writes: its exact text, and the logging configuration it obeys."""

import io
import json
import logging
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.conf import settings

from common.logging import JsonFormatter, json_line, utc_timestamp

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


def test_a_line_is_json_dumps_of_the_entry_for_any_values_a_record_carries():
    values = {
        "text": 'é\u2028"\\\n\x00',
        "number": 1.5,
        "big": 10**30,
        "flag": True,
        "nothing": None,
        "not_a_number": float("nan"),
        "negative_zero": -0.0,
        "huge": 1e300,
        "listed": [1, "x"],
        "object": object,
        "a_str_subclass": type("Text", (str,), {})("sub"),
    }

    assert json_line(values) == json.dumps(values, default=str)
    assert json_line({1: "a", "b": 2}) == json.dumps({1: "a", "b": 2}, default=str)


@pytest.mark.parametrize(
    "created",
    [0.0, 0.0004999, 0.0005, 0.9999994999, 0.9999995, 1.0000005, 1764608958.9999996, 1764608958.9995, -0.5, -1.9999996],
)
def test_timestamps_are_datetimes_isoformat_with_milliseconds_at_the_edges_of_a_second(created):
    assert utc_timestamp(created) == datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


def test_timestamps_are_datetimes_isoformat_with_milliseconds_for_any_time():
    generator = random.Random(17)  # noqa: S311 (reproducible moments, not secrets)
    moments = [generator.uniform(0, 4e9) for _ in range(20_000)]
    edges = [0.9995, 0.9999995, 0.0005]
    moments += [generator.randint(0, 4_000_000_000) + generator.choice(edges) for _ in range(5_000)]

    def isoformat(moment: float) -> str:
        return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")

    wrong = [moment for moment in moments if utc_timestamp(moment) != isoformat(moment)]

    assert wrong == []


def test_a_value_that_holds_itself_fails_as_json_dumps_fails():
    looped: list = []
    looped.append(looped)

    with pytest.raises(ValueError, match="Circular reference"):
        json.dumps({"looped": looped}, default=str)
    with pytest.raises(ValueError, match="Circular reference"):
        json_line({"looped": looped})
