"""The Docker socket proxy's allow-list, on the real engine of this machine.

docker/socket-proxy/nginx.conf runs under the local nginx (the image runs the same file),
with only its listen port and pid file changed (and, when the suite runs as root, its workers'
user: nobody with the socket's group), in front of /var/run/docker.sock. The deployed proxy is
checked again from inside the stack by tests/swarm.
"""

import grp
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ops import engine
from ops.processes import Nginx, find_executable, free_port, http_status
from tests.processes import docker_unusable

pytestmark = pytest.mark.swarm

REPO = Path(__file__).resolve().parents[2]
PROXY_CONF = REPO / "docker" / "socket-proxy" / "nginx.conf"
PID_LINE = "pid /tmp/socket-proxy.pid;\n"

ALLOWED = [
    "/_ping",
    "/version",
    "/v1.41/info",
    "/nodes",
    "/v1.41/services?status=true",
    "/tasks",
    "/networks",
    '/containers/json?filters={"label":["com.docker.swarm.task.id"]}',
]
REFUSED_GETS = [
    "/containers/abc/json",
    "/containers/abc/archive?path=/run/secrets",
    "/v1.41/containers/abc/archive?path=/run/secrets",
    "/containers/abc/attach/ws",
    "/exec/abc/json",
    "/secrets",
    "/configs",
    "/images/json",
    "/volumes",
    "/containers/json/..%2Fabc%2Farchive",
    "/nodes/..%2Fsecrets",
    "/swarm/unlockkey",
]
REFUSED_WRITES = [
    ("POST", "/containers/create"),
    ("POST", "/containers/abc/exec"),
    ("POST", "/services/create"),
    ("POST", "/v1.41/services/abc/update"),
    ("DELETE", "/services/abc"),
    ("DELETE", "/nodes/abc"),
    ("PUT", "/containers/abc/archive?path=/"),
    ("POST", "/secrets/create"),
]


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if reason := docker_unusable():
        pytest.skip(reason)
    if find_executable("nginx") is None:
        pytest.skip("nginx is not installed")
    port = free_port()
    text = PROXY_CONF.read_text()
    # Only the listen line changes; the pid file goes to the prefix, as Nginx places it.
    assert text.count("listen 2375;") == 1
    assert text.count(PID_LINE) == 1
    config = text.replace("listen 2375;", f"listen 127.0.0.1:{port};").replace(PID_LINE, "")
    if os.geteuid() == 0:
        # A root master hands its workers to `nobody`, who cannot open the socket: give them the
        # socket's group, as the image's non-root user has it in the stack.
        group = grp.getgrgid(Path("/var/run/docker.sock").stat().st_gid).gr_name
        config = f"user nobody {group};\n{config}"
    nginx = Nginx(tmp_path_factory.mktemp("socket-proxy"), config, name="socket-proxy")
    nginx.start()
    try:
        nginx.wait_until_answering(
            "the socket proxy answering /_ping", lambda: http_status(port, "/_ping") == 200, timeout=15
        )
        yield f"http://127.0.0.1:{port}"
    finally:
        nginx.stop()


@pytest.mark.parametrize("path", ALLOWED)
def test_the_reads_viz_and_prometheus_make_reach_the_engine(proxy, path):
    response = requests.get(proxy + path, timeout=10)

    # 503 is the engine's own answer on a node that is not a swarm manager: it got through.
    assert response.status_code in {200, 503}, response.text
    assert "socket proxy" not in response.text


def test_a_read_through_the_proxy_is_what_the_engine_says(proxy):
    via_proxy = requests.get(f"{proxy}/version", timeout=10).json()
    direct = engine.local().client.version()

    assert via_proxy["Version"] == direct["Version"]


@pytest.mark.parametrize("path", REFUSED_GETS)
def test_other_reads_are_refused(proxy, path):
    response = requests.get(proxy + path, timeout=10)

    assert response.status_code == 403
    assert "refused by the socket proxy" in response.json()["message"]


@pytest.mark.parametrize(("method", "path"), REFUSED_WRITES)
def test_every_write_is_refused(proxy, method, path):
    response = requests.request(method, proxy + path, json={}, timeout=10)

    assert response.status_code == 403
    assert "refused by the socket proxy" in response.json()["message"]
