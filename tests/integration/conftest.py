"""The whole system in local mode (real redis-server, gunicorn and nginx) on free ports."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from common.http import SAFE_METHODS
from common.waiting import wait_until
from ops.local import LocalSystem, Ports


class Gateway:
    """HTTP through the gateway, the way a user reaches the system."""

    def __init__(self, system: LocalSystem) -> None:
        self.system = system
        self.url = system.gateway_url
        self.session = requests.Session()

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """Writes carry the system's API token, as an API client's do."""
        kwargs.setdefault("timeout", 15)
        if method not in SAFE_METHODS:
            kwargs["headers"] = {**self.system.credentials.api_headers(), **kwargs.get("headers", {})}
        return self.session.request(method, self.url + path, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def log_lines_for(self, request_id: str, *, at_least: int = 1, timeout: float = 5.0) -> list[dict]:
        """The access-log lines of one request id; nginx writes a line just after the response,
        so wait (bounded) until the expected number is there."""

        def lines() -> list[dict] | None:
            mine = [line for line in self.access_log() if line["request_id"] == request_id]
            return mine if len(mine) >= at_least else None

        return wait_until(
            f"{at_least} access-log line(s) of request {request_id}", lines, timeout=timeout, interval=0.05
        )

    def access_log(self) -> list[dict]:
        """Every line of the gateway's JSON access log so far."""
        lines = Path(self.system.gateway_access_log).read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.fixture(scope="session")
def gateway(local_system: LocalSystem) -> Gateway:
    return Gateway(local_system)


@contextmanager
def system_of_its_own(
    tmp_path_factory: pytest.TempPathFactory, name: str, *, persistent_redis: bool = False, **options: Any
) -> Iterator[LocalSystem]:
    """The whole system on free ports for one test module that changes it (a limit turned on, a
    Redis stopped), so the shared system stays as every other suite expects it. Redis keeps its
    data over a restart only when persistent."""
    run_dir = tmp_path_factory.mktemp(name)
    with LocalSystem(
        ports=Ports.free(), run_dir=run_dir, persistent_redis=persistent_redis, say=print, **options
    ) as system:
        yield system
