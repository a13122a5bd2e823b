"""Who counts as one client at the gateway, and how many requests one client may have in progress.

The real nginx.conf, rendered for local mode, in front of a backend of our own that can hold
requests open. No IPv6 addresses are needed: this test-only variant adds nginx's realip module
on the public and internal listeners, so a header stands for the client address and nginx
computes $binary_remote_addr, and from it the shipped map's key, exactly as for a real peer.
It also slows the token refill to one a minute (only the rate numbers change), so a bucket
emptied here stays empty for the whole test, however slow the machine is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from common.waiting import wait_until
from ops.gateway_config import render_local
from ops.processes import Nginx, free_port
from ops.services import ROUTED_SERVICES
from tests.json_backend import JsonHandler

pytestmark = pytest.mark.integration

CLIENT_HEADER = "X-Test-Client"
# The public listener's burst (limit_req ... burst=60): request 62 of an emptied bucket is refused.
READ_BURST = 60
CONNECTIONS_PER_CLIENT = 20
# A page of the frontend: the gateway waits long for those (a held API read would time out and be
# tried again on the next task).
HOLD_PATH = "/hold/"


def limits_test_variant(config: str) -> str:
    """The rendered config with realip and a slow refill: each change must apply exactly once."""
    changes = {
        "        server_name _;\n": f"        server_name _;\n        set_real_ip_from 127.0.0.1;\n"
        f"        real_ip_header {CLIENT_HEADER};\n",
        "rate=30r/s;": "rate=1r/m;",
        "rate=10r/s;": "rate=1r/m;",
    }
    for old, new in changes.items():
        assert config.count(old) == 1, f"expected one {old!r} in the rendered nginx.conf"
        config = config.replace(old, new)
    return config


@dataclass
class HoldingBackend:
    """Answers 200 at once, except on HOLD_PATH: there it waits until released."""

    released: threading.Event = field(default_factory=threading.Event)
    held: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        backend = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                if self.path.startswith(HOLD_PATH):
                    with backend.lock:
                        backend.held += 1
                    backend.released.wait(timeout=60)
                self.answer(200)

        return Handler

    def holding(self) -> int:
        with self.lock:
            return self.held


class HoldingServer(ThreadingHTTPServer):
    daemon_threads = True
    # Forty connections arrive at once: none may wait for a place in the listen queue.
    request_queue_size = 128


@dataclass(frozen=True)
class Gateway:
    public: str
    internal: str
    backend: HoldingBackend


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    backend = HoldingBackend()
    server = HoldingServer(("127.0.0.1", 0), backend.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    prefix = tmp_path_factory.mktemp("client-limits")
    public, internal = free_port(), free_port()
    config = render_local(
        listen=f"127.0.0.1:{public}",
        internal_listen=f"127.0.0.1:{internal}",
        backends=dict.fromkeys(ROUTED_SERVICES, (server.server_address[1],)),
    )
    nginx = Nginx(prefix, limits_test_variant(config), log_path=prefix / "nginx.log").start()
    try:
        nginx.wait_ready(public, internal, timeout=10)
        yield Gateway(f"http://127.0.0.1:{public}", f"http://127.0.0.1:{internal}", backend)
    finally:
        backend.released.set()
        nginx.stop(timeout=10)
        server.shutdown()
        server.server_close()


def get(base: str, client: str, path: str = "/api/customers/", timeout: float = 10) -> requests.Response:
    return requests.get(f"{base}{path}", headers={CLIENT_HEADER: client}, timeout=timeout)


def empty_the_bucket(gateway: Gateway, client: str) -> None:
    """Reads from `client` until the first 429: its bucket (and that of its whole key) is empty."""
    for _ in range(READ_BURST + 5):
        if get(gateway.public, client).status_code == 429:
            return
    raise AssertionError(f"{client}: no 429 after {READ_BURST + 5} reads")


@pytest.mark.parametrize(
    ("first", "same_key", "other_key"),
    [
        # The first 8 bytes are 20 01 0d b8 0a 0a 0a 0a: four newline bytes in the /64.
        ("2001:db8:a0a:a0a::1", "2001:db8:a0a:a0a:ffff:ffff:ffff:fffe", "2001:db8:a0a:a0b::1"),
        ("2001:db8:1:2::7", "2001:db8:1:2:8000::", "2001:db8:1:3::7"),
        ("2001:db8:5::", "2001:db8:5:0:a::", "2001:db8:6::"),
    ],
)
def test_ipv6_clients_share_a_bucket_with_their_64_and_no_other(gateway, first, same_key, other_key):
    empty_the_bucket(gateway, first)

    refused = get(gateway.public, same_key)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert get(gateway.public, other_key).status_code == 200


def test_ipv4_clients_are_counted_by_address(gateway):
    empty_the_bucket(gateway, "192.0.2.10")

    assert get(gateway.public, "192.0.2.10").status_code == 429
    assert get(gateway.public, "192.0.2.11").status_code == 200


def test_the_internal_listener_does_not_count_an_emptied_client(gateway):
    empty_the_bucket(gateway, "2001:db8:77::1")

    assert get(gateway.public, "2001:db8:77::2").status_code == 429
    assert [get(gateway.internal, "2001:db8:77::2").status_code for _ in range(5)] == [200] * 5


@contextmanager
def held_requests(gateway: Gateway, base: str, clients: list[str]) -> Iterator[Callable[[list[str]], None]]:
    """Requests the backend holds open, one per client; more with the yielded function. On exit all
    are released and must have been answered 200 (each reached the backend, so none was refused)."""
    gateway.backend.released = threading.Event()
    futures: list[Future[requests.Response]] = []
    with ThreadPoolExecutor(len(clients) + 4) as pool:

        def hold(more: list[str]) -> None:
            already = gateway.backend.holding()
            futures.extend(pool.submit(get, base, client, HOLD_PATH, 60) for client in more)
            wait_until(
                f"{len(more)} more requests held by the backend",
                lambda: gateway.backend.holding() - already >= len(more),
                timeout=20,
                interval=0.05,
            )

        try:
            hold(clients)
            yield hold
        finally:
            gateway.backend.released.set()
        assert [future.result().status_code for future in futures] == [200] * len(futures)


def test_connection_cap_refuses_the_request_past_twenty_in_progress_and_only_for_that_client(gateway):
    client, neighbour, stranger = "2001:db8:c0::1", "2001:db8:c0::2", "2001:db8:c1::1"
    with held_requests(gateway, gateway.public, [client] * (CONNECTIONS_PER_CLIENT - 1) + [neighbour]) as hold:
        refused = [get(gateway.public, who) for who in (client, neighbour)]
        # A client with nothing in progress is not touched by another's cap.
        hold([stranger])

    for response in refused:
        assert response.status_code == 429
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json()["error"]["code"] == "too_many_connections"
        assert response.json()["error"]["message"]
        assert int(response.headers["Retry-After"]) >= 1
    assert get(gateway.public, client).status_code == 200


def test_the_internal_listener_has_no_connection_cap(gateway):
    with held_requests(gateway, gateway.internal, ["2001:db8:d0::1"] * (CONNECTIONS_PER_CLIENT * 2)):
        pass
