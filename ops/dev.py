"""Run the whole system as local processes, without Docker.

Three redis-servers, the Django services under gunicorn (customers twice, so the
gateway has something to fail over to) and nginx with the gateway's own
docker/gateway/nginx.conf, rendered for 127.0.0.1 by ops.gateway_config.

    python -m ops.dev                 # gateway on http://127.0.0.1:8000/
    python -m ops.dev --gateway-port 9000
    python -m ops.dev --free-ports    # every port picked by the kernel
    python -m ops.dev --rate-limit off   # no per-client limit on the gateway (load tests)

The gateway listens twice, like in the stack: the public port (rate limited per
client address) and an internal one (same routes, no limit) that the services
and the frontend use to call the APIs.

Also a library: ``with LocalSystem(Ports.free(), run_dir=...) as system:`` starts
everything, waits until it is ready and stops it all on exit (the integration
tests use it).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import http.client
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Self

from ops.gateway_config import TEMP_DIRS, LocalBackends, render_local

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUN_DIR = REPO_ROOT / ".run"
DEBIAN_PACKAGES = {"redis-server": "redis-server", "nginx": "nginx-light"}
STOP_TIMEOUT = 15.0
READY_TIMEOUT = 60.0


class DevError(RuntimeError):
    """Local mode cannot start; the message says what to do."""


@dataclass(frozen=True)
class Ports:
    """Every TCP port local mode listens on (all on 127.0.0.1)."""

    gateway: int = 8000
    gateway_internal: int = 8081
    customers: int = 8001
    customers_second: int = 8011
    products: int = 8002
    invoices: int = 8003
    frontend: int = 8004
    redis_customers: int = 6381
    redis_products: int = 6382
    redis_invoices: int = 6383

    @classmethod
    def free(cls) -> Ports:
        """Ports the kernel reports free right now, so tests never meet a running dev instance."""
        sockets = []
        try:
            for _ in dataclasses.fields(cls):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind(("127.0.0.1", 0))
                sockets.append(sock)
            return cls(*(sock.getsockname()[1] for sock in sockets))
        finally:
            for sock in sockets:
                sock.close()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Ports:
        """Defaults overridden by DEV_<NAME>_PORT variables (e.g. DEV_GATEWAY_PORT)."""
        values = {}
        for port_field in dataclasses.fields(cls):
            raw = environ.get(env_var_for(port_field.name))
            if raw:
                values[port_field.name] = int(raw)
        return cls(**values)


def env_var_for(port_name: str) -> str:
    return f"DEV_{port_name.upper()}_PORT"


@dataclass
class Child:
    """One process local mode started, with its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


# Looked up once here: the preexec hook below runs between fork and exec and
# must do as little as possible (no dlopen, no imports).
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # If this supervisor is SIGKILLed it cannot stop its children; the kernel
    # does it instead, so no orphaned servers keep ports busy.
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def find_executable(name: str) -> str | None:
    # nginx lives in /usr/sbin, which is not on a normal user's PATH.
    return shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")


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
        packages = " ".join(DEBIAN_PACKAGES[name] for name in missing)
        raise DevError(
            f"not found: {', '.join(missing)}. Install the Debian packages: "
            f"sudo apt-get install {packages} (or run as root with --install)."
        )
    return {name: find_executable(name) or name for name in DEBIAN_PACKAGES}


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


