"""A task that never answers (its machine died: no reset, no error, nothing) costs a read a few
seconds, not a failure: the gateway gives up on it after its read timeout for API reads and asks
the next task. A write waits longer, and is never sent to a second task once it was sent.

The real nginx.conf, rendered for local mode, in front of two backends of our own: a socket that
accepts connections and never answers, and a server that answers (writes after a pause longer
than the read timeout of reads).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from common.waiting import wait_until
from ops.gateway_config import render_local
from ops.processes import Nginx, free_port
from tests.json_backend import JsonHandler
from tests.timeout_chain import chain

pytestmark = pytest.mark.integration


class LiveHandler(JsonHandler):
    server: LiveServer

    def do_GET(self) -> None:
        self.answer(200)

    def do_POST(self) -> None:
        self.read_body()
        with self.server.lock:
            self.server.writes += 1
        time.sleep(self.server.write_pause)
        self.answer(201)


class LiveServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, write_pause: float) -> None:
        super().__init__(("127.0.0.1", 0), LiveHandler)
        self.write_pause = write_pause
        self.writes = 0
        self.lock = threading.Lock()


@dataclass(frozen=True)
class Gateway:
    url: str
    access_log: Path
    silent_port: int
    live: LiveServer

    def lines(self, method: str) -> list[dict]:
        text = self.access_log.read_text()
        rows = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        return [row for row in rows if row["method"] == method]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    # Longer than an API read may take at the gateway, shorter than a write may.
    pause = chain().api_read.read + 1
    assert pause < chain().api_write.read
    live = LiveServer(write_pause=pause)
    threading.Thread(target=live.serve_forever, daemon=True).start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # the kernel completes the handshakes; nobody ever reads or answers
    silent_port, live_port = silent.getsockname()[1], live.server_address[1]
    prefix = tmp_path_factory.mktemp("hung-task")
    public, internal = free_port(), free_port()
    config = render_local(
        listen=f"127.0.0.1:{public}",
        internal_listen=f"127.0.0.1:{internal}",
        backends={
            "customers": (silent_port, live_port),
            "products": (live_port,),
            "invoices": (live_port,),
            "frontend": (live_port,),
        },
        rate_limit=False,
    )
    # nginx's own log lines go to its stderr (the log file); its access log to stdout, here too.
    nginx = Nginx(prefix, config, log_path=prefix / "nginx.log").start()
    try:
        nginx.wait_ready(public, internal, timeout=10)
        yield Gateway(f"http://127.0.0.1:{public}", prefix / "nginx.log", silent_port, live)
    finally:
        nginx.stop(timeout=10)
        live.shutdown()
        live.server_close()
        silent.close()


def test_a_read_sent_to_a_task_that_never_answers_is_answered_by_the_next_one(gateway):
    # Round robin over two tasks: of two reads in a row, at least one goes to the silent one first.
    responses = [requests.get(f"{gateway.url}/api/customers/{n}/", timeout=60) for n in range(2)]

    assert [response.status_code for response in responses] == [200, 200]
    silent = f"127.0.0.1:{gateway.silent_port}"
    lines = wait_until(
        "the access-log lines of both reads", lambda: len(gateway.lines("GET")) >= 2 and gateway.lines("GET"), timeout=5
    )
    live = f"127.0.0.1:{gateway.live.server_address[1]}"
    # Each nginx worker keeps its own round robin: a read goes to the silent task first once or twice.
    retried = [line for line in lines if line["upstream_addr"] == f"{silent}, {live}"]
    assert retried, lines
    assert all(line["upstream_status"] == "504, 200" for line in retried), lines
    assert all(line["upstream_addr"] in (live, f"{silent}, {live}") for line in lines), lines


def test_a_write_waits_longer_than_a_read_would_and_reaches_one_task_once(gateway):
    response = requests.post(f"{gateway.url}/api/products/?source=test", json={"name": "x"}, timeout=60)

    assert response.status_code == 201
    assert gateway.live.writes == 1
    (line,) = wait_until("the access-log line of the write", lambda: gateway.lines("POST"), timeout=5)
    assert line["uri"] == "/api/products/?source=test"
    assert line["upstream_status"] == "201"
