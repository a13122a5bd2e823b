"""python -m bench.servers: the same service under different WSGI servers and worker models.

Serves the customers service straight from each server (no gateway) on one throwaway
redis-server with the same data, drives GET one customer with wrk, and prints requests/s,
latency, the server's CPU per request and its workers' memory. Rounds are interleaved, so a
noisy neighbour hits every configuration alike.

The project runs gunicorn (config/gunicorn.conf.py). Other servers are measured only when they
are importable in the running interpreter; none is in requirements.txt. To compare granian:

    python -m venv ../servers-venv && ../servers-venv/bin/pip install -r requirements.txt granian
    ../servers-venv/bin/python -m bench.servers
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.inprocess import DATABASES, empty_seeder, throwaway_redis
from bench.machine import child_pids, cpu_seconds, load_average, rss_mb
from bench.report import print_markdown, write_figures
from bench.seed import setup_django
from bench.wrk import run_wrk
from ops.processes import LocalProcess, free_port, http_status
from ops.services import service


@dataclass(frozen=True)
class ServerConfig:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    module: str = "gunicorn"

    def argv(self, port: int, workers: int) -> list[str]:
        if self.module == "granian":
            threads = self.env.get("GUNICORN_THREADS", "4")
            return [
                sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1",
                "--port", str(port), "--workers", str(workers), "--blocking-threads", threads,
                "--http", "1", "--no-ws", "config.wsgi:application",
            ]  # fmt: skip
        return [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]


CONFIGS = [
    # gunicorn as the project runs it: threaded workers (config/gunicorn.conf.py's default, 4 threads).
    ServerConfig("gunicorn-gthread"),
    ServerConfig("gunicorn-sync", {"GUNICORN_THREADS": "1"}),
    # HTTP handled in Rust; the same number of threads per worker as gunicorn's default.
    ServerConfig("granian", module="granian"),
]


SERVER_START_TIMEOUT = 30.0


def available(config: ServerConfig) -> bool:
    return importlib.util.find_spec(config.module) is not None


def measure(config: ServerConfig, customer_id: str, redis_port: int, args: argparse.Namespace) -> dict[str, object]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as metrics_dir:
        env = {
            "DJANGO_SETTINGS_MODULE": f"{service('customers').settings}",
            "SECRET_KEY": "bench-only-not-a-secret",
            "API_WRITE_TOKEN": "bench-only-not-a-secret",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/{DATABASES['customers']}",
            "BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(args.workers),
            "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
            **config.env,
        }
        server = LocalProcess(config.name, config.argv(port, args.workers), env=env).start()
        try:
            url = f"http://127.0.0.1:{port}"
            server.wait_until_answering(
                f"{config.name} answering 200 on {url}/healthz",
                lambda: http_status(port, "/healthz") == 200,
                timeout=SERVER_START_TIMEOUT,
            )
            target = f"{url}/api/customers/{customer_id}/"
            run_wrk(target, threads=args.threads, connections=args.connections, seconds=args.warmup)
            pids = [server.pid, *child_pids(server.pid)]
            load = load_average()[0]
            cpu_before = cpu_seconds(pids)
            figures = run_wrk(target, threads=args.threads, connections=args.connections, seconds=args.duration)
            cpu_us = (cpu_seconds(pids) - cpu_before) / max(figures.requests, 1) * 1e6
            workers_rss = [rss_mb(pid) for pid in child_pids(server.pid)]
        finally:
            server.stop(timeout=30)
    return {
        "server": config.name,
        **figures.as_dict(),
        "cpu_us_per_request": round(cpu_us),
        "worker_rss_mb": workers_rss,
        "load": load,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.servers",
        description="GET one customer straight to the customers service under each WSGI server configuration.",
    )
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (default %(default)s)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measured run (default %(default)s)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before each run")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default %(default)s)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per server (default %(default)s)")
    parser.add_argument("--output", type=Path, help="also write the figures to this JSON file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configs = [config for config in CONFIGS if available(config)]
    for config in CONFIGS:
        if config not in configs:
            print(f"skipping {config.name}: `{config.module}` is not installed in this interpreter (see --help)")
    setup_django()
    rows = []
    with throwaway_redis() as port:
        seeder = empty_seeder(port)
        seeder.grow_to(1000)
        customer_id = seeder.data.customer_ids[500]
        for round_number in range(1, args.rounds + 1):
            for config in configs:
                row = {"round": round_number, **measure(config, customer_id, port, args)}
                print(
                    f"round {round_number} {config.name:<17} {row['requests_per_second']:8.1f} req/s  "
                    f"p99 {row['p99_ms']:7.2f} ms  CPU {row['cpu_us_per_request']:5} us/req  load {row['load']:.2f}",
                    flush=True,
                )
                rows.append(row)
    print()
    print_markdown(
        ["server", "round", "req/s", "p50 ms", "p99 ms", "errors", "server CPU us/req", "worker RSS MB"],
        "lrrrrrrl",
        (
            (
                row["server"], row["round"], f"{row['requests_per_second']:,.0f}", row["p50_ms"], row["p99_ms"],
                row["errors"], f"{row['cpu_us_per_request']:,}",
                ", ".join(f"{value:.0f}" for value in row["worker_rss_mb"] if value is not None),
            )
            for row in rows
        ),
    )  # fmt: skip
    write_figures(args.output, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