def free_port() -> int:
    """A loopback port the kernel reports free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


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
    with_frontend: bool | None = None
    workers: int = 2
    # The public listener's per-client limit of docker/gateway/nginx.conf; off for benchmarks.
    rate_limit: bool = True
    say: Callable[[str], None] = print
    children: list[Child] = field(default_factory=list, init=False)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def internal_url(self) -> str:
        """The gateway's internal listener: same routes, never rate limited (service to service)."""
        return f"http://127.0.0.1:{self.ports.gateway_internal}"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def gateway_access_log(self) -> Path:
        """nginx's JSON access log (its stdout)."""
        return self.log_dir / "gateway.log"

    @property
    def frontend_enabled(self) -> bool:
        if self.with_frontend is not None:
            return self.with_frontend
        return (REPO_ROOT / "config" / "settings" / "frontend.py").exists()

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def child(self, name: str) -> Child:
        for child in self.children:
            if child.name == name:
                return child
        raise KeyError(name)

    def start(self) -> None:
        executables = check_prerequisites(say=self.say)
        self._check_ports_free()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        secret_key = load_secret_key(self.run_dir)

        for service in ("customers", "products", "invoices"):
            self._start_redis(executables["redis-server"], service)
        for service in ("customers", "products", "invoices"):
            self._wait(
                f"redis-{service}",
                lambda s=service: redis_answers(getattr(self.ports, f"redis_{s}")),
            )

        for name, settings, port, redis_port in self._django_processes():
            self._start_gunicorn(name, settings, port, redis_port, secret_key)
        self._start_nginx(executables["nginx"])

        for name, _settings, port, _redis in self._django_processes():
            self._wait(name, lambda p=port: http_status(p, "/readyz") == 200)
        listeners = (self.ports.gateway, self.ports.gateway_internal)
        self._wait("gateway", lambda: all(http_status(port, "/gateway-health") == 200 for port in listeners))

    def _django_processes(self) -> list[tuple[str, str, int, int | None]]:
        ports = self.ports
        processes: list[tuple[str, str, int, int | None]] = [
            ("customers", "customers", ports.customers, ports.redis_customers),
            ("customers-2", "customers", ports.customers_second, ports.redis_customers),
            ("products", "products", ports.products, ports.redis_products),
            ("invoices", "invoices", ports.invoices, ports.redis_invoices),
        ]
        if self.frontend_enabled:
            processes.append(("frontend", "frontend", ports.frontend, None))
        return processes

    def _check_ports_free(self) -> None:
        busy = [
            f"{port_field.name}={getattr(self.ports, port_field.name)} ({env_var_for(port_field.name)})"
            for port_field in dataclasses.fields(self.ports)
            if port_in_use(getattr(self.ports, port_field.name))
        ]
        if busy:
            raise DevError(
                "ports already in use on 127.0.0.1: "
                + ", ".join(busy)
                + ". Is local mode already running? Pick others with flags, env or --free-ports."
            )

    def _spawn(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> Child:
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                list(argv),
                cwd=REPO_ROOT,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own process group: Ctrl-C reaches only this supervisor, which
                # then stops the children in order.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        child = Child(name, process, log_path)
        self.children.append(child)
        self.say(f"  started {name:<16} pid {process.pid:<7} log {log_path}")
        return child

    def _start_redis(self, executable: str, service: str) -> None:
        port = getattr(self.ports, f"redis_{service}")
        data_dir = self.run_dir / "redis" / service
        data_dir.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes"] if self.persistent_redis else ["--appendonly", "no", "--save", ""]
        self._spawn(
            f"redis-{service}",
            [
                executable,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data_dir),
                *persistence,
            ],
        )

    def _start_gunicorn(
        self,
        name: str,
        settings: str,
        port: int,
        redis_port: int | None,
        secret_key: str,
    ) -> None:
        env = {
            "DJANGO_SETTINGS_MODULE": f"config.settings.{settings}",
            "BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(self.workers),
            "SECRET_KEY": secret_key,
            "CUSTOMERS_URL": self.internal_url,
            "PRODUCTS_URL": self.internal_url,
            "API_URL": self.internal_url,
            "SERVICE_VERSION": os.environ.get("SERVICE_VERSION", "dev"),
            "PROMETHEUS_MULTIPROC_DIR": str(self.run_dir / "metrics" / name),
            "PYTHONUNBUFFERED": "1",
        }
        if redis_port is not None:
            env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "config/gunicorn.conf.py",
            "config.wsgi",
        ]
        self._spawn(name, argv, env)

    def _start_nginx(self, executable: str) -> None:
        prefix = self.run_dir / "nginx"
        for temp in TEMP_DIRS:
            (prefix / "temp" / temp).mkdir(parents=True, exist_ok=True)
        conf = prefix / "nginx.conf"
        ports = self.ports
        conf.write_text(
            render_local(
                listen=f"127.0.0.1:{ports.gateway}",
                internal_listen=f"127.0.0.1:{ports.gateway_internal}",
                rate_limit=self.rate_limit,
                backends=LocalBackends(
                    customers=[ports.customers, ports.customers_second],
                    products=[ports.products],
                    invoices=[ports.invoices],
                    frontend=[ports.frontend],
                ),
            )
        )
        base = [executable, "-p", f"{prefix}/", "-c", str(conf), "-e", "stderr"]
        globals_ = f"pid {prefix / 'nginx.pid'};"
        check = subprocess.run(
            [*base, "-t", "-q", "-g", globals_],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise DevError(f"nginx rejected {conf}:\n{check.stderr}")
        self._spawn("gateway", [*base, "-g", f"daemon off; {globals_}"])
        limit = "on (production limit per client address)" if self.rate_limit else "OFF (nothing is throttled)"
        self.say(f"  gateway rate limit on the public port: {limit}")

    def _wait(self, name: str, ready: Callable[[], bool], timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        child = next((c for c in self.children if c.name == name), None)
        while not ready():
            if child is not None and not child.running():
                raise DevError(
                    f"{name} exited with code {child.process.returncode}; last lines of "
                    f"{child.log_path}:\n{child.log_tail()}"
                )
            if time.monotonic() > deadline:
                tail = f"; last lines of {child.log_path}:\n{child.log_tail()}" if child else ""
                raise DevError(f"{name} not ready after {timeout:.0f}s{tail}")
            time.sleep(0.1)
        self.say(f"  ready   {name}")

    def stop(self) -> None:
        """SIGTERM every child by PID (gateway first, Redis last), wait, SIGKILL stragglers."""
        children = list(reversed(self.children))
        for child in children:
            if child.running():
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in children:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"  {child.name} (pid {child.pid}) ignored SIGTERM; killing it")
            # The child leads its own process group; this also reaps workers
            # left behind by a master that died first.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
            child.process.wait()
        self.children.clear()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    defaults = Ports.from_env()
    parser = argparse.ArgumentParser(
        prog="python -m ops.dev",
        description=(
            "Run redis, the Django services (gunicorn) and the nginx gateway as local processes. "
            "Ctrl-C stops everything. Every port has a flag and a DEV_<NAME>_PORT variable."
        ),
    )
    for port_field in dataclasses.fields(Ports):
        flag = "--" + port_field.name.replace("_", "-") + "-port"
        parser.add_argument(
            flag,
            dest=port_field.name,
            metavar="PORT",
            type=int,
            default=getattr(defaults, port_field.name),
            help=f"(env {env_var_for(port_field.name)}; default %(default)s)",
        )
    parser.add_argument("--free-ports", action="store_true", help="let the kernel pick every port")
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=DEFAULT_RUN_DIR,
        help="logs, Redis data, nginx temp",
    )
    parser.add_argument("--ephemeral", action="store_true", help="Redis keeps nothing on disk")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per process")
    parser.add_argument(
        "--rate-limit",
        choices=("on", "off"),
        default="on",
        help="the gateway's per-client limit on the public port, as in production (default on); "
        "off for load tests from one address",
    )
    parser.add_argument(
        "--no-frontend",
        action="store_true",
        help="do not start the frontend even if it exists",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help="apt-get install missing redis-server/nginx (root only)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.free_ports:
        ports = Ports.free()
    else:
        ports = Ports(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Ports)})

    stop_requested = False

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stop_requested
        stop_requested = True
        raise KeyboardInterrupt

    def interrupted(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, request_stop)
    # Ctrl-C stops everything even when this process was started with SIGINT ignored (as a
    # background job of a non-interactive shell is), where Python installs no handler of its own.
    signal.signal(signal.SIGINT, interrupted)
    system = LocalSystem(
        ports=ports,
        run_dir=args.run_dir.resolve(),
        persistent_redis=not args.ephemeral,
        with_frontend=False if args.no_frontend else None,
        workers=args.workers,
        rate_limit=args.rate_limit == "on",
    )
    exit_code = 0
    try:
        check_prerequisites(install=args.install)
        print(f"starting local mode (run dir {system.run_dir})")
        started = time.monotonic()
        system.start()
        _print_ready(system, time.monotonic() - started)
        exit_code = _supervise(system)
    except KeyboardInterrupt:
        print("\nSIGTERM received, stopping ..." if stop_requested else "\nstopping ...")
    except DevError as error:
        print(f"error: {error}", file=sys.stderr)
        exit_code = 1
    finally:
        # A second Ctrl-C must not leave half the children running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        system.stop()
        print("stopped: no local-mode process is left running")
    return exit_code


