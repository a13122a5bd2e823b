"""Input crafted to break a service gets a 4xx, and what does break is logged, not hidden."""

import json
import logging
import secrets
import string
import uuid
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from common.logging import JsonFormatter
from customers import services
from tests.conftest import post_json

URL = "/api/customers/"


def deeply_nested(depth: int) -> str:
    return "[" * depth + "]" * depth


class JsonLines(logging.Handler):
    """The lines the services' formatter writes, formatted while the request's context is live."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def django_request_log() -> Iterator[JsonLines]:
    """What the django.request logger lets through its configured level and filters."""
    handler = JsonLines()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def method_label_values() -> set[str]:
    return {
        sample.labels["method"]
        for metric in REGISTRY.collect()
        if metric.name == "http_requests"
        for sample in metric.samples
    }


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_deeply_nested_json_is_a_400_parse_error_and_writes_nothing(api, raw_redis, method):
    url = URL if method == "post" else f"{URL}{uuid.uuid4()}/"

    response = getattr(api, method)(url, data=deeply_nested(5_000), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert "nested too deeply" in response.json()["error"]["message"]
    assert raw_redis.keys("*") == []


def test_json_nested_a_little_is_still_judged_by_the_serializer(api):
    response = post_json(api, URL, {"name": [[["deep"]]], "address": "1 Road"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "name" in response.json()["error"]["fields"]


def test_made_up_http_methods_share_one_metric_label(api):
    made_up = ["".join(secrets.choice(string.ascii_uppercase) for _ in range(12)) for _ in range(50)]

    statuses = {api.generic(method, URL).status_code for method in made_up}

    assert statuses <= {400, 405}
    labels = method_label_values()
    assert "other" in labels
    assert not labels & set(made_up)
    assert labels <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}


def test_an_uncaught_exception_is_a_json_500_logged_with_traceback_and_request_id(monkeypatch, django_request_log):
    def broken(**_kwargs):
        raise RuntimeError("the store exploded")

    monkeypatch.setattr(services, "customer_get", broken)
    client = APIClient(raise_request_exception=False)

    response = client.get(f"{URL}{uuid.uuid4()}/")

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    errors = django_request_log.lines
    assert len(errors) == 1
    assert errors[0]["level"] == "error"
    assert errors[0]["request_id"] == response["X-Request-ID"]
    assert "RuntimeError: the store exploded" in errors[0]["exc"]
    assert "Traceback" in errors[0]["exc"]


def test_handled_errors_add_no_django_request_lines(api, django_request_log):
    response = api.get(f"{URL}{uuid.uuid4()}/")

    assert response.status_code == 404
    assert django_request_log.lines == []


@pytest.mark.parametrize(
    "path",
    ["/api/customers/{id}.json", "/api/customers.json", "/api/products/{id}.json", "/api/invoices/{id}.json"],
)
def test_a_format_suffix_names_nothing_it_is_a_json_404(api, path):
    """DRF's default router also routed `<id>.json`, which the views do not take: it was a 500."""
    response = api.get(path.format(id=uuid.uuid4()))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
