"""Schemathesis generates requests from each service's own OpenAPI schema and sends them to the
whole system in local mode, through the gateway: no 5xx, and every response must match the
schema (status, headers, body). It uses the gateway's internal listener (same routes, same
nginx, no per-client rate limit): a fuzzer sends far more than one client may on the public
port, and a 429 there is the gateway working, not a schema violation.

Excluded check: "schema-valid data is accepted". The schema cannot say that a cursor is only
valid when the server made it, or that an invoice needs a customer that exists; those are 400s
by design, and the suites under tests/ check them one by one.

Schemathesis' pytest plugin does not work with pytest 9, so the operations are driven through
its Python API with one Hypothesis run per operation.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES_PER_OPERATION = 40


def fuzz_service(base_url: str, name: str) -> dict[str, int]:
    """Every operation of the service's schema with valid and with invalid data; returns case counts."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/{name}/schema/?format=json")
    counts: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in GenerationMode:
            label = f"{operation.label} ({mode.value})"
            counts[label] = 0

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES_PER_OPERATION,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def send(case):
                counts[label] += 1  # noqa: B023 - send() runs within this iteration
                case.call_and_validate(base_url=base_url, excluded_checks=[positive_data_acceptance])

            try:
                send()
            except Unsatisfiable:
                if mode is GenerationMode.POSITIVE:
                    raise
                # Nothing in this operation can be made schema-invalid (e.g. only a free-form path id).
                del counts[label]
    for label, count in counts.items():
        print(f"fuzz {label}: {count} cases")
    return counts


def assert_fuzzed(counts: dict[str, int], operations: int) -> None:
    positive = {label: n for label, n in counts.items() if label.endswith("(positive)")}
    negative = {label: n for label, n in counts.items() if label.endswith("(negative)")}
    assert len(positive) == operations
    assert all(n > 0 for n in positive.values())
    assert sum(negative.values()) > 0


@pytest.mark.parametrize("name", ["customers", "products"])
def test_crud_services_conform_to_their_schema(local_system, name):
    counts = fuzz_service(local_system.internal_url, name)

    assert_fuzzed(counts, operations=6)


def test_invoices_conforms_to_its_schema(local_system):
    counts = fuzz_service(local_system.internal_url, "invoices")

    assert_fuzzed(counts, operations=3)
