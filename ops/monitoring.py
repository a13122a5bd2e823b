"""The optional monitoring stack: Prometheus beside the stack "demo", with a ready dashboard.

    python -m ops.monitoring up [--port 9090]     # build the image, deploy monitoring-stack.yml, wait until healthy
    python -m ops.monitoring status               # the service, and every target Prometheus scrapes with its health
    python -m ops.monitoring down [--volumes]     # remove it (the metrics volume is kept unless --volumes)
    python -m ops.monitoring build [--tag v1]     # only the image

Prometheus comes from Debian's `prometheus` package (docker/prometheus/Dockerfile) on the public
debian image, or, where Docker Hub cannot be reached, on a Debian base built with debootstrap
like the project's other offline bases. It finds the Django services' tasks through the
manager's Docker API (swarm service discovery) and scrapes each one on the main stack's
overlay networks, which it joins as external networks: the main stack must be deployed first.

Every path of Prometheus needs a password (user `admin`, basic auth from Prometheus's own web
config): `up` makes one when .run/monitoring/prometheus-password is missing, prints it once,
and keeps it there (readable by the user only); every request of this module sends it.

Also a library for the monitoring tests: ``deploy()``, ``remove()``, ``targets()``, ``query()``.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime as dt
import hashlib
import http.client
import json
import os
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from common.waiting import WaitTimeout, wait_until
from ops import bases, cli, images, stack
from ops.cli import say
from ops.credentials import write_private
from ops.engine import EngineError, local

REPO = Path(__file__).resolve().parent.parent
STACK_FILE = REPO / "monitoring-stack.yml"
CONTEXT = REPO / "docker" / "prometheus"
STACK = "monitoring"
# The main stack's networks Prometheus joins (see monitoring-stack.yml).
MAIN_NETWORKS = (f"{stack.STACK}_public", f"{stack.STACK}_viz", f"{stack.STACK}_docker-api")
DASHBOARD_PATH = "/consoles/index.html"
# Basic auth of Prometheus's web UI and API: one user, its password in a file only the user reads.
RUN_DIR = REPO / ".run" / "monitoring"
PASSWORD_FILE = RUN_DIR / "prometheus-password"
WEB_CONFIG_FILE = RUN_DIR / "prometheus-web.yml"
PROMETHEUS_USER = "admin"


# The plain Debian base Prometheus is installed on: the public image's offline equivalent.
DEBIAN_BASE = bases.Base(
    key="debian",
    build_arg="DEBIAN_IMAGE",
    public="debian:bookworm-slim",
    offline=f"offline/debian:{bases.DEBIAN_SUITE}",
    packages=("ca-certificates",),
    changes=('CMD ["bash"]',),
    finish=bases.trust_host_ca,
)


class MonitoringError(RuntimeError):
    """The monitoring stack cannot be built, deployed or reached; the message says why."""


@dataclasses.dataclass(frozen=True)
class Settings:
    registry: str = "demo"
    tag: str = "v1"
    port: int = 9090

    @property
    def image(self) -> str:
        return f"{self.registry}/prometheus:{self.tag}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "REGISTRY": self.registry,
            "TAG_PROMETHEUS": self.tag,
            "PROMETHEUS_PORT": str(self.port),
        }


# ------------------------------------------------------------------------------
# Image
# ------------------------------------------------------------------------------
def build_image(settings: Settings, *, offline: str = "auto", verbose: bool = False) -> str:
    """Build <registry>/prometheus:<tag> and return its name."""
    with images.exclusive_run():
        base = bases.prepare_bases([DEBIAN_BASE], offline=offline)[DEBIAN_BASE.key]
        say(f"prometheus: on {base}")
        build_args = {DEBIAN_BASE.build_arg: base, **_apt_proxy_build_args()}
        spec = images.ImageSpec("prometheus", CONTEXT / "Dockerfile", CONTEXT, build_args)
        images.docker_build(spec, settings.image, verbose=verbose)
    return settings.image


def _apt_proxy_build_args() -> dict[str, str]:
    """The proxy the host's apt uses, for apt-get inside the build (docker passes these through)."""
    try:
        return bases.host_apt_source().environment()
    except bases.BuildError:
        return {}


