"""python -m bench --target swarm measures the deployed stack from inside a gateway task and reports
the same figures as local mode. Never how fast: only that it ran, through the internal listener,
with real requests that all succeeded, and that it counted the servers' CPU."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.swarm import MEASURED_SERVICES
from ops import engine, stack
from ops.gateway_config import INTERNAL_PORT
from ops.services import API_SERVICES
from tests.swarm.conftest import deployed, gateway_port  # noqa: F401 (the swarm suite's stack)

pytestmark = pytest.mark.swarm

REPO_ROOT = Path(__file__).resolve().parents[2]
# What each scenario must have kept busy. A service off a scenario's path may round to 0 us per
# request (the gateway during GETs straight to a customers task, say), so only these are asserted.
ON_PATH = {
    "customer_get_gateway": {"gateway", "customers"},
    "customer_get_direct": {"customers"},
    "invoice_create": {"gateway", "invoices", "customers", "products"},
}
SCENARIOS = tuple(ON_PATH)


def test_swarm_mode_reports_every_scenario_from_inside_the_stack(deployed: str, tmp_path: Path) -> None:  # noqa: F811
    output = tmp_path / "swarm.json"
    result = subprocess.run(
        [
            sys.executable, "-m", "bench",
            "--target", "swarm",
            "--duration", "2",
            "--warmup", "0",
            "--connections", "4",
            "--scenarios", ",".join(SCENARIOS),
            "--output", str(output),
        ],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(output.read_text())

    assert report["mode"] == "swarm"
    assert report["sizes"] == []
    rows = report["swarm"]["scenarios"]
    assert set(rows) == set(SCENARIOS)
    for name, figures in rows.items():
        assert figures["requests"] > 0, name
        # Light load on a healthy stack: a 4xx/5xx would be a bug (a 429: the rate limit), not slowness.
        assert figures["errors"] == 0, (name, figures)
        assert set(figures["cpu_us_per_request"]) == set(MEASURED_SERVICES), name
        assert all(figures["cpu_us_per_request"][service] > 0 for service in ON_PATH[name]), (name, figures)
    # Where an invoice's CPU goes, in GETs through the gateway of this run.
    split = report["swarm"]["invoice_split"]
    assert set(split) == {"invoices", "lookups", "gateway"}
    assert all(part["cpu_us_per_request"] > 0 and part["to_get"] > 0 for part in split.values()), split
    # Through the gateway's internal listener, which the stack does not publish on the host.
    assert rows["customer_get_gateway"]["url"].startswith(f"http://127.0.0.1:{INTERNAL_PORT}/api/customers/")
    # Unique memory of every task of each API, read inside its container.
    pss = report["swarm"]["pss_mb_per_task"]
    assert set(pss) == set(API_SERVICES)
    for name, tasks in pss.items():
        running = [t for t in stack.stack_tasks(service=name) if t.running]
        assert len(tasks) == len(running), (name, tasks)
        assert all(megabytes > 10 for megabytes in tasks), (name, tasks)
    gateway = engine.local().service(f"{stack.STACK}_gateway")
    assert gateway is not None
    assert INTERNAL_PORT not in {port.target for port in gateway.ports}
    assert "swarm mode" in result.stdout
