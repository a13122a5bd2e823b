"""Real servers for the test suite: redis-server and gunicorn processes on free loopback ports."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ops import engine
from ops.dev import free_port, redis_answers

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0


def host_port(*, variable: str, in_use: int | None, preferred: int) -> int:
    """A host port for a published service: $variable if set, else the port a deployment already
    uses, else `preferred` when nothing holds it on any interface, else a free loopback port."""
    if os.environ.get(variable):
        return int(os.environ[variable])
    if in_use:
        return in_use
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", preferred))  # noqa: S104 (host-mode ports bind every interface)
            return preferred
        except OSError:
            pass
    return free_port()


def run_logged(*argv: str, timeout: float) -> float:
    """Run a command from the repository root as a user would, showing it; the seconds it took."""
    started = time.monotonic()
    print(f"\n$ {' '.join(argv)}", flush=True)
    subprocess.run(argv, cwd=REPO_ROOT, check=True, timeout=timeout)
    seconds = time.monotonic() - started
    print(f"({seconds:.0f}s)", flush=True)
    return seconds


def docker_unusable() -> str | None:
    """Why the Docker suites cannot run here, or None when an engine answers."""
    # The command line too: ops.stack deploys with `docker stack deploy`.
    if not shutil.which("docker"):
        return "docker is not installed"
    return None if engine.local().answers() else "the Docker engine does not answer"


def wait_until(check, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not happen within {timeout:g}s")


def redis_server_binary() -> str:
    for candidate in ("/usr/bin/redis-server", "/usr/local/bin/redis-server"):
        if os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("redis-server is not installed: apt-get install redis-server")


class RedisServer:
    """A redis-server of our own; stop() and start() keep port and data (AOF), like a restart."""

    def __init__(self, *, appendfsync: str = "always") -> None:
        self.appendfsync = appendfsync
        self.port = free_port()
        self.data_dir = tempfile.mkdtemp(prefix="test-redis-")
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.data_dir,
                "--appendonly", "yes", "--appendfsync", self.appendfsync, "--save", "", "--databases", "16",
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self._answers, timeout=START_TIMEOUT, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final fsync, like a crashed container."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def _answers(self) -> bool:
        return redis_answers(self.port)


class Gunicorn:
    """One deployable under gunicorn with config/gunicorn.conf.py, as images and local mode run it."""

    def __init__(self, service: str, env: dict[str, str], *, port: int | None = None) -> None:
        self.service = service
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkstemp(prefix=f"test-{service}-", suffix=".log")[1])
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": f"config.settings.{service}",
            "BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": "2",
            "SECRET_KEY": "test-only-not-secret",
            "PROMETHEUS_MULTIPROC_DIR": "",
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._alive, timeout=START_TIMEOUT, what=f"gunicorn {self.service} on port {self.port}")

    def stop(self) -> int | None:
        """SIGTERM (graceful) and the exit code."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            return self.process.wait(timeout=30)
        return self.process.returncode if self.process else None

    def _alive(self) -> bool:
        if self.process and self.process.poll() is not None:
            raise RuntimeError(f"gunicorn {self.service} exited:\n{self.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=0.5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False


@contextmanager
def service_with_own_redis(
    service: str, env: dict[str, str] | None = None, *, appendfsync: str = "always"
) -> Iterator[tuple[Gunicorn, RedisServer]]:
    """One deployable under gunicorn on a redis-server of its own, for tests that stop or kill either."""
    store = RedisServer(appendfsync=appendfsync)
    store.start()
    try:
        process = Gunicorn(service, {"REDIS_URL": store.url(), **(env or {})})
        process.start()
        try:
            yield process, store
        finally:
            process.stop()
    finally:
        store.stop()
