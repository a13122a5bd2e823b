"""Prometheus metrics; under gunicorn every worker writes to PROMETHEUS_MULTIPROC_DIR and /metrics sums them."""

import os
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.metrics import MetricWrapperBase

# gunicorn (config/gunicorn.conf.py) empties and creates this directory before its workers start.
# A process the images start without gunicorn (manage.py seed_demo, the stack's seed job) inherits
# the variable but not the directory, and defining a metric below would fail on a missing file.
if _multiprocess_dir := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(_multiprocess_dir, exist_ok=True)

# Any other method a client invents counts as "other": a label per made-up verb would let one
# client create series without bound.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter("http_requests_total", "HTTP requests served", ["method", "route", "status"])
REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time to serve an HTTP request",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
REDIS_SECONDS = Histogram(
    "redis_command_duration_seconds",
    "Time spent in one store operation against Redis",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)
OUTBOUND_SECONDS = Histogram(
    "outbound_request_duration_seconds",
    "Time of calls to other services",
    ["target", "outcome"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


_children: dict[tuple[MetricWrapperBase, tuple[str, ...]], Any] = {}


def labelled(metric: MetricWrapperBase, *values: str) -> Any:
    """metric.labels(*values), found once per label set: prometheus_client validates the values
    and takes a lock on every labels() call, a third of what counting a request cost. Label
    values are bounded (methods, route names, status codes), so this table is too."""
    found = _children.get((metric, values))
    if found is None:
        found = _children[metric, values] = metric.labels(*values)
    return found


def render() -> tuple[bytes, str]:
    """The metrics of all workers of this process group, in Prometheus text format."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
