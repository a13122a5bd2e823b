"""The swarm half of docker/gateway/nginx.conf: upstream groups whose names nginx re-resolves,
retries across tasks, kept-alive connections to them.

Docker's DNS is replaced by a tiny resolver on 127.0.0.1 that answers like a
dnsrr service: one A record per task. The tasks are loopback addresses
(127.0.0.2-4), one answering 503, one not listening at all, one healthy.

`server ... resolve` needs nginx 1.27.3 or later: the host's nginx when it is that
new, else the nginx of the gateway's base image, run with the host's network.
"""

import json
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from ops.bases import BASES
from ops.engine import EngineError, local
from ops.gateway_config import GATEWAY_CONF, TEMP_DIRS
from ops.processes import Nginx, free_port

pytestmark = pytest.mark.integration

FAILING_TASK, DEAD_TASK, HEALTHY_TASK = "127.0.0.2", "127.0.0.3", "127.0.0.4"
REQUESTS = 30


class FakeDockerDns:
    """Answers A queries for "customers" with every task address; other names do not exist."""

    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = records
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                query, client = self.sock.recvfrom(512)
            except OSError:
                return
            self.sock.sendto(self._answer(query), client)

    def _answer(self, query: bytes) -> bytes:
        (query_id,) = struct.unpack("!H", query[:2])
        labels, offset = [], 12
        while query[offset]:
            length = query[offset]
            labels.append(query[offset + 1 : offset + 1 + length].decode())
            offset += length + 1
        question = query[12 : offset + 5]
        addresses = self.records.get(".".join(labels).lower(), [])
        flags = 0x8180 if addresses else 0x8183  # response, recursion available; NXDOMAIN when unknown
        header = struct.pack("!HHHHHH", query_id, flags, 1, len(addresses), 0, 0)
        answers = b"".join(
            struct.pack("!HHHIH", 0xC00C, 1, 1, 5, 4) + socket.inet_aton(address) for address in addresses
        )
        return header + question + answers

    def close(self) -> None:
        self.sock.close()


# New TCP connections each task address has accepted.
CONNECTIONS: Counter[str] = Counter()


class Task(BaseHTTPRequestHandler):
    """A backend task that names itself; FAILING_TASK answers 503 like an overloaded service.
    HTTP/1.1, so a client may keep the connection, as gunicorn's threaded workers let it."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        CONNECTIONS[self.server.server_address[0]] += 1

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        address = self.server.server_address[0]
        status = 503 if address == FAILING_TASK else 200
        body = json.dumps({"task": address}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


def swarm_config_for_test(*, listen_port: int, internal_port: int, dns_port: int, task_port: int) -> str:
    """The shared config with only what a test machine cannot have swapped: DNS, ports, temp dirs."""
    text = GATEWAY_CONF.read_text()
    replacements = {
        "resolver 127.0.0.11 ": f"resolver 127.0.0.1:{dns_port} ",
        ":8000 resolve": f":{task_port} resolve",
        "listen 8080 default_server;": f"listen 127.0.0.1:{listen_port} default_server;",
        "listen 8081;": f"listen 127.0.0.1:{internal_port};",
        '8081    "";': f'{internal_port}    "";',
        "http {\n": "http {\n" + "".join(f"    {temp}_temp_path temp/{temp};\n" for temp in TEMP_DIRS),
    }
    for old, new in replacements.items():
        assert old in text, f"{GATEWAY_CONF} changed: {old!r} not found"
        text = text.replace(old, new)
    return text


RESOLVE_SINCE = (1, 27, 3)


def nginx_version(argv: list[str]) -> tuple[int, ...]:
    found = subprocess.run([*argv, "-v"], capture_output=True, text=True, check=False, timeout=60)
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", found.stderr)
    return tuple(int(part) for part in match.groups()) if match else ()


def nginx_with_resolve() -> list[str]:
    """The command that runs an nginx new enough for `server ... resolve`, or a skip naming what is missing."""
    host = shutil.which("nginx")
    if host and nginx_version([host]) >= RESOLVE_SINCE:
        return [host]
    base = BASES["nginx"]
    try:
        image = next((ref for ref in (base.offline, base.public) if local().image(ref) is not None), None)
    except EngineError as error:
        pytest.skip(f"the host's nginx is older than 1.27.3 and no Docker engine answers: {error}")
    if image is None:
        pytest.skip(f"the host's nginx is older than 1.27.3 and neither {base.offline} nor {base.public} exists")
    # The host's network (the fake DNS and tasks are on its loopback), the test's files at the same path.
    return [
        "docker",
        "run",
        "--rm",
        "--network",
        "host",
        "--user",
        "0",
        "--volume",
        "{prefix}:{prefix}",
        image,
        "nginx",
    ]


class ResolvingNginx(Nginx):
    """Nginx, from the host or from the base image, on a config of ours."""

    def __init__(self, prefix: Path, config: str, *, log_path: Path, command: list[str]) -> None:
        super().__init__(prefix, config, log_path=log_path)
        command = [part.format(prefix=prefix) for part in command]
        self._base = [*command, *self._base[1:]]
        self.argv = [*command, *self.argv[1:]]


@dataclass(frozen=True)
class Listeners:
    """Base URLs of the gateway's public (rate limited) and internal listeners, and its DNS."""

    public: str
    internal: str
    dns: FakeDockerDns


