"""ops.gateway_config: local mode's rendering of docker/gateway/nginx.conf, checked by nginx itself.

Every swap must match exactly once or rendering fails naming the part, so an edit to the shared
file cannot silently leave local mode with the swarm's DNS names, ports or limits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from ops.gateway_config import GATEWAY_CONF, GatewayConfigError, render_local
from ops.processes import Nginx, free_port
from ops.services import ROUTED_SERVICES
from tests.json_backend import JsonHandler

pytestmark = pytest.mark.integration

PUBLIC, INTERNAL = "127.0.0.1:18000", "127.0.0.1:18081"


def render(source: Path = GATEWAY_CONF, *, rate_limit: bool = True, ports: tuple[int, ...] = (18001,)) -> str:
    backends = dict.fromkeys(ROUTED_SERVICES, ports)
    return render_local(
        listen=PUBLIC, internal_listen=INTERNAL, backends=backends, rate_limit=rate_limit, source=source
    )


def config_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


@pytest.mark.parametrize("rate_limit", [True, False])
def test_local_render_swaps_listeners_and_backends(rate_limit):
    lines = config_lines(render(rate_limit=rate_limit))

    assert f"listen {PUBLIC} default_server;" in lines
    assert f"listen {INTERNAL};" in lines
    assert "18081    1;" in lines
    assert not any("8081" in line and "18081" not in line for line in lines)
    assert not any("resolver" in line or "customers:8000" in line for line in lines)
    assert ("default $binary_remote_addr;" in lines) is rate_limit


@pytest.mark.parametrize(
    ("remove", "named"),
    [
        ("listen 8081;", "listen 8081;"),
        ("listen 8080 default_server;", "listen 8080 default_server;"),
        ("    # --- listeners:begin\n", "listeners:begin/end block"),
        ("        8081    1;\n", "8081 1;"),
        ("    # --- backends:end", "backends:begin/end block"),
    ],
)
def test_a_missing_part_fails_loudly(tmp_path, remove, named):
    source = tmp_path / "nginx.conf"
    text = GATEWAY_CONF.read_text()
    assert remove in text
    source.write_text(text.replace(remove, ""))

    with pytest.raises(GatewayConfigError, match=named.replace("(", r"\(")) as error:
        render(source)
    assert str(source) in str(error.value)


def test_turning_the_limit_off_needs_the_public_key_line(tmp_path):
    source = tmp_path / "nginx.conf"
    source.write_text(GATEWAY_CONF.read_text().replace("default $binary_remote_addr;", "default $remote_addr;"))

    assert "default $remote_addr;" in render(source, rate_limit=True)
    with pytest.raises(GatewayConfigError, match="binary_remote_addr"):
        render(source, rate_limit=False)


class Backend(JsonHandler):
    def do_POST(self) -> None:
        self.read_body()
        self.answer(201)


@pytest.fixture
def nginx_with(tmp_path) -> Iterator:
    """Start nginx on a rendered config in front of a backend that answers 201 at once."""
    backend = ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    started: list[Nginx] = []

    def start(*, rate_limit: bool) -> str:
        prefix = tmp_path / f"nginx-{len(started)}"
        prefix.mkdir()
        public, internal = free_port(), free_port()
        config = render_local(
            listen=f"127.0.0.1:{public}",
            internal_listen=f"127.0.0.1:{internal}",
            backends=dict.fromkeys(ROUTED_SERVICES, (backend.server_address[1],)),
            rate_limit=rate_limit,
        )
        nginx = Nginx(prefix, config, log_path=prefix / "nginx.log")
        started.append(nginx.start())
        nginx.wait_ready(public, timeout=10)
        return f"http://127.0.0.1:{public}"

    yield start
    for nginx in started:
        nginx.stop(timeout=10)
    backend.shutdown()
    backend.server_close()


@pytest.mark.parametrize(("rate_limit", "limited"), [(True, True), (False, False)])
def test_rate_limit_flag_decides_whether_a_burst_of_writes_is_cut(nginx_with, rate_limit, limited):
    url = nginx_with(rate_limit=rate_limit)

    # One client as fast as it can: ten times the burst of 20, far above 10 writes a second.
    statuses = [requests.post(f"{url}/api/customers/", json={}, timeout=10).status_code for _ in range(200)]

    assert (429 in statuses) is limited
    assert statuses[:20] == [201] * 20
