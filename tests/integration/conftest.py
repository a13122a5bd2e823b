"""The whole system in local mode (real redis-server, gunicorn and nginx) on free ports."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ops.dev import LocalSystem, Ports


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

    def access_log(self) -> list[dict]:
        """Every line of the gateway's JSON access log so far."""
        lines = Path(self.system.gateway_access_log).read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.fixture(scope="session")
def local_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    run_dir = tmp_path_factory.mktemp("local-mode")
    with LocalSystem(ports=Ports.free(), run_dir=run_dir, persistent_redis=False, say=lambda _: None) as system:
        yield system


@pytest.fixture(scope="session")
def gateway(local_system: LocalSystem) -> Gateway:
    return Gateway(local_system)