@pytest.fixture(scope="module")
def swarm_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listeners]:
    task_port = free_port()
    servers = []
    try:
        for address in (FAILING_TASK, HEALTHY_TASK):
            servers.append(ThreadingHTTPServer((address, task_port), Task))
    except OSError as error:
        pytest.skip(f"needs the whole 127.0.0.0/8 on loopback (Linux): {error}")
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    dns = FakeDockerDns({"customers": [FAILING_TASK, DEAD_TASK, HEALTHY_TASK]})

    prefix = tmp_path_factory.mktemp("swarm-gateway")
    listen_port, internal_port = free_port(), free_port()
    config = swarm_config_for_test(
        listen_port=listen_port, internal_port=internal_port, dns_port=dns.port, task_port=task_port
    )
    nginx = ResolvingNginx(prefix, config, log_path=prefix / "nginx.log", command=nginx_with_resolve())
    try:
        nginx.start().wait_ready(listen_port, timeout=10)
        yield Listeners(public=f"http://127.0.0.1:{listen_port}", internal=f"http://127.0.0.1:{internal_port}", dns=dns)
    finally:
        nginx.stop(timeout=10)
        dns.close()
        for server in servers:
            server.shutdown()
            server.server_close()


def test_idempotent_requests_skip_failing_and_dead_tasks(swarm_gateway):
    responses = [requests.get(f"{swarm_gateway.public}/api/customers/", timeout=15) for _ in range(30)]

    assert [response.status_code for response in responses] == [200] * 30
    assert {response.json()["task"] for response in responses} == {HEALTHY_TASK}


def test_post_is_retried_only_when_it_never_reached_a_task(swarm_gateway):
    # The internal listener: 30 POSTs in a row are more than the public one lets one client send.
    url = f"{swarm_gateway.internal}/api/customers/"
    statuses = [requests.post(url, json={}, timeout=15).status_code for _ in range(30)]

    # A refused connection (dead task) is retried, so no 502; a task that took
    # the POST and answered 503 is not asked twice, so the client sees that 503.
    assert set(statuses) == {200, 503}


def test_gateway_runs_before_a_service_exists_and_says_so_in_json(swarm_gateway):
    response = requests.get(f"{swarm_gateway.public}/api/products/", timeout=15)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "bad_gateway"
    assert requests.get(f"{swarm_gateway.public}/api/customers/", timeout=15).status_code == 200


def test_a_service_that_appears_later_is_served_within_seconds(swarm_gateway):
    url = f"{swarm_gateway.internal}/api/invoices/"
    assert requests.get(url, timeout=15).status_code == 502

    swarm_gateway.dns.records["invoices"] = [HEALTHY_TASK]
    appeared = time.monotonic()
    statuses = []
    # Names are re-resolved every second (valid=1s); a few seconds leave room for a busy machine.
    while time.monotonic() - appeared < 5 and 200 not in statuses:
        statuses.append(requests.get(url, timeout=15).status_code)
        time.sleep(0.1)

    assert statuses[-1] == 200, statuses
    assert requests.get(url, timeout=15).json() == {"task": HEALTHY_TASK}


def test_reads_reuse_kept_alive_connections_to_a_task(swarm_gateway):
    url = f"{swarm_gateway.internal}/api/customers/"
    before = CONNECTIONS[HEALTHY_TASK]

    # Each answer came from the healthy task, one after the other, on a connection nginx keeps.
    statuses = [requests.get(url, timeout=15).status_code for _ in range(REQUESTS)]

    opened = CONNECTIONS[HEALTHY_TASK] - before
    assert statuses == [200] * REQUESTS
    assert opened <= 2, f"{opened} new connections to the task for {REQUESTS} requests"


def test_swarm_config_limits_the_public_listener_and_not_the_internal_one(swarm_gateway):
    def post(base_url: str) -> int:
        return requests.post(f"{base_url}/api/customers/", json={}, timeout=15).status_code

    internal = [post(swarm_gateway.internal) for _ in range(40)]
    # Bounded: the fake task answers at once, so a client is far faster than 10 writes a second.
    public = []
    while 429 not in public and len(public) < 200:
        public.append(post(swarm_gateway.public))

    assert 429 not in internal
    assert 429 in public
    assert len(public) > 20, "the first burst of 20 writes is served"
