"""The swarm half of docker/gateway/nginx.conf: names resolved at request time, retries across tasks.

Docker's DNS is replaced by a tiny resolver on 127.0.0.1 that answers like a
dnsrr service: one A record per task. The tasks are loopback addresses
(127.0.0.2-4), one answering 503, one not listening at all, one healthy.
"""

import json
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from ops.gateway_config import GATEWAY_CONF, TEMP_DIRS
from ops.processes import Nginx, free_port

pytestmark = pytest.mark.integration

FAILING_TASK, DEAD_TASK, HEALTHY_TASK = "127.0.0.2", "127.0.0.3", "127.0.0.4"


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


class Task(BaseHTTPRequestHandler):
    """A backend task that names itself; FAILING_TASK answers 503 like an overloaded service."""

    # The Connection header of every request a task got.
    connection_headers: list[str | None] = []

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.connection_headers.append(self.headers.get("Connection"))
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
        ":8000; }": f":{task_port}; }}",
        "listen 8080 default_server;": f"listen 127.0.0.1:{listen_port} default_server;",
        "listen 8081;": f"listen 127.0.0.1:{internal_port};",
        "8081    1;": f"{internal_port}    1;",
        "http {\n": "http {\n" + "".join(f"    {temp}_temp_path temp/{temp};\n" for temp in TEMP_DIRS),
    }
    for old, new in replacements.items():
        assert old in text, f"{GATEWAY_CONF} changed: {old!r} not found"
        text = text.replace(old, new)
    return text


@dataclass(frozen=True)
class Listeners:
    """Base URLs of the gateway's public (rate limited) and internal listeners."""

    public: str
    internal: str


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
    nginx = Nginx(prefix, config, log_path=prefix / "nginx.log")
    try:
        nginx.start().wait_ready(listen_port, timeout=10)
        yield Listeners(public=f"http://127.0.0.1:{listen_port}", internal=f"http://127.0.0.1:{internal_port}")
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


def test_each_request_asks_the_task_to_close_its_connection(swarm_gateway):
    # No upstream pool in swarm mode: a task that keeps the connection open only watches it
    # until the gateway closes it.
    Task.connection_headers.clear()
    requests.get(f"{swarm_gateway.public}/api/customers/", timeout=15)
    requests.post(f"{swarm_gateway.internal}/api/customers/", json={}, timeout=15)

    assert Task.connection_headers
    assert set(Task.connection_headers) == {"close"}


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
