"""The whole system in local mode (real redis-server, gunicorn and nginx) on free ports."""

import json
from pathlib import Path

import pytest
import requests

from common.waiting import wait_until
from ops.local import LocalSystem


class Gateway:
    """HTTP through the gateway, the way a user reaches the system."""

    def __init__(self, system: LocalSystem) -> None:
        self.system = system
        self.url = system.gateway_url
        self.session = requests.Session()

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 15)
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
