"""The local server processes: redis-server, gunicorn and nginx, started, awaited and stopped by PID.

Local mode (ops.local), the test suite and the benchmarks start their servers through these
classes, so every one of them runs with the same argv, environment and readiness check:

    redis = RedisServer(free_port(), options=IN_MEMORY).start()
    redis.wait_ready(timeout=10)
    ...
    redis.stop()

A process logs to its log file (or nowhere), is stopped with SIGTERM and, with ``own_group``,
leads its own process group and dies with its parent (the supervisor of local mode).
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Self

from common.waiting import wait_until
from ops.credentials import write_private
from ops.gateway_config import TEMP_DIRS
from ops.services import service

REPO_ROOT = Path(__file__).resolve().parent.parent
DEBIAN_PACKAGES = {"redis-server": "redis-server", "nginx": "nginx-light"}
# Redis options: nothing on disk (benchmarks, throwaway systems) or every write in the AOF.
IN_MEMORY = ("--appendonly", "no", "--save", "")
APPEND_ONLY = ("--appendonly", "yes")


class ProcessError(RuntimeError):
    """A local process cannot start or exited; the message says why (with its log's last lines)."""


def find_executable(name: str) -> str | None:
    # nginx lives in /usr/sbin, which is not on a normal user's PATH.
    return shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")


def require_executable(name: str) -> str:
    executable = find_executable(name)
    if executable is None:
        raise ProcessError(
            f"{name} is not installed: sudo apt-get install {DEBIAN_PACKAGES.get(name, name)} (or python -m ops.setup)"
        )
    return executable


def free_port() -> int:
    """A loopback port the kernel reports free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_status(port: int, path: str, timeout: float = 1.0) -> int | None:
    """Status of GET http://127.0.0.1:<port><path>, or None when nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def redis_answers(port: int, password: str = "") -> bool:
    """PING answered with PONG (after AUTH when a password is given): up, and done loading its data."""
    replies = [b"+PONG"]
    command = b"PING\r\n"
    if password:
        secret = password.encode()
        command = b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(secret), secret) + command
        replies.insert(0, b"+OK")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(command)
            received = b""
            while received.count(b"\r\n") < len(replies):
                chunk = sock.recv(256)
                if not chunk:
                    break
                received += chunk
            return received.split(b"\r\n")[: len(replies)] == replies
    except OSError:
        return False


# Looked up once here: the preexec hook below runs between fork and exec and
# must do as little as possible (no dlopen, no imports).
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # If the supervisor is SIGKILLed it cannot stop its children; the kernel
    # does it instead, so no orphaned servers keep ports busy.
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalProcess:
    """One server process we start from the repository root, with its log file (None: discarded)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        own_group: bool = False,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        # Read at start(): a caller may still change it (a test removes SECRET_KEY).
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        # Own process group, dying with its parent: Ctrl-C reaches only the supervisor,
        # which then stops its children in order.
        self.own_group = own_group
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        return self._started().pid

    def start(self) -> Self:
        output = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                self.argv,
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=self.own_group,
                preexec_fn=_die_with_parent if self.own_group else None,
            )
        finally:
            if not isinstance(output, int):
                output.close()
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def exit_code(self) -> int | None:
        """None while it runs (or before it started)."""
        return self.process.poll() if self.process else None

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None:
            return ""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _log_excerpt(self) -> str:
        # Enough lines for the cause under the tracebacks of gunicorn's master (about 25 lines).
        return f"; last lines of {self.log_path}:\n{self.log_tail(60)}" if self.log_path else ""

    def wait_until_answering(self, what: str, answers: Callable[[], bool], *, timeout: float) -> None:
        """Wait until ``answers()``; ProcessError at once if the process exits meanwhile."""

        def ready() -> bool:
            if answers():
                return True
            if self._started().poll() is not None:
                raise ProcessError(f"{self.name} exited with code {self.exit_code}{self._log_excerpt()}")
            return False

        wait_until(what, ready, timeout=timeout, explain=lambda: f"{self.name} did not answer{self._log_excerpt()}")

    def terminate(self) -> None:
        """SIGTERM, without waiting."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                self._started().send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (graceful) and wait; the exit code, None if it never started."""
        if self.process is None:
            return None
        self.terminate()
        return self.process.wait(timeout=timeout)

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL: no shutdown, no final fsync, like a crashed container."""
        if self.running():
            self._started().kill()
            self._started().wait(timeout=timeout)

    def kill_group(self) -> None:
        """SIGKILL the whole process group (own_group only): also reaps workers of a master that died first."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self._started().wait()

    def _started(self) -> subprocess.Popen[bytes]:
        if self.process is None:
            raise ProcessError(f"{self.name} was never started")
        return self.process


