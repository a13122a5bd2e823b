"""The one HTTP client core for calls to our own services: invoices to customers and products, the
frontend and the demo seed to the gateway.

One connection pool per target (a base URL), explicit connect/read timeouts, bounded retries, the
current request id passed on, an optional circuit breaker and a latency metric per target and
outcome. What an answer means is the caller's business: the integration modules
(invoices.clients, frontend.api) turn answers and NoAnswer into their own errors and messages.
"""

import json as jsonlib
import logging
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
from django.conf import settings
from urllib3.exceptions import HTTPError, MaxRetryError, NewConnectionError, TimeoutError
from urllib3.util.retry import Retry

from common import __version__, context, metrics
from common.circuit import CircuitBreaker

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Answer:
    """An HTTP answer, read in full: status, headers (case-insensitive) and body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return jsonlib.loads(self.content)


class NoAnswer(Exception):
    """The target gave no HTTP answer; `target` names it for the caller's message."""

    detail = "gave no answer"

    def __init__(self, target: str) -> None:
        super().__init__(f"{target} {self.detail}")
        self.target = target


class CircuitOpen(NoAnswer):
    """The target failed repeatedly; calls are not sent until its cool-down has passed."""

    detail = "is paused after repeated failures"


class Unreachable(NoAnswer):
    """No connection could be made, or it broke before an answer came."""

    detail = "cannot be reached"


class TimedOut(NoAnswer):
    def __init__(self, target: str, *, seconds: float) -> None:
        self.detail = f"did not answer within {seconds:g}s"
        super().__init__(target)
        self.seconds = seconds


def _retry(retries: int) -> Retry:
    return Retry(
        total=retries,
        # A connection that failed carried no request, so even a POST may be sent again.
        connect=retries,
        # A read that timed out already cost the whole read timeout, and the request may have
        # had its effect: reads are never retried.
        read=False,
        # An answer is never asked for again, whatever its status: every call goes through the
        # gateway, which has already tried the next task (one retry layer per hop).
        status=0,
        other=0,
        backoff_factor=0.05,
        raise_on_status=False,
        respect_retry_after_header=False,
    )


def _pool(
    base_url: str, retry: Retry, timeout: urllib3.Timeout
) -> tuple[urllib3.HTTPConnectionPool | urllib3.ProxyManager, str]:
    """Pooled connections to one base URL, up to 16 kept open, and what a call's URL starts with.

    Without a proxy for it in the environment (read once: it cannot change for a fixed target
    while we run), the connection pool of that one host, to which a call gives only its path: a
    PoolManager would parse every call's URL again to find the pool it already knows. Through a
    proxy, urllib3's ProxyManager, which needs the whole URL.

    urllib3 directly, not requests on top of it: for calls to our own services requests adds
    nothing we use (cookies, redirects, auth hooks), and its per-call work was about half the
    CPU of a lookup in a profile of invoice POSTs (the closing note of issue 17 has the figures).
    """
    # https is verified against the system's trust store (OpenSSL's, SSL_CERT_FILE included).
    options: dict[str, Any] = {"maxsize": 16, "retries": retry, "timeout": timeout}
    base_url = base_url.rstrip("/")
    parts = urlsplit(base_url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        return urllib3.ProxyManager(proxy, num_pools=2, **options), base_url
    return urllib3.connection_from_url(base_url, **options), parts.path


def _timed_out(error: HTTPError) -> bool:
    """A connect or read timeout, itself or as the last reason of the retries (urllib3 makes a
    refused connection a kind of connect timeout, which it is not for a caller)."""
    cause = error.reason if isinstance(error, MaxRetryError) else error
    return isinstance(cause, TimeoutError) and not isinstance(cause, NewConnectionError)


class HttpClient:
    """Calls to one base URL through one pooled session.

    Connection failures are retried `retries` times for any method (nothing was sent); an
    answer, whatever its status, is returned as it is. With a `breaker`,
    a target that keeps failing (no answer, 5xx or 429) is not called until a trial call
    succeeds. With a `write_token`, writes carry it as a bearer token.
    """

    def __init__(
        self,
        *,
        target: str,
        base_url: str,
        connect_timeout: float,
        read_timeout: float,
        retries: int,
        breaker: CircuitBreaker | None = None,
        write_token: str = "",
    ) -> None:
        self.target = target
        self.read_timeout = read_timeout
        self.breaker = breaker
        self.write_token = write_token
        self.headers = {"User-Agent": f"{settings.SERVICE_NAME}/{__version__}", "Accept": "application/json"}
        self.pool, self._url_prefix = _pool(
            base_url, _retry(retries), urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """The target's answer, whatever its status; NoAnswer (one of its subclasses) when there is none."""
        if self.breaker is not None and not self.breaker.allow():
            metrics.labelled(metrics.OUTBOUND_SECONDS, self.target, "circuit_open").observe(0)
            raise CircuitOpen(self.target)
        try:
            response = self._send(method, path, params=params, json=json, headers=headers)
        except NoAnswer:
            self._record(failed=True)
            raise
        self._record(failed=response.status_code >= 500 or response.status_code == 429)
        return response

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None,
        json: Any,
        headers: Mapping[str, str] | None,
    ) -> Answer:
        sent_headers = {**self.headers, **(headers or {})}
        if request_id := context.request_id.get():
            sent_headers["X-Request-ID"] = request_id
        if self.write_token and method not in SAFE_METHODS:
            sent_headers["Authorization"] = f"Bearer {self.write_token}"
        url = f"{self._url_prefix}{path}"
        if params:
            url += ("&" if "?" in path else "?") + urlencode(params)
        body = None
        if json is not None:
            body = jsonlib.dumps(json).encode()
            sent_headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        outcome = "error"
        try:
            # A redirect is an answer like any other: our services never send one on purpose.
            raw = self.pool.urlopen(method, url, body=body, headers=sent_headers, redirect=False)
            response = Answer(status_code=raw.status, headers=raw.headers, content=raw.data)
            outcome = str(response.status_code)
        except HTTPError as exc:
            if _timed_out(exc):
                outcome = "timeout"
                raise self._failed(exc, TimedOut(self.target, seconds=self.read_timeout)) from None
            raise self._failed(exc, Unreachable(self.target)) from None
        finally:
            metrics.labelled(metrics.OUTBOUND_SECONDS, self.target, outcome).observe(time.perf_counter() - started)
        return response

    def _failed(self, exc: HTTPError, error: NoAnswer) -> NoAnswer:
        logger.warning("%s", error, extra={"target": self.target, "error": repr(exc)})
        return error

    def _record(self, *, failed: bool) -> None:
        if self.breaker is None:
            return
        if failed:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()
