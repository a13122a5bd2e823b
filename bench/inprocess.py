"""python -m bench.inprocess: what one request costs inside a service, without any server.

wrk figures on a small shared VM move by 20-40% between identical runs. This benchmark removes
everything but the service itself: a child process per service loads its real settings and
calls the WSGI application (middleware, URL resolution, DRF, the Redis round trip to a real
redis-server, the JSON log line, the Prometheus metrics in multiprocess mode) in a loop, one
request at a time, and reports the fastest and the median of many short batches. The fastest
batch is the figure to compare between commits: it is the one the machine's neighbours
disturbed least.

What it leaves out: the HTTP server (parsing, writing, keep-alive), the gateway and concurrency.
Those are what `python -m bench` measures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import redis

from bench.cli import DEEP_PAGE_FRACTION, SCENARIOS, Targets
from bench.machine import load_average
from bench.report import print_markdown, write_figures
from bench.seed import Seeder, setup_django
from common.waiting import WaitTimeout
from ops.processes import IN_MEMORY, ProcessError, RedisServer, free_port
from ops.services import API_SERVICES

REPO_ROOT = Path(__file__).resolve().parent.parent
# The reads of `python -m bench` that one service answers alone (an invoice POST calls two others).
SCENARIO_NAMES = ("customer_get_direct", "customers_first_page", "customers_deep_page", "customer_invoices")
REDIS_START_TIMEOUT = 10.0
# One database per service with a Redis, on one throwaway redis-server.
DATABASES = {name: number for number, name in enumerate(API_SERVICES)}


@contextmanager
def throwaway_redis() -> Iterator[int]:
    """A redis-server on a free port that keeps nothing on disk; stopped (by its PID) on exit."""
    try:
        server = RedisServer(free_port(), options=IN_MEMORY)
    except ProcessError as error:
        raise SystemExit(str(error)) from None
    try:
        try:
            server.start().wait_ready(timeout=REDIS_START_TIMEOUT)
        except (ProcessError, WaitTimeout) as error:
            raise SystemExit(str(error)) from None
        yield server.port
    finally:
        server.stop(timeout=10)


def empty_seeder(redis_port: int) -> Seeder:
    """A seeder for the three services' databases on the throwaway redis-server, emptied first."""
    seeder = Seeder(
        **{
            f"{name}_redis": redis.Redis(port=redis_port, db=db, decode_responses=True)
            for name, db in DATABASES.items()
        }
    )
    seeder.flush()
    return seeder


def scenarios(seeder: Seeder) -> dict[str, dict[str, str]]:
    """Service -> {scenario: path}: the requests `python -m bench` sends, as paths for the service."""
    targets = Targets(gateway="", customers_direct="", deep_cursor=seeder.cursor_at(DEEP_PAGE_FRACTION))
    by_service: dict[str, dict[str, str]] = {}
    for scenario in SCENARIOS:
        if scenario.name in SCENARIO_NAMES:
            path = scenario.url(targets, seeder.data)
            by_service.setdefault(path.split("/")[2], {})[scenario.name] = path
    return by_service


# ------------------------------------------------------------------------------
# The child: one service's WSGI application, called in a loop
# ------------------------------------------------------------------------------
def _environ(path: str) -> dict[str, object]:
    path_info, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT": "*/*",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }


def _request(application: Callable, path: str) -> None:
    status: list[str] = []
    body = application(_environ(path), lambda code, headers, exc_info=None: status.append(code))
    b"".join(body)
    body.close()
    if not status[0].startswith("200"):
        raise RuntimeError(f"GET {path} answered {status[0]}")


def time_requests(application: Callable, path: str, *, batches: int, batch: int) -> list[float]:
    """Microseconds per request of each batch, after a warm-up."""
    for _ in range(batch):
        _request(application, path)
    per_request = []
    for _ in range(batches):
        started = time.perf_counter()
        for _ in range(batch):
            _request(application, path)
        per_request.append((time.perf_counter() - started) / batch * 1e6)
    return per_request


def child(service: str, paths: dict[str, str], batches: int, batch: int) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = f"config.settings.{service}"
    # The log lines are formatted and written as in production, to a sink instead of the terminal.
    results = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.dup2(devnull, sys.stderr.fileno())
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    for name, path in paths.items():
        figures = time_requests(application, path, batches=batches, batch=batch)
        results.write(json.dumps({"scenario": name, "us_per_request": figures}) + "\n")
    results.flush()


def run_child(service: str, paths: dict[str, str], redis_port: int, args: argparse.Namespace) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as metrics_dir:
        env = {
            **os.environ,
            "SECRET_KEY": "bench-only-not-a-secret",
            "API_WRITE_TOKEN": "bench-only-not-a-secret",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/{DATABASES[service]}",
            "CUSTOMERS_URL": "http://127.0.0.1:9",
            "PRODUCTS_URL": "http://127.0.0.1:9",
            "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
        }
        command = [sys.executable, "-m", "bench.inprocess", "--child", service, "--paths", json.dumps(paths)]
        command += ["--batches", str(args.batches), "--batch", str(args.batch)]
        output = subprocess.run(command, cwd=REPO_ROOT, env=env, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in output.splitlines()]


# ------------------------------------------------------------------------------
# The parent: data, children, table
# ------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.inprocess",
        description=(
            "Microseconds one request costs inside a service (no HTTP server, no gateway): the real "
            "WSGI application against a real redis-server, fastest and median of many batches."
        ),
    )
    parser.add_argument("--sizes", default="1000,100000", help="comma-separated N values (default %(default)s)")
    parser.add_argument("--batches", type=int, default=20, help="batches per scenario (default %(default)s)")
    parser.add_argument("--batch", type=int, default=200, help="requests per batch (default %(default)s)")
    parser.add_argument("--output", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args.child, json.loads(args.paths), args.batches, args.batch)
        return 0
    setup_django()
    rows = []
    with throwaway_redis() as port:
        seeder = empty_seeder(port)
        for n in (int(size) for size in args.sizes.split(",")):
            seeder.grow_to(n)
            load = load_average()[0]
            for service, paths in scenarios(seeder).items():
                for result in run_child(service, paths, port, args):
                    figures = result["us_per_request"]
                    rows.append(
                        {
                            "n": n,
                            "scenario": result["scenario"],
                            "fastest_us": round(min(figures)),
                            "median_us": round(statistics.median(figures)),
                            "load": load,
                        }
                    )
    print_markdown(
        ["N", "scenario", "fastest us/request", "median us/request", "load at start"],
        "rlrrr",
        (
            (f"{row['n']:,}", f"`{row['scenario']}`", f"{row['fastest_us']:,}", f"{row['median_us']:,}", row["load"])
            for row in rows
        ),
    )
    write_figures(args.output, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
