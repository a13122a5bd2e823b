"""The benchmark commands run end to end and report what they promise: one row per scenario and
size, figures from real requests, the machine they ran on. No figure is compared with a target:
speed is printed by the benchmarks, never asserted by tests."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import CEILING_RATIOS, SCENARIOS
from bench.inprocess import scenarios as inprocess_scenarios
from bench.seed import Seeder
from bench.servers import CONFIGS, available
from common.store import decode_cursor

REPO_ROOT = Path(__file__).resolve().parents[2]
INPROCESS_SCENARIOS = {"customer_get_direct", "customers_first_page", "customers_deep_page", "customer_invoices"}


def _run(*argv: str, timeout: float) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", *argv], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def test_inprocess_benchmark_times_every_scenario_at_every_size(tmp_path: Path) -> None:
    output = tmp_path / "inprocess.json"
    result = _run(
        "bench.inprocess", "--sizes", "30,60", "--batches", "2", "--batch", "3", "--output", str(output), timeout=240
    )
    report = json.loads(output.read_text())
    assert report["machine"]["cores"] >= 1
    rows = report["rows"]
    assert {(row["n"], row["scenario"]) for row in rows} == {
        (n, name) for n in (30, 60) for name in INPROCESS_SCENARIOS
    }
    for row in rows:
        assert 0 < row["fastest_us"] <= row["median_us"], row
    # The printed table carries the same rows.
    assert result.stdout.count("| `") == len(rows)


def test_inprocess_scenarios_name_real_entities(redis_server) -> None:
    import redis

    clients = [redis.Redis.from_url(redis_server.url(db), decode_responses=True) for db in (5, 6, 7)]
    seeder = Seeder(*clients)
    seeder.flush()
    seeder.grow_to(25)
    by_service = inprocess_scenarios(seeder)
    assert {service: set(paths) for service, paths in by_service.items()} == {
        "customers": {"customer_get_direct", "customers_first_page", "customers_deep_page"},
        "invoices": {"customer_invoices"},
    }
    customers, invoices = by_service["customers"], by_service["invoices"]
    assert customers["customer_get_direct"] == f"/api/customers/{seeder.data.customer_ids[12]}/"
    assert customers["customers_first_page"] == "/api/customers/"
    assert invoices["customer_invoices"] == f"/api/invoices/?customer={seeder.data.hot_customer}"
    # The deep page opens 90% into the list: its cursor names the 22nd of 25 customers, newest first.
    cursor = customers["customers_deep_page"].split("?cursor=")[1]
    assert decode_cursor(cursor)[1] == seeder.data.customer_ids[21]
    for client in clients:
        client.flushdb()


@pytest.mark.integration
def test_wrk_benchmark_reports_every_scenario_from_real_requests(tmp_path: Path) -> None:
    output = tmp_path / "wrk.json"
    result = _run(
        "bench",
        "--target", "local",
        "--sizes", "50",
        "--duration", "2",
        "--warmup", "0",
        "--connections", "4",
        "--output", str(output),
        timeout=240,
    )  # fmt: skip
    report = json.loads(output.read_text())
    assert report["mode"] == "local"
    (size,) = report["sizes"]
    assert size["n"] == 50
    assert set(size["scenarios"]) == {scenario.name for scenario in SCENARIOS}
    for name, figures in size["scenarios"].items():
        assert figures["requests"] > 0, name
        # Every answer was a success (a 4xx/5xx under light load would be a bug, not slowness).
        assert figures["status_errors"] == 0, (name, figures)
        assert sum(figures["cpu_us_per_request"].values()) > 0, name
    assert all(rss > 0 for group in report["worker_rss_mb"].values() for rss in group.values())
    # The ceiling and the invoice-to-GET ratio, each from figures of this one run.
    assert set(size["ratios"]) == set(CEILING_RATIOS)
    for name, ratio in size["ratios"].items():
        assert ratio["to"] == CEILING_RATIOS[name]
        assert ratio["cpu"] > 0, (name, ratio)
        assert ratio["requests_per_second"] > 0, (name, ratio)
    split = size["invoice_split"]
    assert set(split) == {"invoices", "lookups", "gateway"}
    assert all(part["cpu_us_per_request"] > 0 and part["to_get"] > 0 for part in split.values()), split
    assert "invoice_create's server CPU in GETs through the gateway" in result.stdout
    pss = report["pss_mb_per_replica"]
    assert {"customers", "products", "invoices", "bare", "gateway"} <= set(pss)
    assert all(megabytes and megabytes > 0 for megabytes in pss.values()), pss
    overhead = size["gateway_overhead"]
    assert overhead["nginx_cpu_us_per_request"] > 0
    assert 0 < overhead["share_of_server_cpu"] < 1


@pytest.mark.integration
def test_server_comparison_measures_each_installed_server(tmp_path: Path) -> None:
    output = tmp_path / "servers.json"
    result = _run(
        "bench.servers",
        "--rounds", "1",
        "--duration", "1",
        "--warmup", "1",
        "--connections", "4",
        "--output", str(output),
        timeout=180,
    )  # fmt: skip
    rows = {row["server"]: row for row in json.loads(output.read_text())["rows"]}
    installed = {config.name for config in CONFIGS if available(config)}
    assert {"gunicorn-gthread", "gunicorn-sync"} <= installed
    assert set(rows) == installed
    for name in {config.name for config in CONFIGS} - installed:
        assert f"skipping {name}" in result.stdout
    for name, row in rows.items():
        assert row["requests"] > 0, name
        assert row["status_errors"] == 0, (name, row)
        assert len(row["worker_rss_mb"]) == 2, (name, row)
