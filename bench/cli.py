"""python -m bench: seed N entities, then drive each scenario with wrk and report the figures.

Local mode (the default) starts the whole system as local processes (ops.local.LocalSystem) on free
ports with throwaway Redis data. With --gateway-url the running system behind that URL is measured
instead; seeding then needs the three Redis URLs (or --no-seed to use what is there).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from bench import swarm
from bench.machine import child_pids, cpu_seconds, load_average, machine_info, pss_mb, rss_mb
from bench.report import print_table, write_json
from bench.seed import Dataset, Seeder, setup_django
from bench.wrk import LUA_SCRIPT, Figures, WrkError, WrkRunner, run_here, run_wrk, wrk_path
from ops import credentials
from ops.engine import Engine
from ops.processes import Gunicorn, LocalProcess, Nginx, free_port, http_status
from ops.services import API_SERVICES

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_SIZES = (1_000, 10_000, 100_000)
# Ids the POST scenario picks from; enough to spread the writes, few enough for wrk's command line.
POST_ID_SAMPLE = 100
DEEP_PAGE_FRACTION = 0.9
BARE_SCENARIO = "bare_get_direct"
# Single-entity scenarios and what their server CPU per request is compared with, in one run.
CEILING_RATIOS = {
    "customer_get_direct": BARE_SCENARIO,
    "customer_get_gateway": BARE_SCENARIO,
    "invoice_create": "customer_get_gateway",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    url: Callable[[Targets, Dataset], str]
    lua_args: Callable[[Dataset], list[str]] = lambda _data: []
    # Runs only where the benchmark serves the bare view itself (local mode).
    needs_bare: bool = False
    # Needs data the benchmark seeded itself (a cursor deep into N customers): not in swarm mode.
    needs_seed: bool = False


@dataclass(frozen=True)
class Targets:
    gateway: str
    customers_direct: str
    deep_cursor: str = ""
    bare_direct: str = ""


SCENARIOS = [
    Scenario(
        "customer_get_gateway",
        "GET one customer through the gateway",
        lambda t, d: f"{t.gateway}/api/customers/{d.customer_ids[len(d.customer_ids) // 2]}/",
    ),
    Scenario(
        "customer_get_direct",
        "GET one customer straight to one customers process",
        lambda t, d: f"{t.customers_direct}/api/customers/{d.customer_ids[len(d.customer_ids) // 2]}/",
    ),
    Scenario(
        BARE_SCENARIO,
        "the ceiling: GET one customer from a bare Django + DRF view (bench/bare.py), same gunicorn settings",
        lambda t, d: f"{t.bare_direct}/api/customers/{d.customer_ids[len(d.customer_ids) // 2]}/",
        needs_bare=True,
    ),
    Scenario("customers_first_page", "first page of customers (20)", lambda t, d: f"{t.gateway}/api/customers/"),
    Scenario(
        "customers_deep_page",
        f"a page {DEEP_PAGE_FRACTION:.0%} deep into the customers (cursor)",
        lambda t, d: f"{t.gateway}/api/customers/?cursor={t.deep_cursor}",
        needs_seed=True,
    ),
    Scenario(
        "customer_invoices",
        "invoices of one customer (first page) among N invoices",
        lambda t, d: f"{t.gateway}/api/invoices/?customer={d.hot_customer}",
    ),
    Scenario(
        "invoice_create",
        "POST an invoice (validates customer and product over HTTP, one transaction)",
        lambda t, d: f"{t.gateway}/api/invoices/",
        lambda d: ["post", ",".join(d.customer_ids[:POST_ID_SAMPLE]), ",".join(d.product_ids[:POST_ID_SAMPLE])],
    ),
]


def default_api_token() -> str:
    try:
        return credentials.load().api_token
    except credentials.CredentialsMissing:
        return ""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Benchmark the system with wrk. For each N: seed N customers, products and invoices "
            "(straight into Redis through the services' store code), warm up, run every scenario "
            "for a fixed time, print a table and write all figures to bench/results/<timestamp>.json."
        ),
    )
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in DEFAULT_SIZES),
        help="comma-separated N values, grown in order on the same data (default %(default)s)",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run (default %(default)s)")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of load before each run (default %(default)s)"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default %(default)s)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default %(default)s)")
    parser.add_argument("--scenarios", help=f"comma-separated subset of: {', '.join(s.name for s in SCENARIOS)}")
    parser.add_argument("--workers", type=int, default=2, help="local mode: gunicorn workers per process (default 2)")
    parser.add_argument("--gateway-url", help="measure a running system through this gateway instead of local mode")
    parser.add_argument("--service-url", help="with --gateway-url: a customers process reached directly")
    for service in API_SERVICES:
        parser.add_argument(f"--redis-{service}", metavar="URL", help=f"with --gateway-url: the {service} Redis")
    parser.add_argument("--no-seed", action="store_true", help="with --gateway-url: use the data already there")
    parser.add_argument(
        "--api-token",
        default=os.environ.get("API_TOKEN") or default_api_token(),
        help="with --gateway-url: the token writes send (default $API_TOKEN, else .run/credentials.env's)",
    )
    parser.add_argument(
        "--target",
        choices=("auto", "local", "swarm", "both"),
        default="auto",
        help=(
            "local: local mode (or --gateway-url); swarm: the deployed stack, from inside a gateway task "
            "(its internal listener, no rate limit); both: one after the other; auto (default): local, "
            "and swarm too when a stack is deployed"
        ),
    )
    parser.add_argument(
        "--swarm-engine",
        choices=("local", "cluster"),
        default="local",
        help="swarm mode: the stack on this engine's swarm (default), or on ops.cluster's three nodes (m1)",
    )
    parser.add_argument("--output", type=Path, help="JSON file to write (default bench/results/<timestamp>.json)")
    parser.add_argument("--label", default="", help="free text stored with the results (e.g. the commit)")
    args = parser.parse_args(argv)
    args.sizes = [int(n) for n in args.sizes.split(",") if n]
    if args.gateway_url and not args.service_url:
        parser.error("--gateway-url needs --service-url (a customers process, for the direct GET)")
    if args.gateway_url and not args.no_seed and not all(getattr(args, f"redis_{name}") for name in API_SERVICES):
        parser.error(f"--gateway-url needs {'/'.join(f'--redis-{name}' for name in API_SERVICES)}, or --no-seed")
    chosen = set(args.scenarios.split(",")) if args.scenarios else {s.name for s in SCENARIOS}
    unknown = chosen - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.scenarios = [s for s in SCENARIOS if s.name in chosen]
    return args


@dataclass
class System:
    gateway: str
    customers_direct: str
    seeder: Seeder | None
    worker_pids: Callable[[], dict[str, list[int]]]
    # What a write sends to be allowed (the API token).
    write_headers: dict[str, str]
    # The bare Django + DRF view (local mode only) and every server process by replica, masters included.
    bare_direct: str = ""
    replica_pids: Callable[[], dict[str, list[int]]] = dict


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


@contextmanager
def local_system(workers: int) -> Iterator[System]:
    from ops.local import LocalSystem, Ports

    with tempfile.TemporaryDirectory(prefix="bench-") as run_dir:
        ports = Ports.free()
        say = lambda line: print(line, flush=True)  # noqa: E731
        # wrk's 32 connections all come from 127.0.0.1: the gateway's per-client limit is off.
        with LocalSystem(
            ports,
            run_dir=Path(run_dir),
            persistent_redis=False,
            with_frontend=False,
            workers=workers,
            rate_limit=False,
            say=say,
        ) as system:
            password = system.credentials.redis_password
            seeder = Seeder(
                **{
                    f"{name}_redis": _redis(f"redis://:{password}@127.0.0.1:{ports.redis(name)}/0")
                    for name in API_SERVICES
                }
            )

            bare, bare_url = start_bare(workers, f"redis://:{password}@127.0.0.1:{ports.redis('customers')}/0", run_dir)
            servers = [child for child in system.children if isinstance(child, Gunicorn | Nginx)] + [bare]

            def worker_pids() -> dict[str, list[int]]:
                # The servers on a request's path: the APIs' gunicorns, nginx and the bare view (not Redis).
                return {child.name: child_pids(child.pid) for child in servers}

            def replica_pids() -> dict[str, list[int]]:
                return {child.name: [child.pid, *child_pids(child.pid)] for child in servers}

            try:
                yield System(
                    system.gateway_url,
                    f"http://127.0.0.1:{ports.customers}",
                    seeder,
                    worker_pids,
                    system.credentials.api_headers(),
                    bare_direct=bare_url,
                    replica_pids=replica_pids,
                )
            finally:
                bare.stop()


def start_bare(workers: int, redis_url: str, run_dir: str) -> tuple[LocalProcess, str]:
    """bench/bare.py under gunicorn with the services' config, on a free port, answering; its URL."""
    port = free_port()
    env = {"BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers), "BARE_REDIS_URL": redis_url}
    argv = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "bench.bare"]
    bare = LocalProcess("bare", argv, env=env, log_path=Path(run_dir) / "bare.log")
    bare.env.pop("DJANGO_SETTINGS_MODULE", None)
    bare.start()
    bare.wait_until_answering("the bare view", lambda: http_status(port, "/api/customers/none/") == 404, timeout=60)
    return bare, f"http://127.0.0.1:{port}"


