"""The whole system in local mode (real redis-server, gunicorn and nginx) on free ports."""

import json
import time
from pathlib import Path

import pytest
import requests

from ops.dev import LocalSystem


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
        deadline = time.monotonic() + timeout
        while True:
            lines = [line for line in self.access_log() if line["request_id"] == request_id]
            if len(lines) >= at_least or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)

    def access_log(self) -> list[dict]:
        """Every line of the gateway's JSON access log so far."""
        lines = Path(self.system.gateway_access_log).read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.fixture(scope="session")
def gateway(local_system: LocalSystem) -> Gateway:
    return Gateway(local_system)
