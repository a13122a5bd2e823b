"""A small, bounded load generator for the gateway: proof that scaling, failures and upgrades
cost no requests.

    python -m ops.load                                  # 30 s, mixed GET/POST on http://127.0.0.1:80
    python -m ops.load --duration 60 --rate 30 --verify # and check every created entity afterwards
    python -m ops.load --mix customers.list=1 --threads 2 --duration 20
    python -m ops.load --json report.json

Every second it prints how many requests were sent and failed, and which X-Service-Version and
X-Served-By values answered. It stops at --duration or --requests, whichever comes first, and
prints a summary: totals, failures by kind, versions. GETs are never retried by the client: a
failure the gateway did not absorb is counted. A POST that got no answer (connection error,
timeout) or a 5xx may have been written before its answer was lost, so it is sent again with
the same Idempotency-Key (up to 5 attempts, 0.5 s of backoff doubling to 4 s, before the run
ends), which makes the service return the first result instead of storing it twice. It counts
as failed only when every attempt failed; the summary says how many POSTs needed another
attempt. A 4xx is an answer, never sent again.

Every entity acknowledged with 201 is recorded; --verify reads each one back at the end.
Writes send the API token of .run/credentials.env (made by `make up`), or --api-token's.

Library: ``LoadRunner(LoadConfig(...)).start()`` ... ``report = runner.stop()``, or
``run_load(config)`` to block until the bounds are reached.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import dataclasses
import json
import random
import sys
import threading
import time
import typing
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

import requests

from ops import credentials

DEFAULT_MIX = {
    "customers.list": 3,
    "customers.get": 3,
    "customers.create": 2,
    "products.list": 2,
    "invoices.list": 2,
    "invoices.create": 2,
    "frontend.home": 1,
}
OPERATIONS = tuple(DEFAULT_MIX)
# Read-back attempts per entity answered 429 (rate limited) by the gateway.
RATE_LIMITED_RETRIES = 30
# A POST without an answer or with a 5xx: attempts in all, and the pause before the second one
# (doubled before each next one, up to POST_MAX_PAUSE).
POST_ATTEMPTS = 5
POST_RETRY_PAUSE = 0.5
POST_MAX_PAUSE = 4.0
VERIFY_PATH = {"customer": "/api/customers/{id}/", "invoice": "/api/invoices/{id}/", "product": "/api/products/{id}/"}


class LoadError(RuntimeError):
    """The load cannot start (the API does not answer its setup requests)."""


@dataclasses.dataclass(frozen=True)
class Posted:
    """A POST sent until it got an answer worth keeping or ran out of attempts, all with one
    Idempotency-Key: the last attempt's response (None when it got none) or exception, and what
    each attempt before it got (a status, or the exception's name)."""

    response: requests.Response | None
    error: requests.RequestException | None
    failed_attempts: tuple[int | str, ...]

    @property
    def status(self) -> int | str:
        """The last attempt's status, or the name of its exception."""
        return self.response.status_code if self.response is not None else type(self.error).__name__

    def result(self) -> requests.Response:
        """The last response; what the last attempt raised when it got none."""
        if self.response is None:
            raise typing.cast(requests.RequestException, self.error)
        return self.response


def post_idempotently(
    session: requests.Session,
    url: str,
    body: object,
    *,
    headers: Mapping[str, str],
    timeout: float,
    attempts: int = POST_ATTEMPTS,
    pause: float = POST_RETRY_PAUSE,
    max_pause: float = POST_MAX_PAUSE,
    also_retry: Collection[int] = (),
) -> Posted:
    """POST `body` under a new Idempotency-Key; no answer or a 5xx (or a status in `also_retry`)
    sends it again with the same key, up to `attempts` times in all.

    The pause before another attempt is the answer's Retry-After when it has one, else `pause`,
    doubled each time up to `max_pause`.
    """
    key = str(uuid.uuid4())
    failed: list[int | str] = []
    while True:
        response, error = None, None
        try:
            response = session.post(url, json=body, headers={**headers, "Idempotency-Key": key}, timeout=timeout)
        except requests.RequestException as exc:
            error = exc
        posted = Posted(response, error, tuple(failed))
        status = posted.status
        again = not isinstance(status, int) or status >= 500 or status in also_retry
        if not again or len(failed) + 1 >= attempts:
            return posted
        failed.append(status)
        retry_after = response.headers.get("Retry-After", "") if response is not None else ""
        time.sleep(float(retry_after) if retry_after.isdigit() else min(pause * 2 ** (len(failed) - 1), max_pause))


@dataclasses.dataclass
class LoadConfig:
    base_url: str = "http://127.0.0.1:80"
    duration: float = 30.0
    max_requests: int = 100_000
    threads: int = 4
    # Requests per second over all threads; 0 sends as fast as the threads can.
    rate: float = 20.0
    mix: dict[str, float] = dataclasses.field(default_factory=lambda: dict(DEFAULT_MIX))
    timeout: float = 30.0
    report_every: float = 1.0
    # Receives the per-second lines; None keeps quiet.
    printer: Callable[[str], None] | None = print
    # Sent as "Authorization: Bearer <token>" with every write; default: .run/credentials.env's.
    api_token: str = dataclasses.field(default_factory=lambda: credentials.load().api_token)

    def __post_init__(self) -> None:
        unknown = set(self.mix) - set(OPERATIONS)
        if unknown:
            raise ValueError(f"unknown operations {sorted(unknown)}; known: {', '.join(OPERATIONS)}")
        if not any(weight > 0 for weight in self.mix.values()):
            raise ValueError("the mix needs at least one operation with a positive weight")
        self.base_url = self.base_url.rstrip("/")


@dataclasses.dataclass
class LoadReport:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    by_operation: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    errors_by_kind: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    # "customers=v2" -> responses that carried that X-Service-Version
    versions: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    # "customers=<X-Served-By>" -> responses
    served_by: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    # (kind, id) of every entity acknowledged with 201, setup included
    created: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    error_samples: list[str] = dataclasses.field(default_factory=list)
    # POSTs sent more than once (same Idempotency-Key), whatever their last answer
    retried_posts: int = 0
    # "customers.create 502" -> attempts that got it and were followed by another
    retried_after: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
            "requests_per_second": round(self.requests / self.seconds, 1) if self.seconds else 0,
            "by_operation": dict(self.by_operation),
            "errors_by_kind": dict(self.errors_by_kind),
            "versions": dict(self.versions),
            "served_by": dict(self.served_by),
            "created": [{"kind": kind, "id": id_} for kind, id_ in self.created],
            "error_samples": self.error_samples,
            "retried_posts": self.retried_posts,
            "retried_after": dict(self.retried_after),
        }

    def summary(self) -> str:
        rate = self.requests / self.seconds if self.seconds else 0.0
        lines = [
            f"requests {self.requests} in {self.seconds:.1f}s ({rate:.1f}/s), failed {self.errors}",
            "by operation: " + ", ".join(f"{op} {n}" for op, n in sorted(self.by_operation.items())),
            "versions: " + (", ".join(f"{v} x{n}" for v, n in sorted(self.versions.items())) or "-"),
            f"served by {len(self.served_by)} distinct tasks",
            f"created {len(self.created)} entities (201)",
            f"POSTs sent again with their Idempotency-Key: {self.retried_posts}"
            + (
                " after " + ", ".join(f"{k} x{n}" for k, n in self.retried_after.most_common())
                if self.retried_after
                else ""
            ),
        ]
        if self.errors_by_kind:
            lines.append("failures: " + ", ".join(f"{k} x{n}" for k, n in self.errors_by_kind.most_common()))
            lines.extend(f"  e.g. {sample}" for sample in self.error_samples[:5])
        return "\n".join(lines)

    def missing_created(self, base_url: str, *, timeout: float = 30.0, threads: int = 8) -> list[str]:
        """Every recorded entity that cannot be read back (status other than 200), as 'kind id: why'.

        Reads back as fast as the threads can, so the gateway's per-client rate limit answers some
        with 429: those never reached a service and are asked again after Retry-After (bounded).
        """
        base = base_url.rstrip("/")

        def check(item: tuple[str, str]) -> str | None:
            kind, id_ = item
            url = base + VERIFY_PATH[kind].format(id=id_)
            try:
                response = requests.get(url, timeout=timeout)
                for _ in range(RATE_LIMITED_RETRIES):
                    if response.status_code != 429:
                        break
                    time.sleep(min(float(response.headers.get("Retry-After") or 1), 5.0))
                    response = requests.get(url, timeout=timeout)
            except requests.RequestException as exc:
                return f"{kind} {id_}: {type(exc).__name__}"
            return None if response.status_code == 200 else f"{kind} {id_}: HTTP {response.status_code}"

        with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
            return [problem for problem in pool.map(check, self.created) if problem]