@contextmanager
def remote_system(args: argparse.Namespace) -> Iterator[System]:
    seeder = None
    if not args.no_seed:
        seeder = Seeder(**{f"{name}_redis": _redis(getattr(args, f"redis_{name}")) for name in API_SERVICES})
    write_headers = {"Authorization": f"Bearer {args.api_token}"} if args.api_token else {}
    yield System(args.gateway_url.rstrip("/"), args.service_url.rstrip("/"), seeder, dict, write_headers)


def discover(gateway: str) -> Dataset:
    """With --no-seed: ids from the first pages of the APIs."""

    def ids(path: str) -> list[str]:
        with urllib.request.urlopen(f"{gateway}{path}?limit=100", timeout=10) as response:  # noqa: S310
            return [row["id"] for row in json.load(response)["results"]]

    customers, products = ids("/api/customers/"), ids("/api/products/")
    if not customers or not products:
        raise SystemExit("--no-seed: the system has no customers or no products")
    return Dataset(customer_ids=customers, product_ids=products, hot_customer=customers[0])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    swarm_engine = swarm_engine_for(args)
    run_swarm_too = args.target in ("swarm", "both") or (
        args.target == "auto" and not args.gateway_url and swarm.deployed(engine=swarm_engine)
    )
    run_local = args.target != "swarm"
    if run_local:
        try:
            wrk_path()
        except WrkError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    setup_django()
    started_at = datetime.now(UTC)
    results: dict[str, object] = {
        "note": (
            "errors = responses >= 400 + socket errors; cpu_us_per_request = CPU time of each group of "
            "server processes (gunicorn workers, nginx workers; in swarm mode the cgroups of the task "
            "containers of each service) during the run / requests"
        ),
        "started_at": started_at.isoformat(timespec="seconds"),
        "label": args.label,
        "machine": machine_info(),
        "wrk": {
            "threads": args.threads,
            "connections": args.connections,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
        },
        "mode": "remote" if args.gateway_url else "local" if run_local else "swarm",
        "workers_per_process": None if args.gateway_url else args.workers,
        # Local mode passes the environment on to gunicorn; unset means config/gunicorn.conf.py's default.
        "gunicorn_threads": None if args.gateway_url else os.environ.get("GUNICORN_THREADS", "default"),
        "sizes": [],
    }
    print(f"machine: {results['machine']}", flush=True)
    if run_local:
        context = remote_system(args) if args.gateway_url else local_system(args.workers)
        with context as system:
            if system.seeder is not None and not args.gateway_url:
                system.seeder.flush()
            for n in args.sizes:
                results["sizes"].append(run_size(n, args, system))  # type: ignore[attr-defined]
            results["worker_rss_mb"] = {
                name: {str(pid): rss_mb(pid) for pid in pids}
                for name, pids in system.worker_pids().items()
                if name != "gateway"
            }
            results["pss_mb_per_replica"] = {name: pss_mb(pids) for name, pids in system.replica_pids().items()}
        print(f"\ngunicorn worker RSS after the benchmark (MB): {json.dumps(results['worker_rss_mb'])}")
        print(f"unique memory (PSS) per replica, master and workers (MB): {json.dumps(results['pss_mb_per_replica'])}")
    if run_swarm_too:
        results["swarm"] = run_swarm(args, swarm_engine)
        if results["sizes"]:
            print_beside(results["sizes"][0], results["swarm"])  # type: ignore[index]
    output = args.output or RESULTS_DIR / f"{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
    write_json(output, results)
    print(f"results written to {output}")
    return 0