class RedisServer(LocalProcess):
    """redis-server on 127.0.0.1:<port>; stop() then start() keeps port and data, like a restart."""

    def __init__(
        self,
        port: int,
        *,
        options: Sequence[str] = IN_MEMORY,
        data_dir: Path | None = None,
        name: str = "redis-server",
        log_path: Path | None = None,
        own_group: bool = False,
        password: str = "",
    ) -> None:
        self.port = port
        self.data_dir = data_dir
        self.password = password
        where = ["--dir", str(data_dir)] if data_dir else []
        argv = [require_executable("redis-server"), "--port", str(port), "--bind", "127.0.0.1", *where, *options]
        if password:
            if data_dir is None:
                raise ProcessError("a redis-server with a password needs a data_dir for its config file")
            # In a file only we can read, first on the command line: never in argv, where `ps` shows it.
            config = data_dir / "auth.conf"
            write_private(config, f"requirepass {password}\n")
            argv.insert(1, str(config))
        super().__init__(name, argv, log_path=log_path, own_group=own_group)

    def url(self, db: int = 0) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/{db}"

    def wait_ready(self, *, timeout: float) -> None:
        self.wait_until_answering(
            f"{self.name} answering PING on port {self.port}",
            lambda: redis_answers(self.port, self.password),
            timeout=timeout,
        )


class Gunicorn(LocalProcess):
    """One Django deployable under gunicorn with config/gunicorn.conf.py, as the images run it."""

    def __init__(
        self,
        service_name: str,
        *,
        port: int,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
        log_path: Path | None = None,
        own_group: bool = False,
    ) -> None:
        self.service = service_name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        settings = service(service_name).settings
        if settings is None:
            raise ProcessError(f"{service_name} is not a Django service")
        argv = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
        env = {"DJANGO_SETTINGS_MODULE": settings, "BIND": f"127.0.0.1:{port}", **(env or {})}
        super().__init__(name or service_name, argv, env=env, log_path=log_path, own_group=own_group)

    def wait_ready(self, *, path: str, timeout: float) -> None:
        """Until GET <path> answers 200 (/healthz: the process is up; /readyz: its Redis answers too)."""
        self.wait_until_answering(
            f"{self.name} answering 200 on {self.url}{path}",
            lambda: http_status(self.port, path) == 200,
            timeout=timeout,
        )


class Nginx(LocalProcess):
    """nginx in the foreground on a config of ours, with its prefix (temp dirs, pid file) in ``prefix``."""

    def __init__(
        self,
        prefix: Path,
        config: str,
        *,
        name: str = "gateway",
        log_path: Path | None = None,
        own_group: bool = False,
    ) -> None:
        self.prefix = prefix
        self.config = config
        self.conf_path = prefix / "nginx.conf"
        self._base = [require_executable("nginx"), "-p", f"{prefix}/", "-c", str(self.conf_path), "-e", "stderr"]
        self._pid_directive = f"pid {prefix / 'nginx.pid'};"
        argv = [*self._base, "-g", f"daemon off; {self._pid_directive}"]
        super().__init__(name, argv, log_path=log_path, own_group=own_group)

    def start(self) -> Self:
        """Write the config and its temp dirs, have nginx check it (ProcessError naming nginx's complaint), start."""
        for temp in TEMP_DIRS:
            (self.prefix / "temp" / temp).mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(self.config)
        check = subprocess.run(
            [*self._base, "-t", "-q", "-g", self._pid_directive],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise ProcessError(f"nginx rejected {self.conf_path}:\n{check.stderr}")
        return super().start()

    def wait_ready(self, *ports: int, timeout: float) -> None:
        """Until /gateway-health answers 200 on every listener."""
        self.wait_until_answering(
            f"{self.name} answering 200 on /gateway-health at ports {', '.join(map(str, ports))}",
            lambda: all(http_status(port, "/gateway-health") == 200 for port in ports),
            timeout=timeout,
        )
