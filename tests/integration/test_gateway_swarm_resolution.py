"""The swarm half of docker/gateway/nginx.conf, run by the image's entrypoint (gateway-upstreams).

Reads of the APIs go to upstream groups of task addresses that the entrypoint writes from the
DNS, with kept-alive connections; writes resolve the name per request. The test machine has no
Docker DNS, so both get stand-ins that answer like a dnsrr service (one address per task): a
tiny DNS server on 127.0.0.1 for nginx's resolver, and a `getent` first on the entrypoint's
PATH, reading the same records from a file. The tasks are loopback addresses (127.0.0.2-5):
one answering 503, one not listening at all, healthy ones.
"""

import json
import os
import socket
import struct
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from common.waiting import wait_until
from ops.gateway_config import GATEWAY_CONF, TEMP_DIRS
from ops.processes import REPO_ROOT, Nginx, free_port, require_executable

pytestmark = pytest.mark.integration

FAILING_TASK, DEAD_TASK, HEALTHY_TASK, NEW_TASK = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"
ENTRYPOINT = REPO_ROOT / "docker" / "gateway" / "gateway-upstreams"
# What the entrypoint calls to resolve a name: here the records file instead of Docker's DNS.
FAKE_GETENT = """#!/bin/sh
# getent ahostsv4 NAME, answered from the records file: one line per address, like glibc's.
[ "$1" = ahostsv4 ] || exit 2
found=2
while read -r name address; do
    if [ "$name" = "$2" ]; then echo "$address      STREAM $name"; found=0; fi
done < "$FAKE_DNS_RECORDS"
exit $found
"""


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

    protocol_version = "HTTP/1.1"  # keeps the connection open between requests, as gunicorn does
    # (task address, method, client port) of every request served, in order.
    seen: list[tuple[str, str, int]] = []

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        address = self.server.server_address[0]
        self.seen.append((address, self.command, self.client_address[1]))
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


def swarm_config_for_test(
    *, listen_port: int, internal_port: int, dns_port: int, task_port: int, upstreams_file: Path
) -> str:
    """The shared config with only what a test machine cannot have swapped: DNS, ports, paths."""
    text = GATEWAY_CONF.read_text()
    replacements = {
        "include /run/nginx/upstreams.conf;": f"include {upstreams_file};",
        "resolver 127.0.0.11 ": f"resolver 127.0.0.1:{dns_port} ",
        ":8000; }": f":{task_port}; }}",
        "listen 8080 default_server;": f"listen 127.0.0.1:{listen_port} default_server;",
        "listen 8081;": f"listen 127.0.0.1:{internal_port};",
        '8081    "";': f'{internal_port}    "";',
        "http {\n": "http {\n" + "".join(f"    {temp}_temp_path temp/{temp};\n" for temp in TEMP_DIRS),
    }
    for old, new in replacements.items():
        assert old in text, f"{GATEWAY_CONF} changed: {old!r} not found"
        text = text.replace(old, new)
    return text


@dataclass
class SwarmGateway:
    """Base URLs of the gateway's public (rate limited) and internal listeners, and its task records."""

    public: str
    internal: str
    records: Path

    def set_tasks(self, tasks: list[str]) -> None:
        """What the DNS answers for "customers" from now on (both stand-ins)."""
        self.records.write_text("".join(f"customers {task}\n" for task in tasks))