def swarm_engine_for(args: argparse.Namespace) -> Engine | None:
    """The engine of the swarm to measure: None for the local one, or the cluster's manager."""
    if args.swarm_engine != "cluster":
        return None
    from ops import cluster

    return cluster.manager_engine()


def run_swarm(args: argparse.Namespace, engine: Engine | None) -> dict[str, object]:
    """Every scenario that needs no data of its own against the deployed stack, from inside a gateway task."""
    say = lambda line: print(line, flush=True)  # noqa: E731
    node_engine = None
    if args.swarm_engine == "cluster":
        from ops import cluster

        node_engine = cluster.node_engine
    target = swarm.connect(engine=engine, node_engine=node_engine, say=say)
    data = target.discover()
    print(
        f"\nswarm mode: the deployed stack, from a gateway task's network ({target.gateway}, the internal "
        f"listener); its own data ({len(data.customer_ids)} customers and {len(data.product_ids)} products read)",
        flush=True,
    )
    targets = Targets(target.gateway, target.customers_direct)
    rows: dict[str, dict[str, object]] = {}
    for scenario in args.scenarios:
        if scenario.needs_bare or scenario.needs_seed:
            continue
        containers = target.task_containers()
        rows[scenario.name] = measure(
            scenario,
            targets,
            data,
            args,
            headers=swarm_write_headers(args),
            cpu=lambda containers=containers: target.cpu_seconds(containers),  # type: ignore[misc]
            runner=target.run,
            script=swarm.SCRIPT,
        )
    size = {
        "n": None,
        "customers_seen": len(data.customer_ids),
        "scenarios": rows,
        "gateway_overhead": gateway_overhead(rows),
        "ratios": ratios(rows),
        "invoice_split": invoice_split(rows),
    }
    # After the scenarios: what each replica holds once it has served them.
    size["pss_mb_per_task"] = target.pss_mb()
    print_table({**size, "title": "swarm mode, the stack's own data"})
    print_ratios(size)
    print(f"unique memory (PSS) per task, master and workers (MB): {json.dumps(size['pss_mb_per_task'])}")
    return size


