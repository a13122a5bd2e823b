"""HTTP calls to our other services: one pooled session per target, explicit timeouts,
bounded retries for idempotent requests, and the current request id passed on."""

import logging
import time
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.utils import get_netrc_auth
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from common import __version__, context, metrics
from common.circuit import CircuitBreaker
from common.errors import ServiceUnavailable

logger = logging.getLogger(__name__)


def build_session(
    *, user_agent: str, retries: int, pool_size: int = 16, base_url: str | None = None
) -> requests.Session:
    """A pooled session whose GETs are retried on connection errors and 502/503/504, a bounded number of times.

    With `base_url` (a session that only calls that one service), the proxy, CA bundle and netrc
    settings the environment gives that URL are read once here instead of on every call.
    """
    retry = Retry(
        total=retries,
        connect=retries,
        # A read that timed out already cost the whole read timeout; retrying it multiplies the
        # wait for a hung service, so only connection failures and 502/503/504 are retried.
        read=0,
        status=retries,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        backoff_factor=0.05,
        raise_on_status=False,
        respect_retry_after_header=False,
    )
    session = requests.Session()
    session.headers["User-Agent"] = user_agent
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if base_url is not None:
        # requests re-reads these from os.environ and ~/.netrc per call: about a tenth of the CPU of
        # an invoice POST. They cannot change for a fixed target while the process runs.
        environment = session.merge_environment_settings(base_url, {}, None, None, None)
        session.proxies = environment["proxies"]
        # A CA bundle only matters for https; for http requests would still stat its path per call.
        session.verify = environment["verify"] if base_url.lower().startswith("https://") else True
        session.auth = get_netrc_auth(base_url)
        session.trust_env = False
    return session


def is_read_timeout(exc: requests.RequestException) -> bool:
    """After its last retry requests reports a read timeout as a ConnectionError; see through that."""
    if isinstance(exc, requests.Timeout):
        return True
    return isinstance(getattr(exc.args[0] if exc.args else None, "reason", None), ReadTimeoutError)


class ServiceClient:
    """JSON GETs against one service; a 404 is an answer, anything unusable is ServiceUnavailable.

    A circuit breaker per client: once the service has failed repeatedly, calls fail at once
    (no connection attempt, no timeout to wait for) until a trial call succeeds again.
    """

    def __init__(self, *, name: str, base_url: str) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout = (settings.HTTP_CONNECT_TIMEOUT, settings.HTTP_READ_TIMEOUT)
        self.session = build_session(
            user_agent=f"{settings.SERVICE_NAME}/{__version__}",
            retries=settings.HTTP_GET_RETRIES,
            base_url=self.base_url,
        )
        self.breaker = CircuitBreaker(
            failure_threshold=settings.CIRCUIT_FAILURE_THRESHOLD, reset_seconds=settings.CIRCUIT_RESET_SECONDS
        )

    def get_json(self, path: str) -> dict[str, Any] | None:
        if not self.breaker.allow():
            metrics.OUTBOUND_SECONDS.labels(self.name, "circuit_open").observe(0)
            raise ServiceUnavailable(
                f"The {self.name} service is failing; calls are paused for a few seconds. Nothing was saved."
            )
        try:
            body = self._get_json(path)
        except ServiceUnavailable:
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        return body

    def _get_json(self, path: str) -> dict[str, Any] | None:
        url = f"{self.base_url}{path}"
        headers = {"Accept": "application/json"}
        if request_id := context.request_id.get():
            headers["X-Request-ID"] = request_id
        started = time.perf_counter()
        outcome = "error"
        try:
            response = self.session.get(url, headers=headers, timeout=self.timeout)
            outcome = str(response.status_code)
        except requests.RequestException as exc:
            if is_read_timeout(exc):
                outcome = "timeout"
                raise self._unavailable(f"did not answer within {self.timeout[1]:g}s", exc) from None
            raise self._unavailable("is unreachable", exc) from None
        finally:
            metrics.OUTBOUND_SECONDS.labels(self.name, outcome).observe(time.perf_counter() - started)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._unavailable(f"answered HTTP {response.status_code}", None)
        try:
            return response.json()
        except ValueError as exc:
            raise self._unavailable("answered with a body that is not JSON", exc) from None

    def _unavailable(self, what: str, exc: Exception | None) -> ServiceUnavailable:
        logger.warning("%s service %s", self.name, what, extra={"target": self.name, "error": repr(exc)})
        return ServiceUnavailable(f"The {self.name} service {what}; nothing was saved. Try again shortly.")