# ------------------------------------------------------------------------------
# Password
# ------------------------------------------------------------------------------
def ensure_password() -> str | None:
    """Make the password (and the web config with its hash) when missing; the new password, else None."""
    created = None
    if not PASSWORD_FILE.is_file():
        created = secrets.token_urlsafe(24)
        write_private(PASSWORD_FILE, created + "\n")
    if not _web_config_matches(password()):
        # Imported here: only the host tooling that deploys needs it, not every reader of this module.
        import bcrypt

        hashed = bcrypt.hashpw(password().encode(), bcrypt.gensalt()).decode()
        write_private(WEB_CONFIG_FILE, f"basic_auth_users:\n  {PROMETHEUS_USER}: {hashed}\n")
    return created


def password() -> str:
    try:
        return PASSWORD_FILE.read_text().strip()
    except OSError as exc:
        raise MonitoringError(f"no Prometheus password ({exc}): python -m ops.monitoring up makes one") from exc


def _web_config_matches(plain: str) -> bool:
    import bcrypt

    try:
        text = WEB_CONFIG_FILE.read_text()
    except OSError:
        return False
    prefix = f"  {PROMETHEUS_USER}: "
    hashed = next((line[len(prefix) :] for line in text.splitlines() if line.startswith(prefix)), "")
    return bool(hashed) and bcrypt.checkpw(plain.encode(), hashed.encode())


def auth_environment() -> dict[str, str]:
    """The variables monitoring-stack.yml takes its two secrets from."""
    digest = hashlib.sha256(PASSWORD_FILE.read_bytes() + WEB_CONFIG_FILE.read_bytes()).hexdigest()[:12]
    return {
        "PROMETHEUS_PASSWORD_FILE": str(PASSWORD_FILE),
        "PROMETHEUS_WEB_CONFIG": str(WEB_CONFIG_FILE),
        "PROMETHEUS_AUTH_VERSION": digest,
    }


