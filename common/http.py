"""The one HTTP client core for calls to our own services: invoices to customers and products, the
frontend and the demo seed to the gateway.

One pooled session per target (a base URL), explicit connect/read timeouts, bounded retries, the
current request id passed on, an optional circuit breaker and a latency metric per target and
outcome. What an answer means is the caller's business: the integration modules
(invoices.clients, frontend.api) turn answers and NoAnswer into their own errors and messages.
"""

import logging
import time
from collections.abc import Mapping
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.utils import get_netrc_auth
from urllib3.util.retry import Retry

from common import __version__, context, metrics
from common.circuit import CircuitBreaker

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


def _session(base_url: str, retry: Retry) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = f"{settings.SERVICE_NAME}/{__version__}"
    session.headers["Accept"] = "application/json"
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # requests re-reads proxies, CA bundle and ~/.netrc from the environment per call: about a
    # tenth of the CPU of an invoice POST. They cannot change for a fixed target while we run.
    environment = session.merge_environment_settings(base_url, {}, None, None, None)
    session.proxies = environment["proxies"]
    # A CA bundle only matters for https; for http requests would still stat its path per call.
    session.verify = environment["verify"] if base_url.lower().startswith("https://") else True
    session.auth = get_netrc_auth(base_url)
    session.trust_env = False
    return session


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
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.breaker = breaker
        self.write_token = write_token
        self.session = _session(self.base_url, _retry(retries))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """The target's answer, whatever its status; NoAnswer (one of its subclasses) when there is none."""
        if self.breaker is not None and not self.breaker.allow():
            metrics.OUTBOUND_SECONDS.labels(self.target, "circuit_open").observe(0)
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
    ) -> requests.Response:
        sent_headers = dict(headers or {})
        if request_id := context.request_id.get():
            sent_headers["X-Request-ID"] = request_id
        if self.write_token and method not in SAFE_METHODS:
            sent_headers["Authorization"] = f"Bearer {self.write_token}"
        started = time.perf_counter()
        outcome = "error"
        try:
            response = self.session.request(
                method, f"{self.base_url}{path}", params=params, json=json, headers=sent_headers, timeout=self.timeout
            )
            outcome = str(response.status_code)
        except requests.Timeout as exc:
            outcome = "timeout"
            raise self._failed(exc, TimedOut(self.target, seconds=self.timeout[1])) from None
        except requests.RequestException as exc:
            raise self._failed(exc, Unreachable(self.target)) from None
        finally:
            metrics.OUTBOUND_SECONDS.labels(self.target, outcome).observe(time.perf_counter() - started)
        return response

    def _failed(self, exc: requests.RequestException, error: NoAnswer) -> NoAnswer:
        logger.warning("%s", error, extra={"target": self.target, "error": repr(exc)})
        return error

    def _record(self, *, failed: bool) -> None:
        if self.breaker is None:
            return
        if failed:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()