def swarm_write_headers(args: argparse.Namespace) -> dict[str, str]:
    return {"Authorization": f"Bearer {args.api_token}"} if args.api_token else {}


def print_beside(local_size: dict[str, Any], swarm_size: dict[str, Any]) -> None:
    """Swarm mode's figures next to local mode's (its first N), as ratios: both from this one run."""
    print(f"\nswarm mode beside local mode (N = {local_size['n']:,}), same run")
    print("| scenario | local req/s | swarm req/s | swarm / local | local CPU us/req | swarm CPU us/req |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, row in swarm_size["scenarios"].items():
        other = local_size["scenarios"].get(name)
        if other is None:
            continue
        local_rps, swarm_rps = other["requests_per_second"], row["requests_per_second"]
        local_cpu, swarm_cpu = (sum(r["cpu_us_per_request"].values()) for r in (other, row))
        ratio = f"{swarm_rps / local_rps:.2f}" if local_rps else "-"
        print(f"| {name} | {local_rps:,.0f} | {swarm_rps:,.0f} | {ratio} | {local_cpu:,} | {swarm_cpu:,} |")
    print(flush=True)


def measure(
    scenario: Scenario,
    targets: Targets,
    data: Dataset,
    args: argparse.Namespace,
    *,
    headers: dict[str, str],
    cpu: Callable[[], dict[str, float]],
    runner: WrkRunner = run_here,
    script: str = str(LUA_SCRIPT),
) -> dict[str, object]:
    """A warm-up, then a measured wrk run of one scenario; its figures and the server CPU per request."""
    url = scenario.url(targets, data)
    lua_args = scenario.lua_args(data)
    # Only the write scenario carries the token, as a real client's reads would not.
    headers = headers if lua_args else {}
    load = load_average()
    print(f"  {scenario.name:<22} load {load[0]:5.2f} ... ", end="", flush=True)
    wrk = functools.partial(
        run_wrk,
        url,
        threads=args.threads,
        connections=args.connections,
        lua_args=lua_args,
        headers=headers,
        runner=runner,
        script=script,
    )
    if args.warmup > 0:
        wrk(seconds=args.warmup)
    cpu_before = cpu()
    figures: Figures = wrk(seconds=args.duration)
    # CPU per request barely depends on what else runs on the machine, unlike requests/s.
    cpu_after = cpu()
    cpu_us = {name: round((cpu_after[name] - cpu_before[name]) / max(figures.requests, 1) * 1e6) for name in cpu_before}
    print(f"{figures.requests_per_second:9.1f} req/s, server CPU {sum(cpu_us.values())} us/request", flush=True)
    return {
        "description": scenario.description,
        "url": url,
        "load_average_before": load,
        **figures.as_dict(),
        "cpu_us_per_request": cpu_us,
    }


def run_size(n: int, args: argparse.Namespace, system: System) -> dict[str, object]:
    if system.seeder is not None:
        began = time.perf_counter()
        print(f"\nseeding N={n} customers, products and invoices ...", flush=True)
        system.seeder.grow_to(n)
        print(f"  seeded in {time.perf_counter() - began:.1f}s", flush=True)
        data = system.seeder.data
        deep_cursor = system.seeder.cursor_at(DEEP_PAGE_FRACTION)
    else:
        data = discover(system.gateway)
        deep_cursor = ""
    targets = Targets(system.gateway, system.customers_direct, deep_cursor, system.bare_direct)
    rows: dict[str, dict[str, object]] = {}
    for scenario in args.scenarios:
        if scenario.needs_bare and not targets.bare_direct:
            continue

        def cpu() -> dict[str, float]:
            return {name: cpu_seconds(group) for name, group in system.worker_pids().items()}

        rows[scenario.name] = measure(scenario, targets, data, args, headers=system.write_headers, cpu=cpu)
    invoices_total = data.invoices if system.seeder is not None else None
    size = {
        "n": n,
        "invoices_seeded": invoices_total,
        "scenarios": rows,
        "gateway_overhead": gateway_overhead(rows),
        "ratios": ratios(rows),
        "invoice_split": invoice_split(rows),
    }
    print_table(size)
    print_ratios(size)
    return size


def print_ratios(size: dict[str, Any]) -> None:
    for name, ratio in size["ratios"].items():
        print(
            f"{name} / {ratio['to']}: server CPU per request {ratio['cpu']:.2f}x, "
            f"req/s {ratio['requests_per_second']:.2f}x",
            flush=True,
        )
    if size["invoice_split"]:
        parts = ", ".join(f"{name} {part['to_get']:.2f}x" for name, part in size["invoice_split"].items())
        print(f"invoice_create's server CPU in GETs through the gateway (same run): {parts}", flush=True)
    if size["gateway_overhead"]:
        overhead = size["gateway_overhead"]
        print(
            f"gateway overhead on GET one customer: nginx used {overhead['nginx_cpu_us_per_request']} us of CPU per "
            f"request, {overhead['share_of_server_cpu']:.0%} of the request's server CPU\n",
            flush=True,
        )


def ratios(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each single-entity scenario against its reference of the same run (CEILING_RATIOS): server
    CPU per request and req/s, as ratios. Both taken in one run, they hold on a shared machine."""
    found = {}
    for name, reference in CEILING_RATIOS.items():
        if name not in rows or reference not in rows:
            continue
        cpu, reference_cpu = (sum(rows[key]["cpu_us_per_request"].values()) for key in (name, reference))
        rps, reference_rps = (rows[key]["requests_per_second"] for key in (name, reference))
        if reference_cpu and reference_rps:
            found[name] = {
                "to": reference,
                "cpu": round(cpu / reference_cpu, 2),
                "requests_per_second": round(rps / reference_rps, 2),
            }
    return found


def invoice_split(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]] | None:
    """Where an invoice POST's server CPU goes, each part also as a multiple of one GET through the
    gateway of the same run: the invoices service, the two lookups it makes (the customers and
    products services answering them) and nginx (the POST and both lookups pass it).

    The lookups are a floor the invoice code cannot lower: with them at about two GETs, the
    invoice-to-GET ratio can only reach 3.5x if everything else costs under 1.5 GETs.
    """
    invoice, get = rows.get("invoice_create"), rows.get("customer_get_gateway")
    if not invoice or not get or not sum(get["cpu_us_per_request"].values()):
        return None
    cpu, get_cpu = invoice["cpu_us_per_request"], sum(get["cpu_us_per_request"].values())
    parts = {
        "invoices": cpu.get("invoices", 0),
        "lookups": sum(us for name, us in cpu.items() if name.startswith(("customers", "products"))),
        "gateway": cpu.get("gateway", 0),
    }
    return {name: {"cpu_us_per_request": us, "to_get": round(us / get_cpu, 2)} for name, us in parts.items()}


def gateway_overhead(rows: dict[str, dict[str, object]]) -> dict[str, float] | None:
    """nginx's own CPU per GET through the gateway, alone and as a share of all server CPU for it.

    The req/s of the gateway and direct scenarios differ for other reasons too (in local mode the
    gateway balances over two customers processes, the direct run hits one); CPU splits cleanly.
    """
    row = rows.get("customer_get_gateway")
    cpu = row.get("cpu_us_per_request") if row else None
    if not cpu or "gateway" not in cpu or sum(cpu.values()) == 0:
        return None
    return {
        "nginx_cpu_us_per_request": cpu["gateway"],
        "share_of_server_cpu": round(cpu["gateway"] / sum(cpu.values()), 3),
    }
