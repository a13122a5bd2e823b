"""Stand-ins on the wire between viz and a Docker engine: a recording proxy and a fake engine."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import socketserver
import tempfile
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

REAL_ENGINE_SOCKET = "/var/run/docker.sock"
_REQUEST_LINE = re.compile(rb"(?m)^([A-Z]+) (/\S*) HTTP/1\.[01]\r$")


def _socket_path(name: str) -> str:
    # Unix socket paths are limited to ~100 bytes: keep them short, under the temp dir.
    return os.path.join(tempfile.mkdtemp(prefix="viz-"), name)


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class RecordingProxy:
    """Forwards every byte to the real engine socket and records each request line it carries.

    It parses the client's stream, not viz's intentions: any method that reaches the engine
    through it is seen, whichever code path sent it.
    """

    def __init__(self, upstream: str = REAL_ENGINE_SOCKET) -> None:
        self.upstream = upstream
        self.path = _socket_path("proxy.sock")
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server: _UnixServer | None = None
        self._open: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def methods(self) -> set[str]:
        with self._lock:
            return {method for method, _ in self.requests}

    def paths(self) -> list[str]:
        """Request paths without the API version prefix and query: /v1.41/tasks?x=1 -> /tasks."""
        with self._lock:
            return [re.sub(r"^/v[0-9.]+", "", path).split("?", 1)[0] for _, path in self.requests]

    def start(self) -> None:
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                upstream.connect(proxy.upstream)
                with proxy._lock:
                    proxy._open.update((upstream, self.request))
                back = threading.Thread(target=_pump, args=(upstream, self.request), daemon=True)
                back.start()
                pending = b""
                while chunk := _recv(self.request):
                    pending += chunk
                    # Only complete lines are parsed; the unfinished tail waits for the next chunk.
                    complete, _, pending = pending.rpartition(b"\n")
                    with proxy._lock:
                        proxy.requests += [(m.decode(), p.decode()) for m, p in _REQUEST_LINE.findall(complete + b"\n")]
                    upstream.sendall(chunk)
                _close(upstream)
                back.join(timeout=5)

        self._server = _UnixServer(self.path, Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Like an engine going away: no new connections, and the open ones are cut."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            for sock in self._open:
                _close(sock)
            self._open.clear()
        Path(self.path).unlink(missing_ok=True)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    while chunk := _recv(source):
        try:
            target.sendall(chunk)
        except OSError:
            break
    _close(target)


class FakeEngine:
    """A minimal engine that answers GET /info (and /version) and 503 "not a swarm manager" elsewhere."""

    def __init__(self) -> None:
        self.path = _socket_path("fake.sock")
        self._server: _UnixServer | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def start(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = re.sub(r"^/v[0-9.]+", "", self.path).split("?", 1)[0]
                if path == "/version":
                    self._json(200, {"ApiVersion": "1.41", "Version": "20.10.0"})
                elif path == "/info":
                    self._json(200, {"Swarm": {"NodeID": "", "LocalNodeState": "inactive", "ControlAvailable": False}})
                else:
                    message = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join".'
                    self._json(503, {"message": message})

            def _json(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

            def address_string(self) -> str:
                return "unix"

        self._server = _UnixServer(self.path, Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        Path(self.path).unlink(missing_ok=True)