class LoadRunner:
    """Sends the configured mix from several threads until stopped or a bound is reached."""

    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self.report = LoadReport()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sent = 0
        self._started = 0.0
        self._next_at = 0.0
        self._customers: list[str] = []
        self._product_id = ""
        self._second = _Second()
        self._operations, self._weights = zip(*[(op, w) for op, w in config.mix.items() if w > 0])

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> LoadRunner:
        self._setup()
        self._started = time.monotonic()
        self._threads = [
            threading.Thread(target=self._work, name=f"load-{n}", daemon=True) for n in range(self.config.threads)
        ]
        self._threads.append(threading.Thread(target=self._print_seconds, name="load-report", daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> LoadReport:
        self._stop.set()
        return self.wait()

    def wait(self) -> LoadReport:
        workers, reporter = self._threads[:-1], self._threads[-1:]
        for thread in workers:
            thread.join()
        self.report.seconds = time.monotonic() - self._started
        for thread in reporter:
            thread.join()
        return self.report

    def _setup(self) -> None:
        """One product and one customer, so GETs by id and invoices have something to point at."""
        session = requests.Session()
        try:
            product = self._post(session, "setup", "/api/products/", {"name": "Load test widget", "unit_price": "3.20"})
            customer = self._post(
                session, "setup", "/api/customers/", {"name": "Load test buyer", "address": "1 Bench St"}
            )
        except requests.RequestException as exc:
            raise LoadError(f"{self.config.base_url} does not answer: {exc}") from exc
        if product.status_code != 201 or customer.status_code != 201:
            raise LoadError(
                f"setup POSTs answered {product.status_code} and {customer.status_code}: {customer.text[:200]}"
            )
        self._product_id = product.json()["id"]
        self._customers.append(customer.json()["id"])
        self.report.created += [("product", self._product_id), ("customer", self._customers[0])]

    # --- workers -------------------------------------------------------------------------------
    def _next_slot(self) -> float | None:
        """Claims the next request; returns when to send it, or None when a bound is reached.

        Slots are spaced 1/rate apart from the later of the previous slot and now: when the
        system slows down the load slows with it instead of bursting to catch up.
        """
        with self._lock:
            now = time.monotonic()
            if (
                self._stop.is_set()
                or self._sent >= self.config.max_requests
                or now - self._started >= self.config.duration
            ):
                return None
            self._sent += 1
            if self.config.rate <= 0:
                return now
            when = max(self._next_at, now)
            self._next_at = when + 1 / self.config.rate
            return when

    def _work(self) -> None:
        session = requests.Session()
        rng = random.Random()  # noqa: S311 (picks test data, not secrets)
        while (when := self._next_slot()) is not None:
            delay = when - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            operation = rng.choices(self._operations, self._weights)[0]
            self._one(session, rng, operation)

    def _one(self, session: requests.Session, rng: random.Random, operation: str) -> None:
        service = operation.split(".")[0]
        expected = 201 if operation.endswith(".create") else 200
        created_kind = {"customers.create": "customer", "invoices.create": "invoice"}.get(operation)
        try:
            response = self._send(session, rng, operation)
        except requests.RequestException as exc:
            self._record(operation, service, None, f"{type(exc).__name__}", f"{operation}: {exc}")
            return
        problem = None
        if response.status_code != expected:
            problem = f"HTTP {response.status_code}"
        created_id = None
        if problem is None and created_kind:
            try:
                created_id = response.json()["id"]
            except (ValueError, KeyError, TypeError):
                problem = "201 without an id"
        sample = f"{operation}: {problem} {response.text[:160]!r}" if problem else ""
        self._record(operation, service, response, problem, sample, created_kind, created_id)

    def _send(self, session: requests.Session, rng: random.Random, operation: str) -> requests.Response:
        get = session.get
        timeout = self.config.timeout
        base = self.config.base_url
        if operation == "customers.list":
            return get(f"{base}/api/customers/?limit=5", timeout=timeout)
        if operation == "customers.get":
            with self._lock:
                customer = rng.choice(self._customers)
            return get(f"{base}/api/customers/{customer}/", timeout=timeout)
        if operation == "products.list":
            return get(f"{base}/api/products/?limit=5", timeout=timeout)
        if operation == "invoices.list":
            return get(f"{base}/api/invoices/?limit=5", timeout=timeout)
        if operation == "frontend.home":
            return get(f"{base}/", timeout=timeout)
        if operation == "customers.create":
            body = {"name": f"Load {uuid.uuid4().hex[:8]}", "address": f"{rng.randint(1, 999)} Load Road"}
            return self._post(session, operation, "/api/customers/", body)
        if operation == "invoices.create":
            with self._lock:
                customer = rng.choice(self._customers)
            body = {"customer_id": customer, "product_id": self._product_id, "quantity": rng.randint(1, 5)}
            return self._post(session, operation, "/api/invoices/", body)
        raise ValueError(operation)

    def _post(self, session: requests.Session, operation: str, path: str, body: dict) -> requests.Response:
        """One POST, sent again with its Idempotency-Key while it fails (post_idempotently)."""
        headers = {"Authorization": f"Bearer {self.config.api_token}"}
        posted = post_idempotently(
            session, self.config.base_url + path, body, headers=headers, timeout=self.config.timeout
        )
        if posted.failed_attempts:
            with self._lock:
                self.report.retried_posts += 1
                self.report.retried_after.update(f"{operation} {status}" for status in posted.failed_attempts)
        return posted.result()

    def _record(
        self,
        operation: str,
        service: str,
        response: requests.Response | None,
        problem: str | None,
        sample: str,
        created_kind: str | None = None,
        created_id: str | None = None,
    ) -> None:
        version = response.headers.get("X-Service-Version") if response is not None else None
        served_by = response.headers.get("X-Served-By") if response is not None else None
        with self._lock:
            report = self.report
            report.requests += 1
            report.by_operation[operation] += 1
            self._second.requests += 1
            if version:
                report.versions[f"{service}={version}"] += 1
                self._second.versions[f"{service}={version}"] += 1
            if served_by:
                report.served_by[f"{service}={served_by}"] += 1
                self._second.served_by.add(served_by)
            if problem:
                report.errors += 1
                report.errors_by_kind[f"{operation} {problem}"] += 1
                self._second.errors += 1
                if len(report.error_samples) < 50:
                    report.error_samples.append(f"{time.monotonic() - self._started:6.1f}s {sample}")
            elif created_id:
                report.created.append((created_kind or "", created_id))
                if created_kind == "customer" and len(self._customers) < 500:
                    self._customers.append(created_id)

    # --- per-second lines ----------------------------------------------------------------------
    def _print_seconds(self) -> None:
        printer = self.config.printer
        tick = self._started
        while not self._stop.is_set() and any(t.is_alive() for t in self._threads if t.name != "load-report"):
            tick += self.config.report_every
            self._stop.wait(max(0.0, tick - time.monotonic()))
            with self._lock:
                second, self._second = self._second, _Second()
            if printer is not None:
                printer(second.line(time.monotonic() - self._started))


@dataclasses.dataclass
class _Second:
    requests: int = 0
    errors: int = 0
    versions: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    served_by: set[str] = dataclasses.field(default_factory=set)

    def line(self, at: float) -> str:
        versions = " ".join(f"{v}:{n}" for v, n in sorted(self.versions.items())) or "-"
        served = " ".join(sorted(self.served_by)) or "-"
        return f"{at:6.1f}s  req {self.requests:4d}  err {self.errors:3d}  versions {versions}  served-by {served}"


def run_load(config: LoadConfig) -> LoadReport:
    return LoadRunner(config).start().wait()


def parse_mix(text: str) -> dict[str, float]:
    mix = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        mix[name.strip()] = float(weight) if weight else 1.0
    return mix


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ops.load", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:80", help="gateway base URL (default http://127.0.0.1:80)")
    parser.add_argument("--duration", type=float, default=30, help="seconds to run at most (default 30)")
    parser.add_argument("--requests", type=int, default=100_000, help="requests to send at most (default 100000)")
    parser.add_argument("--threads", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--rate", type=float, default=20, help="requests per second in total; 0: unthrottled")
    parser.add_argument(
        "--mix",
        type=parse_mix,
        default=dict(DEFAULT_MIX),
        help="operation=weight,... from: " + ", ".join(OPERATIONS) + " (default: all, mostly reads)",
    )
    parser.add_argument("--timeout", type=float, default=30, help="per-request timeout in seconds")
    parser.add_argument("--verify", action="store_true", help="read back every created entity at the end")
    parser.add_argument("--json", type=Path, help="write the report (and verification) as JSON here")
    parser.add_argument("--quiet", action="store_true", help="no per-second lines")
    parser.add_argument("--api-token", help="the token writes send (default: the one in .run/credentials.env)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        token = {"api_token": args.api_token} if args.api_token else {}
        config = LoadConfig(
            **token,
            base_url=args.url,
            duration=args.duration,
            max_requests=args.requests,
            threads=args.threads,
            rate=args.rate,
            mix=args.mix,
            timeout=args.timeout,
            printer=None if args.quiet else print,
        )
    except (ValueError, credentials.CredentialsMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    runner = LoadRunner(config)
    try:
        runner.start()
        report = runner.wait()
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        report = runner.stop()
    print()
    print(report.summary())
    result = report.as_dict()
    missing: list[str] = []
    if args.verify:
        missing = report.missing_created(args.url)
        print(f"verify: {len(report.created) - len(missing)}/{len(report.created)} created entities read back")
        for problem in missing[:20]:
            print(f"  missing {problem}")
        result["missing_created"] = missing
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"report written to {args.json}")
    return 1 if report.errors or missing else 0


if __name__ == "__main__":
    sys.exit(main())
