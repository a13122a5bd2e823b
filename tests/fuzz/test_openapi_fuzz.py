"""Schemathesis generates requests from each service's own OpenAPI schema and sends them to the
whole system in local mode, through the gateway, with every check it has for single requests:
no 5xx, responses match the schema (status, headers, body), schema-valid data is accepted and
schema-invalid data is rejected. So the schema states what the API enforces, both ways.

It uses the gateway's internal listener (same routes, same nginx, no per-client rate limit): a
fuzzer sends far more than one client may on the public port, and a 429 there is the gateway
working, not a schema violation.

A schema can say what an id or a cursor looks like, not which ones exist: before sending, a
generated value that is well formed where the server expects one it made (an entity id in the
path, a customer or product id in an invoice, a cursor) is replaced by one the server made.
Malformed values are sent as generated, so a case meant to be rejected still is.

Schemathesis' pytest plugin does not work with pytest 9, so the operations are driven through
its Python API with one Hypothesis run per operation and generation mode; failures are counted
per check rather than stopping at the first, so a run shows everything that disagrees.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.errors import FailureGroup

from common.api import CURSOR_PATTERN, UUID_PATTERN
from ops.local import LocalSystem

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES_PER_OPERATION = 40
UUID_TEXT = re.compile(UUID_PATTERN)
CURSOR_TEXT = re.compile(CURSOR_PATTERN)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Reusing an Idempotency-Key with another request is refused (422) by design on every create POST: which keys were used
# is state, like which ids exist, so schema-valid data may meet it. Methods a path does not declare
# are the gateway's to answer, not the schema's, so the coverage cases leave them out.
CONFIG = schemathesis.Config.from_dict(
    {
        "phases": {"coverage": {"unexpected-methods": []}},
        "operations": [
            {
                "include-path": path,
                "include-method": "POST",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
                    }
                },
            }
            for path in ("/api/customers/", "/api/products/", "/api/invoices/")
        ],
    }
)


@dataclass(frozen=True)
class Api:
    """The system under test: where its gateway listens and what a write must send."""

    base_url: str
    write_headers: dict[str, str]

    @classmethod
    def of(cls, system: LocalSystem) -> "Api":
        return cls(system.internal_url, system.credentials.api_headers())

    def headers_for(self, method: str) -> dict[str, str]:
        return {} if method.upper() in SAFE_METHODS else self.write_headers

    def write(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = requests.request(
            method, f"{self.base_url}{path}", json=body, headers=self.headers_for(method), timeout=10
        )
        response.raise_for_status()
        return response.json()


@dataclass
class ServerMade:
    """Values only the server can make, one of each kind the schemas ask for."""

    entity_id: str
    cursor: str
    references: dict[str, str] = field(default_factory=dict)

    def replace_well_formed(self, case: schemathesis.Case) -> None:
        path = case.path_parameters or {}
        if _is(UUID_TEXT, path.get("id")):
            path["id"] = self.entity_id
        query = case.query or {}
        if _is(CURSOR_TEXT, query.get("cursor")):
            query["cursor"] = self.cursor
        if _is(UUID_TEXT, query.get("customer")):
            query["customer"] = self.references["customer_id"]
        if isinstance(case.body, dict):
            for name, value in self.references.items():
                if _is(UUID_TEXT, case.body.get(name)):
                    case.body[name] = value


def _is(pattern: re.Pattern[str], value: object) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def made_by(api: Api, name: str) -> ServerMade:
    """Two entities of the service (so its first page of one has a next cursor) and what they need."""
    if name == "customers":
        make = [("/api/customers/", {"name": f"Fuzz {n}", "address": "1 Test Street"}) for n in range(2)]
        references: dict[str, str] = {}
    elif name == "products":
        make = [("/api/products/", {"name": f"Fuzz {n}", "unit_price": "1.50"}) for n in range(2)]
        references = {}
    else:
        customer = api.write("POST", "/api/customers/", {"name": "Fuzz", "address": "1 Test Street"})
        product = api.write("POST", "/api/products/", {"name": "Fuzz", "unit_price": "1.50"})
        references = {"customer_id": customer["id"], "product_id": product["id"]}
        make = [("/api/invoices/", {**references, "quantity": n + 1}) for n in range(2)]
    created = [api.write("POST", path, body) for path, body in make]
    first_page = requests.get(f"{api.base_url}/api/{name}/", params={"limit": 1}, timeout=10).json()
    return ServerMade(entity_id=created[0]["id"], cursor=first_page["next_cursor"], references=references)


@dataclass
class FuzzReport:
    cases: Counter[str] = field(default_factory=Counter)
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    first_failure: dict[tuple[str, str], str] = field(default_factory=dict)

    def record(self, label: str, group: FailureGroup) -> None:
        for failure in group.exceptions:
            check = type(failure).checks[0] if type(failure).checks else type(failure).__name__
            self.failures[label, check] += 1
            self.first_failure.setdefault((label, check), f"{failure.title}: {group.message[:1500]}")

    def summary(self) -> str:
        lines = [f"{label}: {n} cases" for label, n in self.cases.items()]
        lines += [f"FAILED {label} {check}: {n} cases" for (label, check), n in self.failures.items()]
        lines += [f"first {label} {check}: {message}" for (label, check), message in self.first_failure.items()]
        return "\n".join(lines)


def fuzz_service(api: Api, name: str) -> FuzzReport:
    """Every operation of the service's schema with valid and with invalid data, and its boundary
    cases; writes send the token."""
    schema = schemathesis.openapi.from_url(f"{api.base_url}/api/{name}/schema/?format=json", config=CONFIG)
    server_made = made_by(api, name)
    report = FuzzReport()

    def send(case: schemathesis.Case, label: str) -> None:
        report.cases[label] += 1
        server_made.replace_well_formed(case)
        try:
            case.call_and_validate(base_url=api.base_url, headers=api.headers_for(case.method))
        except FailureGroup as group:
            report.record(label, group)

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in GenerationMode:
            label = f"{operation.label} ({mode.value})"

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES_PER_OPERATION,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def generated(case: schemathesis.Case) -> None:
                send(case, label)  # noqa: B023 - generated() runs within this iteration

            try:
                generated()
            except Unsatisfiable:
                if mode is GenerationMode.POSITIVE:
                    raise
                # Nothing in this operation can be made schema-invalid.
        # The boundaries, one case each: lengths at and one over the limit, each pattern broken,
        # each required part missing, each type swapped.
        generation = schema.config.generation_for(operation=operation, phase="coverage")
        for case in schema.iter_coverage_cases(
            operation, generation_modes=list(GenerationMode), generation_config=generation
        ):
            send(case, f"{operation.label} (coverage)")
    print(report.summary())
    return report


def assert_conforms(report: FuzzReport, operations: int) -> None:
    for kind in ("positive", "negative", "coverage"):
        counts = [n for label, n in report.cases.items() if label.endswith(f"({kind})")]
        assert len(counts) == operations, (kind, report.summary())
        assert all(n > 0 for n in counts), (kind, report.summary())
    assert not report.failures, report.summary()


@pytest.mark.parametrize("name", ["customers", "products"])
def test_crud_services_conform_to_their_schema(local_system, name):
    report = fuzz_service(Api.of(local_system), name)

    assert_conforms(report, operations=6)


def test_invoices_conforms_to_its_schema(local_system):
    report = fuzz_service(Api.of(local_system), "invoices")

    assert_conforms(report, operations=3)