def _supervise(system: LocalSystem) -> int:
    """Block until Ctrl-C/SIGTERM; a child dying on its own stops everything."""
    while True:
        for child in system.children:
            if not child.running():
                print(f"\n{child.name} (pid {child.pid}) exited with {child.process.returncode}:")
                print(child.log_tail())
                print("stopping everything")
                return 1
        time.sleep(0.5)


def _print_ready(system: LocalSystem, seconds: float) -> None:
    url = system.gateway_url
    print()
    print(f"ready in {seconds:.1f}s: {url}/")
    print(f"  customers API  {url}/api/customers/   (docs {url}/api/customers/docs/)")
    print(f"  products API   {url}/api/products/    (docs {url}/api/products/docs/)")
    print(f"  invoices API   {url}/api/invoices/    (docs {url}/api/invoices/docs/)")
    if system.frontend_enabled:
        print(f"  frontend       {url}/")
    else:
        print(f"  frontend       not present (config/settings/frontend.py); {url}/ answers 502 JSON")
    limit = "rate limited per client, as in production" if system.rate_limit else "rate limit OFF"
    print(f"  gateway        {url}/ ({limit}); internal listener {system.internal_url}/ (never limited)")
    print(f"  logs           {system.log_dir}/*.log (gateway.log is the JSON access log)")
    print("Ctrl-C stops everything.")


if __name__ == "__main__":
    raise SystemExit(main())