@contextmanager
def swarm_gateway_running(prefix: Path, dns: "FakeDockerDns", task_port: int) -> Iterator[SwarmGateway]:
    records = prefix / "records"
    bin_dir = prefix / "bin"
    bin_dir.mkdir()
    (bin_dir / "getent").write_text(FAKE_GETENT)
    (bin_dir / "getent").chmod(0o755)
    nginx_dir = os.path.dirname(require_executable("nginx"))
    upstreams_file = prefix / "upstreams.conf"
    env = {
        "PATH": f"{bin_dir}:{nginx_dir}:{os.environ.get('PATH', '')}",
        "FAKE_DNS_RECORDS": str(records),
        "GATEWAY_UPSTREAMS": f"customers:{task_port} products:{task_port} invoices:{task_port}",
        "GATEWAY_UPSTREAMS_FILE": str(upstreams_file),
        "GATEWAY_RESOLVE_INTERVAL": "0.2",
    }
    gateway = SwarmGateway(public="", internal="", records=records)
    gateway.set_tasks(dns.records["customers"])
    listen_port, internal_port = free_port(), free_port()
    config = swarm_config_for_test(
        listen_port=listen_port,
        internal_port=internal_port,
        dns_port=dns.port,
        task_port=task_port,
        upstreams_file=upstreams_file,
    )
    # The groups nginx -t checks before the entrypoint starts it (which writes them again).
    render = subprocess.run(
        [str(ENTRYPOINT), "render"], env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    upstreams_file.write_text(render.stdout)
    nginx = Nginx(prefix, config, log_path=prefix / "nginx.log", entrypoint=[str(ENTRYPOINT), "run"], env=env)
    try:
        nginx.start().wait_ready(listen_port, timeout=10)
        gateway.public, gateway.internal = f"http://127.0.0.1:{listen_port}", f"http://127.0.0.1:{internal_port}"
        yield gateway
    finally:
        nginx.stop(timeout=10)


@dataclass
class Tasks:
    port: int
    servers: list[ThreadingHTTPServer]


@pytest.fixture(scope="module")
def tasks() -> Iterator[Tasks]:
    task_port = free_port()
    servers = []
    try:
        for address in (FAILING_TASK, HEALTHY_TASK, NEW_TASK):
            servers.append(ThreadingHTTPServer((address, task_port), Task))
    except OSError as error:
        pytest.skip(f"needs the whole 127.0.0.0/8 on loopback (Linux): {error}")
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Tasks(task_port, servers)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def swarm_gateway(tasks: Tasks, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwarmGateway]:
    dns = FakeDockerDns({"customers": [FAILING_TASK, DEAD_TASK, HEALTHY_TASK]})
    try:
        with swarm_gateway_running(tmp_path_factory.mktemp("swarm-gateway"), dns, tasks.port) as gateway:
            yield gateway
    finally:
        dns.close()


def test_idempotent_requests_skip_failing_and_dead_tasks(swarm_gateway):
    responses = [requests.get(f"{swarm_gateway.public}/api/customers/", timeout=15) for _ in range(30)]

    assert [response.status_code for response in responses] == [200] * 30
    assert {response.json()["task"] for response in responses} == {HEALTHY_TASK}


def test_reads_keep_their_upstream_connections_and_writes_do_not(swarm_gateway):
    Task.seen.clear()
    url = f"{swarm_gateway.internal}/api/customers/"
    for _ in range(20):
        assert requests.get(url, timeout=15).status_code == 200
    for _ in range(10):
        requests.post(url, json={}, timeout=15)

    reads = [port for task, method, port in Task.seen if task == HEALTHY_TASK and method == "GET"]
    writes = [port for task, method, port in Task.seen if method == "POST"]
    assert len(reads) == 20
    # Each nginx worker keeps its own pool: a handful of connections, not one per read.
    assert len(set(reads)) <= 4, f"{len(set(reads))} connections for 20 reads"
    # A write is never sent on a kept connection: one connection each.
    assert len(writes) >= 10
    assert len(set(writes)) == len(writes)


def test_read_groups_follow_the_tasks_behind_the_name(tasks, tmp_path):
    def task_answering() -> str:
        return requests.get(f"{gateway.internal}/api/customers/", timeout=15).json()["task"]

    dns = FakeDockerDns({"customers": [HEALTHY_TASK]})
    try:
        with swarm_gateway_running(tmp_path, dns, tasks.port) as gateway:
            assert {task_answering() for _ in range(5)} == {HEALTHY_TASK}

            # A rolling update: the name now answers with the new task only.
            gateway.set_tasks([NEW_TASK])
            wait_until("reads reaching the new task", lambda: task_answering() == NEW_TASK, timeout=15)
            assert {task_answering() for _ in range(10)} == {NEW_TASK}

            # Scaled to 0: no address, the group's only server is down, a JSON 502 at once.
            gateway.set_tasks([])
            def bad_gateway_body() -> dict | None:
                response = requests.get(f"{gateway.internal}/api/customers/", timeout=15)
                return response.json() if response.status_code == 502 else None

            body = wait_until("reads answered 502", bad_gateway_body, timeout=15)
            assert body["error"]["code"] == "bad_gateway"
            assert "tasks changed, nginx reloads" in (tmp_path / "nginx.log").read_text()
    finally:
        dns.close()


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