def authorization() -> dict[str, str]:
    """The header every request to Prometheus needs."""
    token = base64.b64encode(f"{PROMETHEUS_USER}:{password()}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# ------------------------------------------------------------------------------
# Stack
# ------------------------------------------------------------------------------
def main_stack_networks_missing() -> list[str]:
    present = {network.name for network in local().networks(driver="overlay")}
    return [name for name in MAIN_NETWORKS if name not in present]


def deploy(settings: Settings, *, timeout: float = 300) -> None:
    """Deploy (or update) the monitoring stack and wait until Prometheus is healthy and ready."""
    if missing := main_stack_networks_missing():
        raise MonitoringError(
            f"the main stack's networks {', '.join(missing)} do not exist: deploy it first (python -m ops.stack up)"
        )
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
    environment = {**settings.environment(), **auth_environment()}
    stack.deploy_file(STACK_FILE, STACK, environment, engine=local(), registry_auth=False)
    stack.wait_converged(STACK, timeout=timeout, since=since)
    try:
        wait_until(
            f"Prometheus to answer on {settings.url}/-/ready", lambda: _ready(settings), timeout=timeout, interval=1
        )
    except WaitTimeout as exc:
        raise MonitoringError(str(exc)) from exc
    say(f"stack {STACK} is up: Prometheus ready on {settings.url}")


def _ready(settings: Settings) -> bool:
    try:
        with _get(f"{settings.url}/-/ready", timeout=5) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _get(url: str, *, timeout: float) -> http.client.HTTPResponse:
    """GET one of Prometheus's URLs with the password."""
    request = urllib.request.Request(url, headers=authorization())  # noqa: S310 (our own URL)
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (our own URL)


def remove(*, volumes: bool = False, timeout: float = 120) -> None:
    """Remove the monitoring stack and wait until its containers are gone (the main stack is untouched)."""
    stack.remove(STACK, volumes=volumes, timeout=timeout)


# ------------------------------------------------------------------------------
# Prometheus API
# ------------------------------------------------------------------------------
def api(settings: Settings, path: str, **params: str) -> dict:
    url = f"{settings.url}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    try:
        with _get(url, timeout=10) as response:
            body = json.load(response)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        raise MonitoringError(f"Prometheus API {path}: {exc}") from exc
    if body.get("status") != "success":
        raise MonitoringError(f"Prometheus API {path}: {body.get('error', body)}")
    return body["data"]


def targets(settings: Settings) -> list[dict]:
    """The active scrape targets: labels (job, task, node, instance), health, last error."""
    return api(settings, "/api/v1/targets", state="active")["activeTargets"]


def query(settings: Settings, expression: str) -> list[tuple[dict[str, str], float]]:
    """An instant query: (labels, value) per series."""
    result = api(settings, "/api/v1/query", query=expression)["result"]
    return [(series["metric"], float(series["value"][1])) for series in result]


# ------------------------------------------------------------------------------
# Commands
# ------------------------------------------------------------------------------
def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(registry=args.registry, tag=args.tag, port=args.port)


def cmd_build(args: argparse.Namespace) -> int:
    build_image(settings_from(args), offline=args.offline, verbose=args.verbose)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if not args.no_build:
        build_image(settings, offline=args.offline, verbose=args.verbose)
    created = ensure_password()
    deploy(settings, timeout=args.timeout)
    print()
    print(f"  dashboard      {settings.url}{DASHBOARD_PATH}")
    print(f"  targets        {settings.url}/targets")
    print(f"  query          {settings.url}/graph")
    if created:
        print(f"  user admin, password {created}  (shown once; kept in {PASSWORD_FILE.relative_to(REPO)})")
    else:
        print(f"  user admin, password in {PASSWORD_FILE.relative_to(REPO)}")
    print()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    engine = local()
    if engine.swarm_state() != "active" or STACK not in engine.stacks():
        print(f"stack {STACK} is not deployed (python -m ops.monitoring up)")
        return 1
    stack.print_services(stack.service_states(STACK, engine=engine), stack.stack_services(STACK, engine=engine))
    settings = settings_from(args)
    try:
        found = targets(settings)
    except MonitoringError as exc:
        print(f"\n{exc}")
        return 1
    print(f"\n{'job':<12} {'task':<14} {'node':<20} {'instance':<22} health")
    for target in sorted(found, key=lambda t: (t["labels"].get("job", ""), t["labels"].get("task", ""))):
        labels = target["labels"]
        error = f"  {target['lastError']}" if target.get("lastError") else ""
        print(
            f"{labels.get('job', ''):<12} {labels.get('task', ''):<14} {labels.get('node', ''):<20} "
            f"{labels.get('instance', ''):<22} {target['health']}{error}"
        )
    print(f"\n  dashboard      {settings.url}{DASHBOARD_PATH}")
    return 0 if all(t["health"] == "up" for t in found) else 1


def cmd_down(args: argparse.Namespace) -> int:
    remove(volumes=args.volumes, timeout=args.timeout)
    say(f"stack {STACK} removed" + ("" if args.volumes else " (metrics volume kept; --volumes removes it)"))
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ops.monitoring", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--registry", default=os.environ.get("REGISTRY", "demo"), help="image prefix (default demo)")
        sub.add_argument("--tag", default="v1", help="tag of the prometheus image (default v1)")
        sub.add_argument("--port", type=int, default=9090, help="host port of Prometheus on the manager (default 9090)")

    def image_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--offline",
            choices=("auto", "yes", "no"),
            default="auto",
            help="base: auto takes the official debian image when local or the registry answers, else builds one "
            "from Debian packages",
        )
        sub.add_argument("--verbose", "-v", action="store_true", help="stream docker build output")

    up = commands.add_parser("up", help="build the image, deploy monitoring-stack.yml as 'monitoring', wait")
    common(up)
    image_options(up)
    up.add_argument("--no-build", action="store_true", help="use the image as it is")
    up.add_argument("--timeout", type=float, default=300, help="seconds to wait until healthy (default 300)")
    up.set_defaults(func=cmd_up)

    status = commands.add_parser("status", help="the service and every scrape target; exit 1 unless all are up")
    common(status)
    status.set_defaults(func=cmd_status)

    down = commands.add_parser("down", help="remove the monitoring stack (the main stack is untouched)")
    down.add_argument("--volumes", action="store_true", help="also delete the metrics volume")
    down.add_argument("--timeout", type=float, default=120)
    down.set_defaults(func=cmd_down)

    build = commands.add_parser("build", help="build only the prometheus image")
    common(build)
    image_options(build)
    build.set_defaults(func=cmd_build)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(parse_args(argv), expected=(MonitoringError, stack.StackError, bases.BuildError, EngineError))


if __name__ == "__main__":
    sys.exit(main())
