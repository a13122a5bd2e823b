"""What the HTTP client core puts on the wire: the request line it sends straight to a target (the
path, under the base URL's own path) and through a proxy from the environment (the whole URL)."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from common.http import HttpClient

PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY")


class Recorder(ThreadingHTTPServer):
    """A real HTTP server that answers every GET with 200 and keeps each request line and Host."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Recorder

    def do_GET(self) -> None:
        self.server.seen.append((self.requestline, self.headers.get("Host")))
        body = json.dumps({"seen": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def client(base_url: str) -> HttpClient:
    return HttpClient(target="test", base_url=base_url, connect_timeout=2, read_timeout=5, retries=0)


def test_a_direct_call_sends_the_path_under_the_base_urls_own_path(recorder, no_proxy_variables):
    answer = client(f"{recorder.url}/prefix/").request("GET", "/api/things/", params={"limit": 2})

    assert answer.status_code == 200
    assert answer.json() == {"seen": "/prefix/api/things/?limit=2"}
    assert recorder.seen == [("GET /prefix/api/things/?limit=2 HTTP/1.1", recorder.url.removeprefix("http://"))]


def test_a_call_through_a_proxy_from_the_environment_sends_the_whole_url(recorder, no_proxy_variables):
    no_proxy_variables.setenv("http_proxy", recorder.url)

    answer = client("http://customers.invalid:8000").request("GET", "/api/customers/", params={"limit": 2})

    assert answer.status_code == 200
    assert recorder.seen == [
        ("GET http://customers.invalid:8000/api/customers/?limit=2 HTTP/1.1", "customers.invalid:8000")
    ]
