"""The whole system as local processes, without Docker: the library behind ``python -m ops.dev``.

One redis-server per service with a Redis, every local service of ops.services under gunicorn
(customers twice, so the gateway has something to fail over to) and nginx with the gateway's
own docker/gateway/nginx.conf, rendered for 127.0.0.1 by ops.gateway_config.

    with LocalSystem(Ports.free(), run_dir=...) as system:
        ...

starts everything, waits until it is ready and stops it all on exit (the integration tests,
the frontend tests and the benchmarks use it).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from common.waiting import WaitTimeout, wait_until
from ops import credentials as credentials_file
from ops.credentials import Credentials
from ops.gateway_config import INTERNAL_PORT, render_local
from ops.processes import (
    APPEND_ONLY,
    DEBIAN_PACKAGES,
    IN_MEMORY,
    REPO_ROOT,
    Gunicorn,
    LocalProcess,
    Nginx,
    ProcessError,
    RedisServer,
    find_executable,
    port_in_use,
)
from ops.services import ROUTED_SERVICES, SERVICES, service

DEFAULT_RUN_DIR = REPO_ROOT / ".run"
STOP_TIMEOUT = 15.0
READY_TIMEOUT = 60.0
GATEWAY_PORT = 8000
# The service local mode runs twice; its second process listens 10 above the first.
TWICE = "customers"
# The Redis of the n-th service with one (in ops.services' order) listens on FIRST_REDIS_PORT + n.
FIRST_REDIS_PORT = 6381


class DevError(ProcessError):
    """Local mode cannot start; the message says what to do."""


def default_ports() -> dict[str, int]:
    """Port name -> default port, from the table: the gateway's listeners, each local service, each Redis."""
    ports = {"gateway": GATEWAY_PORT, "gateway_internal": INTERNAL_PORT}
    for entry in SERVICES:
        if entry.local_port is not None:
            ports[entry.name] = entry.local_port
            if entry.name == TWICE:
                ports[f"{entry.name}_second"] = entry.local_port + 10
    with_redis = [entry.name for entry in SERVICES if entry.redis and entry.local_port is not None]
    for number, name in enumerate(with_redis):
        ports[f"redis_{name}"] = FIRST_REDIS_PORT + number
    return ports


@dataclass(frozen=True)
class Ports:
    """Every TCP port local mode listens on (all on 127.0.0.1), by the names of default_ports()."""

    by_name: Mapping[str, int] = field(default_factory=default_ports)

    def __post_init__(self) -> None:
        names, expected = set(self.by_name), set(default_ports())
        if names != expected:
            raise DevError(f"ports must be given for exactly {sorted(expected)}, got {sorted(names)}")

    def __getitem__(self, name: str) -> int:
        return self.by_name[name]

    def __getattr__(self, name: str) -> int:
        """``ports.gateway``, ``ports.customers_second``, ``ports.redis_products``: any name of default_ports()."""
        if name == "by_name":  # not set yet (copy, unpickle): no recursion through __getattr__
            raise AttributeError(name)
        try:
            return self.by_name[name]
        except KeyError:
            raise AttributeError(f"no port named {name!r}; known: {', '.join(self.by_name)}") from None

    def redis(self, service_name: str) -> int:
        return self[f"redis_{service_name}"]

    @classmethod
    def free(cls) -> Ports:
        """Ports the kernel reports free right now, so tests never meet a running dev instance."""
        sockets = []
        try:
            for _ in default_ports():
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind(("127.0.0.1", 0))
                sockets.append(sock)
            return cls(dict(zip(default_ports(), (sock.getsockname()[1] for sock in sockets), strict=True)))
        finally:
            for sock in sockets:
                sock.close()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Ports:
        """Defaults overridden by DEV_<NAME>_PORT variables (e.g. DEV_GATEWAY_PORT)."""
        return cls({name: int(environ.get(env_var_for(name)) or port) for name, port in default_ports().items()})


