"""Real servers for the test suite: ops.processes' redis-server and gunicorn on free loopback ports,
started and awaited in one call; and the helpers of the Docker suites."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from ops import engine, processes
from ops.credentials import Credentials
from ops.processes import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
# What the suite's own services run with (config/settings/test.py has the same API token).
TEST_CREDENTIALS = Credentials(
    api_token="test-only-api-token",
    operator_username="operator",
    operator_password="test-only-operator-password",
    redis_password="",
)
# Headers of a write to those services.
WRITE = TEST_CREDENTIALS.api_headers()
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


def redis_cli(*args: str) -> list[str]:
    """argv of redis-cli inside a stack's Redis container, authenticated with the password of the
    container's own secret (as its healthcheck is)."""
    login = 'REDISCLI_AUTH="$(cat /run/secrets/redis_password)" exec redis-cli --no-auth-warning "$@"'
    return ["sh", "-c", login, "redis-cli", *args]


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


class RedisServer(processes.RedisServer):
    """The suite's redis-server on a free port; stop() and start() keep port and data (AOF), like a restart."""

    def __init__(self, *, appendfsync: str = "always") -> None:
        data_dir = Path(tempfile.mkdtemp(prefix="test-redis-"))
        super().__init__(
            free_port(),
            options=("--appendonly", "yes", "--appendfsync", appendfsync, "--save", "", "--databases", "16"),
            data_dir=data_dir,
            log_path=data_dir / "redis.log",
        )

    def start(self) -> Self:
        super().start()
        self.wait_ready(timeout=START_TIMEOUT)
        return self


class Gunicorn(processes.Gunicorn):
    """One deployable under gunicorn as images and local mode run it, on a free port unless given one."""

    def __init__(self, service: str, env: dict[str, str], *, port: int | None = None) -> None:
        self.log = Path(tempfile.mkstemp(prefix=f"test-{service}-", suffix=".log")[1])
        test_env = {
            "WEB_CONCURRENCY": "2",
            "SECRET_KEY": "test-only-not-secret",
            "PROMETHEUS_MULTIPROC_DIR": "",
            "API_WRITE_TOKEN": TEST_CREDENTIALS.api_token,
            "OPERATOR_USERNAME": TEST_CREDENTIALS.operator_username,
            "OPERATOR_PASSWORD": TEST_CREDENTIALS.operator_password,
        }
        super().__init__(service, port=port or free_port(), env={**test_env, **env}, log_path=self.log)

    def start(self) -> Self:
        super().start()
        self.wait_ready(path="/healthz", timeout=START_TIMEOUT)
        return self


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
