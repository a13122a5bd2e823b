"""The monitoring stack on a real swarm: Prometheus finds every task of the Django services by
itself, sees the requests made through the gateway and the calls invoices makes to customers
and products, and the dashboard shows those figures."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
import requests

from common.waiting import wait_until
from ops import credentials, engine, monitoring, stack
from ops.engine import SERVICE_NAME_LABEL
from ops.services import DJANGO_SERVICES

pytestmark = [pytest.mark.swarm, pytest.mark.timeout(1200)]

SCRAPED_SERVICES = DJANGO_SERVICES
# Discovery refreshes and scrapes every 5 s, rules evaluate every 5 s: a figure shows up well
# within this on an idle machine; a loaded one may need much longer.
FIGURE_TIMEOUT = 120.0


def eventually(check: Callable[[], object], *, timeout: float, what: str, every: float = 2.0) -> object:
    """The first truthy result of check(), tried until timeout; fails naming what did not happen."""
    last: list[object] = [None]

    def remembered() -> object:
        last[0] = check()
        return last[0]

    return wait_until(what, remembered, timeout=timeout, interval=every, explain=lambda: f"last seen: {last[0]!r}")


def total(prometheus: monitoring.Settings, expression: str) -> float:
    return sum(value for _, value in monitoring.query(prometheus, expression))


def running_task_ids(service: str) -> set[str]:
    return {task.id for task in stack.stack_tasks(service=service) if task.running}


def test_every_task_of_every_django_service_is_an_up_target(prometheus: monitoring.Settings) -> None:
    def missing() -> dict[str, set[str]]:
        up = {
            (t["labels"]["job"], t["labels"].get("task_id", ""))
            for t in monitoring.targets(prometheus)
            if t["health"] == "up"
        }
        gaps = {}
        for service in SCRAPED_SERVICES:
            wanted = running_task_ids(service)
            assert wanted, f"{service} has no running task"
            if absent := {task for task in wanted if (service, task) not in up}:
                gaps[service] = absent
        return gaps

    eventually(lambda: not missing(), timeout=FIGURE_TIMEOUT, what=f"every task up in Prometheus (missing {missing()})")
    for target in sorted(monitoring.targets(prometheus), key=lambda t: t["labels"].get("task", "")):
        labels = target["labels"]
        where = f"{labels.get('node', ''):<16} {labels['instance']:<20}"
        print(f"{labels['job']:<10} {labels.get('task', ''):<14} {where} {target['health']}")
        if labels["job"] in SCRAPED_SERVICES:
            assert labels.get("node"), "every target names its node"
            assert re.fullmatch(rf"{labels['job']}\.\d+", labels.get("task", "")), labels


def test_requests_through_the_gateway_count_in_prometheus(prometheus: monitoring.Settings, deployed: str) -> None:
    counter = 'http_requests_total{job="customers",route="customer-list",method="GET",status="200"}'
    before = total(prometheus, counter)
    calls = 12
    for _ in range(calls):
        response = requests.get(f"{deployed}/api/customers/?limit=1", timeout=10)
        assert response.status_code == 200, response.text

    after = eventually(
        lambda: (value := total(prometheus, counter)) >= before + calls and value,
        timeout=FIGURE_TIMEOUT,
        what=f"{counter} up by {calls} from {before}",
    )
    print(f"{counter}: {before:g} -> {after:g} after {calls} GETs")


def test_an_invoice_shows_its_calls_to_customers_and_products(prometheus: monitoring.Settings, deployed: str) -> None:
    calls = 'outbound_request_duration_seconds_count{job="invoices",target="%s",outcome="200"}'
    before = {target: total(prometheus, calls % target) for target in ("customers", "products")}
    customer = create(deployed, "customers", {"name": "Metered buyer", "address": "9 Gauge Street"})
    product = create(deployed, "products", {"name": "Metered widget", "unit_price": "4.00"})
    create(deployed, "invoices", {"customer_id": customer, "product_id": product, "quantity": 2})

    for target, count in before.items():
        after = eventually(
            lambda target=target, count=count: (value := total(prometheus, calls % target)) > count and value,
            timeout=FIGURE_TIMEOUT,
            what=f"invoices' successful calls to {target} counted",
        )
        print(f"invoices -> {target}: calls with outcome 200 {count:g} -> {after:g}")
    latency = total(prometheus, 'outbound_request_duration_seconds_sum{job="invoices",target="customers"}')
    assert latency > 0, "the calls' durations are recorded"


def test_the_dashboard_shows_the_figures(prometheus: monitoring.Settings, deployed: str) -> None:
    customer = create(deployed, "customers", {"name": "Dashboard buyer", "address": "1 Panel Road"})
    product = create(deployed, "products", {"name": "Dashboard widget", "unit_price": "1.50"})

    def traffic() -> None:
        # Keeps coming while the page is polled: a rate needs increments between two scrapes
        # (the first sample of a new series counts from nothing).
        create(deployed, "invoices", {"customer_id": customer, "product_id": product, "quantity": 1})
        requests.get(f"{deployed}/api/customers/{customer}/", timeout=10).raise_for_status()
        assert requests.get(f"{deployed}/api/customers/{uuid.uuid4()}/", timeout=10).status_code == 404

    def overview() -> dict[tuple[str, ...], dict[str, str]] | None:
        traffic()
        rows = dashboard_rows(prometheus, "/consoles/index.html")
        customers = rows.get(("services", "customers"), {})
        outbound = rows.get(("outbound", "invoices", "customers"), {})
        ready = float(customers.get("requests", 0)) > 0 and float(customers.get("4xx", 0)) > 0
        return rows if ready and float(outbound.get("calls", 0)) > 0 else None

    rows = eventually(overview, timeout=FIGURE_TIMEOUT, what="request, 4xx and outbound rates on the dashboard")
    for key, figures in sorted(rows.items()):
        print(" / ".join(key), figures)
    for service in SCRAPED_SERVICES:
        up, _, wanted = rows[("services", service)]["tasks-up"].partition("/")
        assert up == wanted == str(len(running_task_ids(service))), f"{service}: {up}/{wanted} tasks up"
    assert rows[("services", "customers")]["p99"] != "-", "a latency for a service that answered requests"
    assert rows[("outbound", "invoices", "customers")]["p99"] != "-"

    service_rows = eventually(
        lambda: (
            (r := dashboard_rows(prometheus, "/consoles/service.html?job=customers"))
            and r.get(("routes", "customer-detail"), {}).get("p99", "-") != "-"
            and r
        ),
        timeout=FIGURE_TIMEOUT,
        what="the customer-detail route with its latency on the customers page",
    )
    assert float(service_rows[("routes", "customer-detail")]["requests"]) > 0
    assert any(key[0] == "redis" for key in service_rows), "Redis operations of customers are listed"
    for key, figures in sorted(service_rows.items()):
        print(" / ".join(key), figures)


def create(base_url: str, service: str, body: dict) -> str:
    response = requests.post(
        f"{base_url}/api/{service}/", json=body, headers=credentials.load().api_headers(), timeout=20
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


class _FigureRows(HTMLParser):
    """Rows of the dashboard's tables: (table id, row keys...) -> {data-figure: text}."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, ...], dict[str, str]] = {}
        self._table = ""
        self._row: tuple[str, ...] | None = None
        self._figure: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "table":
            self._table = attributes.get("id", "")
        elif tag == "tr":
            keys = [value for name, value in attrs if name.startswith("data-") and value]
            self._row = (self._table, *keys) if keys else None
            if self._row:
                self.rows[self._row] = {}
        elif tag == "td" and self._row and "data-figure" in attributes:
            self._figure = attributes["data-figure"]
            self.rows[self._row][self._figure] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._figure = None

    def handle_data(self, data: str) -> None:
        if self._row and self._figure:
            self.rows[self._row][self._figure] += data.strip()


def dashboard_rows(prometheus: monitoring.Settings, path: str) -> dict[tuple[str, ...], dict[str, str]]:
    response = requests.get(prometheus.url + path, timeout=20)
    assert response.status_code == 200, response.text[:500]
    assert "error executing template" not in response.text, response.text[:2000]
    parser = _FigureRows()
    parser.feed(response.text)
    return parser.rows


def test_prometheus_runs_unprivileged_on_a_read_only_filesystem(prometheus: monitoring.Settings) -> None:
    labels = {SERVICE_NAME_LABEL: f"{monitoring.STACK}_prometheus"}
    container = engine.local().containers(labels, status="running")[0]
    inspected = engine.local().inspect_container(container.id)
    assert inspected is not None
    assert inspected["HostConfig"]["ReadonlyRootfs"] is True
    assert inspected["Config"]["User"] == "prometheus", "the image's own user, not root"
    assert inspected["State"]["Health"]["Status"] == "healthy"
    mounts = {mount["Destination"]: mount for mount in inspected["Mounts"]}
    assert mounts["/prometheus"]["Type"] == "volume", "metrics on a named volume"
    assert "/var/run/docker.sock" not in mounts, "service discovery reads the engine through the socket proxy"