def env_var_for(port_name: str) -> str:
    return f"DEV_{port_name.upper()}_PORT"


def local_backends(ports: Ports) -> dict[str, list[int]]:
    """The gunicorn ports behind each route of the gateway."""
    backends = {name: [ports[name]] for name in ROUTED_SERVICES}
    backends[TWICE].append(ports[f"{TWICE}_second"])
    return backends


def check_prerequisites(*, install: bool = False, say: Callable[[str], None] = print) -> dict[str, str]:
    """Paths of redis-server and nginx; installs the Debian packages on request when root."""
    missing = [name for name in DEBIAN_PACKAGES if find_executable(name) is None]
    if missing and install:
        if os.geteuid() != 0:
            raise DevError("--install needs root (it runs apt-get install).")
        packages = [DEBIAN_PACKAGES[name] for name in missing]
        say(f"installing {' '.join(packages)} with apt-get ...")
        subprocess.run(["apt-get", "update"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", *packages],
            check=True,
        )
        missing = [name for name in DEBIAN_PACKAGES if find_executable(name) is None]
    if missing:
        to_install = " ".join(DEBIAN_PACKAGES[name] for name in missing)
        raise DevError(
            f"not found: {', '.join(missing)}. Install the Debian packages: "
            f"sudo apt-get install {to_install} (or run as root with --install)."
        )
    return {name: find_executable(name) or name for name in DEBIAN_PACKAGES}


def load_secret_key(run_dir: Path) -> str:
    """A development SECRET_KEY, kept in the run dir so sessions survive a restart."""
    path = run_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(50)
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key


@dataclass
class LocalSystem:
    """The whole system as local processes; a context manager that starts and stops it."""

    ports: Ports = field(default_factory=Ports)
    run_dir: Path = DEFAULT_RUN_DIR
    persistent_redis: bool = True
    with_frontend: bool = True
    workers: int = 2
    # The public listener's per-client limit of docker/gateway/nginx.conf; off for benchmarks.
    rate_limit: bool = True
    say: Callable[[str], None] = print
    children: list[LocalProcess] = field(default_factory=list, init=False)
    # From <run_dir>/credentials.env, made on the first start (ops.credentials).
    credentials: Credentials = field(init=False)
    credentials_created: bool = field(default=False, init=False)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def internal_url(self) -> str:
        """The gateway's internal listener: same routes, never rate limited (service to service)."""
        return f"http://127.0.0.1:{self.ports.gateway_internal}"

    @property
    def credentials_path(self) -> Path:
        return self.run_dir / "credentials.env"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def gateway_access_log(self) -> Path:
        """nginx's JSON access log (its stdout)."""
        return self.log_dir / "gateway.log"

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def child(self, name: str) -> LocalProcess:
        for child in self.children:
            if child.name == name:
                return child
        raise KeyError(name)

    def start(self) -> None:
        check_prerequisites(say=self.say)
        self._check_ports_free()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        secret_key = load_secret_key(self.run_dir)
        self.credentials, self.credentials_created = credentials_file.load_or_create(self.credentials_path)

        redis_servers = [self._start_redis(name) for name in self._services() if service(name).redis]
        for redis in redis_servers:
            redis.wait_ready(timeout=READY_TIMEOUT)
            self.say(f"  ready   {redis.name}")

        django = [self._start_gunicorn(*process, secret_key=secret_key) for process in self._django_processes()]
        gateway = self._start_nginx()
        for process in django:
            process.wait_ready(path="/readyz", timeout=READY_TIMEOUT)
            self.say(f"  ready   {process.name}")
        gateway.wait_ready(self.ports.gateway, self.ports.gateway_internal, timeout=READY_TIMEOUT)
        self.say(f"  ready   {gateway.name}")

    def _services(self) -> list[str]:
        return [
            entry.name
            for entry in SERVICES
            if entry.local_port is not None and (self.with_frontend or entry.name != "frontend")
        ]

    def _django_processes(self) -> list[tuple[str, str, int]]:
        """(service, process name, port) of every gunicorn to run; the second one of TWICE right after it."""
        processes = []
        for name in self._services():
            processes.append((name, name, self.ports[name]))
            if name == TWICE:
                processes.append((name, f"{name}-2", self.ports[f"{name}_second"]))
        return processes

    def _check_ports_free(self) -> None:
        busy = [
            f"{name}={port} ({env_var_for(name)})" for name, port in self.ports.by_name.items() if port_in_use(port)
        ]
        if busy:
            raise DevError(
                "ports already in use on 127.0.0.1: "
                + ", ".join(busy)
                + ". Is local mode already running? Pick others with flags, env or --free-ports."
            )

    def _started(self, process: LocalProcess) -> None:
        process.start()
        self.children.append(process)
        self.say(f"  started {process.name:<16} pid {process.pid:<7} log {process.log_path}")

    def _start_redis(self, name: str) -> RedisServer:
        data_dir = self.run_dir / "redis" / name
        data_dir.mkdir(parents=True, exist_ok=True)
        redis = RedisServer(
            self.ports.redis(name),
            options=APPEND_ONLY if self.persistent_redis else IN_MEMORY,
            data_dir=data_dir,
            name=f"redis-{name}",
            log_path=self.log_dir / f"redis-{name}.log",
            own_group=True,
            password=self.credentials.redis_password,
        )
        self._started(redis)
        return redis

    def _start_gunicorn(self, name: str, process_name: str, port: int, *, secret_key: str) -> Gunicorn:
        env = {
            "WEB_CONCURRENCY": str(self.workers),
            "SECRET_KEY": secret_key,
            "API_WRITE_TOKEN": self.credentials.api_token,
            "OPERATOR_USERNAME": self.credentials.operator_username,
            "OPERATOR_PASSWORD": self.credentials.operator_password,
            "CUSTOMERS_URL": self.internal_url,
            "PRODUCTS_URL": self.internal_url,
            "API_URL": self.internal_url,
            "SERVICE_VERSION": os.environ.get("SERVICE_VERSION", "dev"),
            "PROMETHEUS_MULTIPROC_DIR": str(self.run_dir / "metrics" / process_name),
            "PYTHONUNBUFFERED": "1",
        }
        if service(name).redis:
            env["REDIS_URL"] = f"redis://127.0.0.1:{self.ports.redis(name)}/0"
            env["REDIS_PASSWORD"] = self.credentials.redis_password
        gunicorn = Gunicorn(
            name,
            port=port,
            env=env,
            name=process_name,
            log_path=self.log_dir / f"{process_name}.log",
            own_group=True,
        )
        self._started(gunicorn)
        return gunicorn

    def _start_nginx(self) -> Nginx:
        config = render_local(
            listen=f"127.0.0.1:{self.ports.gateway}",
            internal_listen=f"127.0.0.1:{self.ports.gateway_internal}",
            rate_limit=self.rate_limit,
            backends=local_backends(self.ports),
        )
        gateway = Nginx(self.run_dir / "nginx", config, log_path=self.gateway_access_log, own_group=True)
        self._started(gateway)
        limit = "on (production limit per client address)" if self.rate_limit else "OFF (nothing is throttled)"
        self.say(f"  gateway rate limit on the public port: {limit}")
        return gateway

    def stop(self) -> None:
        """SIGTERM every child by PID (gateway first, Redis last), wait, SIGKILL stragglers."""
        children = list(reversed(self.children))
        for child in children:
            child.terminate()
        try:
            wait_until(
                "local mode's processes to exit after SIGTERM",
                lambda: not any(child.running() for child in children),
                timeout=STOP_TIMEOUT,
            )
        except WaitTimeout:
            for child in children:
                if child.running():
                    self.say(f"  {child.name} (pid {child.pid}) ignored SIGTERM; killing it")
        for child in children:
            # The child leads its own process group; this also reaps workers
            # left behind by a master that died first.
            child.kill_group()
        self.children.clear()
