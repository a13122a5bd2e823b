"""Deploy, inspect and remove the swarm stack (swarm-stack.yml) as "demo".

    python -m ops.stack up [--tag v1] [--gateway-port 80]   # build, swarm init, secret, deploy, wait
    python -m ops.stack status                               # services, tasks, URLs
    python -m ops.stack upgrade --tag v2 --service customers # build v2, rolling update, wait
    python -m ops.stack down [--volumes]                     # remove the stack (data kept by default)

`up` is idempotent: run it again after a change and only what changed is updated.
It waits until every service has converged and every task is healthy, printing progress.

Also a library for the swarm tests and ops.cluster: ``wait_converged()``, ``stack_tasks()``,
``published_port()``; inside ``with engine(docker_host):`` every call goes to that engine instead.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import dataclasses
import datetime as dt
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ops import cli

REPO = Path(__file__).resolve().parent.parent
STACK_FILE = REPO / "swarm-stack.yml"
NGINX_CONF = REPO / "docker" / "gateway" / "nginx.conf"

STACK = "demo"
SECRET_NAME = "demo_secret_key"  # noqa: S105 (a name, not a value)
# The application's services; `upgrade` rolls these. viz is built and deployed with them.
APP_SERVICES = ("customers", "products", "invoices", "frontend")
DJANGO_SERVICES = (*APP_SERVICES, "viz")
DOCKER_SOCKET = Path("/var/run/docker.sock")
INFRA_SERVICES = ("redis", "gateway")
NAMESPACE_LABEL = "com.docker.stack.namespace"
UPDATE_IN_PROGRESS = {"updating", "rollback_started"}
UPDATE_STUCK = {"paused", "rollback_paused"}

_started = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _started:6.1f}s] {message}", flush=True)


class StackError(RuntimeError):
    """The stack cannot be deployed or did not converge; the message says why."""


# The engine the docker CLI talks to: None is the CLI's own choice (DOCKER_HOST or the local socket).
_engine_host: contextvars.ContextVar[str | None] = contextvars.ContextVar("engine_host", default=None)


@contextlib.contextmanager
def engine(docker_host: str) -> Iterator[None]:
    """Send every docker call of this module to another engine, e.g. a cluster's manager."""
    token = _engine_host.set(docker_host)
    try:
        yield
    finally:
        _engine_host.reset(token)


def docker_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a docker CLI call: `env` (default os.environ) aimed at the current engine."""
    result = dict(os.environ if env is None else env)
    if host := _engine_host.get():
        result["DOCKER_HOST"] = host
    return result


def docker(*args: str, check: bool = True, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, text=True, check=False, env=docker_env(env)
    )
    if check and result.returncode:
        raise StackError(f"docker {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# ------------------------------------------------------------------------------
# Swarm, secret, config
# ------------------------------------------------------------------------------
def ensure_swarm(advertise_addr: str | None) -> None:
    state = docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip()
    if state == "active":
        if docker("info", "--format", "{{.Swarm.ControlAvailable}}").strip() != "true":
            raise StackError("this engine is a swarm worker; run ops.stack against a manager (DOCKER_HOST)")
        return
    cmd = ["swarm", "init"] + (["--advertise-addr", advertise_addr] if advertise_addr else [])
    say(f"no active swarm: docker {' '.join(cmd)}")
    result = subprocess.run(["docker", *cmd], capture_output=True, text=True, check=False, env=docker_env())
    if result.returncode and not advertise_addr and "advertise" in result.stderr:
        # Several interfaces and none chosen: a single-node swarm is happy on loopback.
        say("no unique address to advertise; using 127.0.0.1 (single node; pass --advertise-addr for more)")
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    elif result.returncode:
        raise StackError(f"docker swarm init failed: {result.stderr.strip()}")


def ensure_secret(name: str = SECRET_NAME) -> None:
    inspect = ["docker", "secret", "inspect", name]
    if subprocess.run(inspect, capture_output=True, check=False, env=docker_env()).returncode == 0:
        return
    say(f"creating secret {name} (random)")
    docker("secret", "create", name, "-", stdin=secrets.token_urlsafe(48))


def nginx_conf_version() -> str:
    return hashlib.sha256(NGINX_CONF.read_bytes()).hexdigest()[:12]


def remove_stale_configs(stack: str, current: str) -> None:
    """Old gateway_nginx_* configs pile up with every nginx.conf change; drop the unused ones."""
    names = docker("config", "ls", "--filter", f"label={NAMESPACE_LABEL}={stack}", "--format", "{{.Name}}").split()
    for name in names:
        if name.startswith("gateway_nginx_") and name != current:
            # Fails while a task still uses it; it goes on a later run.
            subprocess.run(["docker", "config", "rm", name], capture_output=True, check=False, env=docker_env())


# ------------------------------------------------------------------------------
# Deploy
# ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class StackSettings:
    registry: str = "demo"
    tag: str = "v1"
    infra_tag: str = "v1"
    gateway_port: int = 80
    viz_port: int = 8080
    # Group of the manager's /var/run/docker.sock; None: DOCKER_SOCKET_GID, else the local socket's.
    docker_socket_gid: int | None = None

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "REGISTRY": self.registry,
            "TAG": self.tag,
            "TAG_REDIS": self.infra_tag,
            "TAG_GATEWAY": self.infra_tag,
            "GATEWAY_PORT": str(self.gateway_port),
            "NGINX_CONF_VERSION": nginx_conf_version(),
            "VIZ_PORT": str(self.viz_port),
            # viz reads the manager's socket as its non-root user with the socket's group.
            "DOCKER_SOCKET_GID": str(self.docker_socket_gid)
            if self.docker_socket_gid is not None
            else os.environ.get("DOCKER_SOCKET_GID") or str(DOCKER_SOCKET.stat().st_gid),
        }


def build_images(settings: StackSettings) -> None:
    from ops import images

    for tag, services in ((settings.tag, DJANGO_SERVICES), (settings.infra_tag, INFRA_SERVICES)):
        argv = ["build", "--tag", tag, "--registry", settings.registry]
        for service in services:
            argv += ["--service", service]
        if images.main(argv):
            raise StackError(f"image build failed (python -m ops.images {' '.join(argv)})")


def deploy(settings: StackSettings, stack: str = STACK) -> None:
    cmd = ["stack", "deploy", "--prune", "--with-registry-auth", "--resolve-image", "never"]
    if "--detach" in docker("stack", "deploy", "--help"):
        cmd.append("--detach=true")
    cmd += ["--compose-file", str(STACK_FILE), stack]
    say(f"docker {' '.join(cmd).replace(str(REPO) + '/', '')}")
    output = docker(*cmd, env=settings.environment())
    for line in output.splitlines():
        if line.startswith(("Creating", "Updating", "Removing")):
            say("  " + line)
    remove_stale_configs(stack, f"gateway_nginx_{nginx_conf_version()}")


# ------------------------------------------------------------------------------
# Convergence
# ------------------------------------------------------------------------------
@dataclasses.dataclass
class ServiceState:
    name: str
    mode: str
    wanted: int
    running: int
    completed: int
    update_state: str
    update_message: str
    update_completed_at: str
    starting_containers: int
    last_error: str
    update_pending: bool = False
    running_images: tuple[str, ...] = ()

    @property
    def short(self) -> str:
        return self.name.split("_", 1)[1] if "_" in self.name else self.name

    @property
    def converged(self) -> bool:
        if self.update_pending or self.update_state in UPDATE_IN_PROGRESS or self.starting_containers:
            return False
        if self.mode == "job":
            return self.completed >= self.wanted
        return self.running == self.wanted

    def describe(self) -> str:
        if self.mode == "job":
            text = f"{self.short} {self.completed}/{self.wanted} completed"
        else:
            text = f"{self.short} {self.running}/{self.wanted}"
        if self.update_pending:
            text += " (update submitted)"
        elif self.update_state:
            text += f" ({self.update_state})"
        if self.starting_containers:
            text += f" [{self.starting_containers} not healthy yet]"
        return text


def stack_tasks(stack: str = STACK, service: str | None = None) -> list[dict]:
    """Tasks as `docker service ps` reports them (JSON), newest first; every task if service is None."""
    if service:
        out = docker("service", "ps", "--no-trunc", "--format", "{{json .}}", f"{stack}_{service}", check=False)
    else:
        out = docker("stack", "ps", "--no-trunc", "--format", "{{json .}}", stack, check=False)
    return json_lines(out)


def service_inspect(stack: str = STACK) -> list[dict]:
    ids = docker("service", "ls", "--quiet", "--filter", f"label={NAMESPACE_LABEL}={stack}").split()
    return json.loads(docker("service", "inspect", *ids)) if ids else []


def ready_nodes() -> int:
    rows = docker("node", "ls", "--format", "{{.Status}} {{.Availability}}").splitlines()
    return sum(1 for row in rows if row.split() == ["Ready", "Active"])


def unhealthy_local_containers(stack: str) -> dict[str, int]:
    """Service name -> local containers whose healthcheck has not passed (yet)."""
    out = docker(
        "ps",
        "--filter",
        f"label={NAMESPACE_LABEL}={stack}",
        "--format",
        '{{.Label "com.docker.swarm.service.name"}}\t{{.Status}}',
    )
    counts: dict[str, int] = {}
    for line in out.splitlines():
        name, _, status = line.partition("\t")
        if "(health: starting)" in status or "(unhealthy)" in status:
            counts[name] = counts.get(name, 0) + 1
    return counts


def _update_pending(service: dict, since: dt.datetime | None) -> bool:
    """True while a task change submitted after `since` has not reached the updater yet.

    `docker service update --detach` and `docker stack deploy` return before the rolling update
    starts; until it does, the old tasks look converged.
    """
    previous = service.get("PreviousSpec")
    if since is None or not previous or "Replicated" not in service["Spec"]["Mode"]:
        return False
    # Absent and empty fields mean the same to swarm, not to a JSON comparison.
    if _pruned(service["Spec"].get("TaskTemplate")) == _pruned(previous.get("TaskTemplate")):
        return False
    updated = _docker_time(service.get("UpdatedAt", ""))
    if updated is None or updated < since:
        return False
    started = _docker_time((service.get("UpdateStatus") or {}).get("StartedAt", ""))
    return started is None or started < since


def _pruned(value: object) -> object:
    if isinstance(value, dict):
        kept = {key: _pruned(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in ({}, [], "", None)}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


def service_states(stack: str = STACK, since: dt.datetime | None = None) -> list[ServiceState]:
    specs = service_inspect(stack)
    tasks = stack_tasks(stack)
    nodes = ready_nodes()
    not_healthy = unhealthy_local_containers(stack)
    states = []
    for spec in specs:
        name = spec["Spec"]["Name"]
        mode_spec = spec["Spec"]["Mode"]
        if "Replicated" in mode_spec:
            mode, wanted = "replicated", int(mode_spec["Replicated"].get("Replicas", 1))
        elif "Global" in mode_spec:
            mode, wanted = "global", nodes
        elif "ReplicatedJob" in mode_spec:
            mode, wanted = "job", int(mode_spec["ReplicatedJob"].get("TotalCompletions", 1))
        else:
            mode, wanted = "global-job", nodes
        # Task names are "<service>.<slot>" or "<service>.<node id>" (global).
        own = [t for t in tasks if t["Name"].rsplit(".", 1)[0].lstrip("\\_ ") == name]
        live = [t for t in own if t["DesiredState"] == "Running" and t["CurrentState"].startswith("Running")]
        running = len(live)
        completed = sum(1 for t in own if t["CurrentState"].startswith("Complete"))
        errors = [t["Error"] for t in own if t.get("Error")]
        update = spec.get("UpdateStatus") or {}
        states.append(
            ServiceState(
                name=name,
                mode=mode,
                wanted=wanted,
                running=running,
                completed=completed,
                update_state=update.get("State", ""),
                update_message=update.get("Message", ""),
                update_completed_at=update.get("CompletedAt", ""),
                starting_containers=not_healthy.get(name, 0),
                last_error=errors[0] if errors else "",
                update_pending=_update_pending(spec, since),
                running_images=tuple(sorted({t["Image"].split("@")[0] for t in live})),
            )
        )
    return sorted(states, key=lambda s: s.name)


def _docker_time(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value[:19]).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def wait_converged(
    stack: str = STACK,
    *,
    timeout: float = 300,
    services: Iterable[str] | None = None,
    since: dt.datetime | None = None,
    quiet: bool = False,
    interval: float = 2.0,
    heal: bool = True,
    image: str | None = None,
) -> list[ServiceState]:
    """Wait until every (or each named) service runs all its tasks healthy and no update is in progress.

    Raises StackError on timeout, or when an update that finished after `since` was rolled back
    or paused (the deploy did not take). With `heal`, a service left with more running tasks
    than replicas is repaired once (see _heal_extra_tasks). With `image`, every running task
    of the named services must also run that image.
    """
    wanted = {f"{stack}_{s}" for s in services} if services else None
    healed: set[str] = set()
    deadline = time.monotonic() + timeout
    last_report = 0.0
    while True:
        states = [s for s in service_states(stack, since) if wanted is None or s.name in wanted]
        if since is not None:
            for state in states:
                finished = _docker_time(state.update_completed_at)
                recent = finished is not None and finished >= since
                if recent and state.update_state in UPDATE_STUCK | {"rollback_completed"}:
                    raise StackError(f"{state.short}: update {state.update_state}: {state.update_message}")
        if heal:
            _heal_extra_tasks(states, healed)
        pending = [s for s in states if not s.converged or (image and s.running_images != (image,))]
        missing = (wanted or set()) - {s.name for s in states}
        if states and not pending and not missing:
            return states
        now = time.monotonic()
        if now >= deadline:
            detail = "; ".join(s.describe() + (f" last error: {s.last_error}" if s.last_error else "") for s in pending)
            raise StackError(f"not converged after {timeout:.0f}s: {detail or 'no services'}")
        if not quiet and now - last_report >= 5:
            last_report = now
            ready = len(states) - len(pending)
            say(f"waiting: {ready}/{len(states)} services ready; " + ", ".join(s.describe() for s in pending))
        time.sleep(interval)


def _heal_extra_tasks(states: list[ServiceState], healed: set[str]) -> None:
    """Repair the aftermath of a task failing during a start-first rolling update.

    The restart supervisor replaces the failed task while the updater starts its own new one,
    and the slot keeps both (moby/swarmkit#2242): the update completes with more tasks running
    than replicas, and swarm never removes them. A forced update makes the updater walk every
    slot again and leave one task in each.
    """
    for state in states:
        extra = state.mode == "replicated" and state.running > state.wanted
        if extra and state.name not in healed and state.update_state not in UPDATE_IN_PROGRESS:
            healed.add(state.name)
            say(f"{state.short}: {state.running} tasks for {state.wanted} replicas; docker service update --force")
            docker("service", "update", "--detach", "--force", "--no-resolve-image", state.name)


def docker_run_in(container: str, command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a command inside a running container (the swarm exercises use it to probe networks)."""
    return subprocess.run(
        ["docker", "exec", container, *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=docker_env(),
    )


def published_port(stack: str = STACK, service: str = "gateway", target: int = 80) -> int | None:
    """The host port a service publishes for `target`, or None when it is not deployed."""
    out = docker(
        "service", "inspect", f"{stack}_{service}", "--format", "{{json .Spec.EndpointSpec.Ports}}", check=False
    )
    for port in json.loads(out.strip() or "null") or []:
        if port.get("TargetPort") == target:
            return int(port["PublishedPort"])
    return None


def print_urls(settings: StackSettings) -> None:
    base = f"http://127.0.0.1:{settings.gateway_port}" if settings.gateway_port != 80 else "http://127.0.0.1"
    print()
    print(f"  web app        {base}/")
    for service in ("customers", "products", "invoices"):
        print(f"  {service + ' API':<14} {base}/api/{service}/   (docs: {base}/api/{service}/docs/)")
    print(f"  visualizer     http://127.0.0.1:{settings.viz_port}/")
    print("  any node's address works in place of 127.0.0.1 (the gateway runs on every node)")
    print()


# ------------------------------------------------------------------------------
# Commands
# ------------------------------------------------------------------------------
def settings_from(args: argparse.Namespace) -> StackSettings:
    return StackSettings(
        registry=args.registry,
        tag=args.tag,
        infra_tag=args.infra_tag,
        gateway_port=args.gateway_port,
        viz_port=args.viz_port,
    )


def cmd_up(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if not args.no_build:
        build_images(settings)
    ensure_swarm(args.advertise_addr)
    ensure_secret()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    deploy(settings)
    wait_converged(timeout=args.timeout, since=since)
    say(f"stack {STACK} is up: every service converged, every task healthy")
    print_urls(settings)
    say(f"up took {time.monotonic() - _started:.0f}s")
    return 0


def _leftovers(stack: str) -> list[str]:
    label = f"label={NAMESPACE_LABEL}={stack}"
    containers = docker("ps", "--all", "--quiet", "--filter", label).split()
    networks = docker("network", "ls", "--quiet", "--filter", label).split()
    return [f"{len(containers)} containers"] * bool(containers) + [f"{len(networks)} networks"] * bool(networks)


def _remove_finished_job_containers(stack: str) -> None:
    """The engine keeps the exited containers of a job's tasks after the service is removed."""
    exited = docker(
        "ps", "--all", "--quiet", "--filter", f"label={NAMESPACE_LABEL}={stack}", "--filter", "status=exited"
    ).split()
    if exited:
        docker("rm", *exited, check=False)


def cmd_down(args: argparse.Namespace) -> int:
    if docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip() != "active":
        say("no active swarm: nothing to remove")
        return 0
    if docker("stack", "ls", "--format", "{{.Name}}").split().count(STACK):
        say(f"docker stack rm {STACK}")
        docker("stack", "rm", STACK)
    deadline = time.monotonic() + args.timeout
    last_report = 0.0
    while left := _leftovers(STACK):
        if not docker("service", "ls", "--quiet", "--filter", f"label={NAMESPACE_LABEL}={STACK}").strip():
            _remove_finished_job_containers(STACK)
        if time.monotonic() > deadline:
            raise StackError(f"stack {STACK} still has {', '.join(left)} after {args.timeout:.0f}s")
        if time.monotonic() - last_report >= 5:
            last_report = time.monotonic()
            say(f"waiting for {', '.join(left)} to go")
        time.sleep(1)
    if args.volumes:
        volumes = docker("volume", "ls", "--quiet", "--filter", f"label={NAMESPACE_LABEL}={STACK}").split()
        for volume in volumes:
            # A just-removed container can hold its volume for a moment.
            for _ in range(20):
                removed = subprocess.run(
                    ["docker", "volume", "rm", volume], capture_output=True, check=False, env=docker_env()
                )
                if removed.returncode == 0:
                    break
                time.sleep(0.5)
            else:
                raise StackError(f"volume {volume} could not be removed")
        say(f"removed {len(volumes)} volumes")
    else:
        say("volumes kept (Redis data survives; --volumes removes them)")
    say(f"stack {STACK} removed in {time.monotonic() - _started:.0f}s")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    if not docker("stack", "ls", "--format", "{{.Name}}", check=False).split().count(STACK):
        print(f"stack {STACK} is not deployed (python -m ops.stack up)")
        return 1
    print(docker("stack", "services", STACK), end="")
    print()
    print(docker("stack", "ps", STACK, "--filter", "desired-state=running"), end="")
    states = service_states()
    pending = [s for s in states if not s.converged]
    print()
    print("converged" if not pending else "not converged: " + ", ".join(s.describe() for s in pending))
    port = published_port() or 80
    viz_port = published_port(service="viz", target=8080)
    print_urls(dataclasses.replace(StackSettings(), gateway_port=port, viz_port=viz_port or 8080))
    return 0 if not pending else 1


def cmd_upgrade(args: argparse.Namespace) -> int:
    from ops import images

    services = args.service or list(APP_SERVICES)
    if not args.no_build:
        argv = ["build", "--tag", args.tag, "--registry", args.registry]
        for service in services:
            argv += ["--service", service]
        if images.main(argv):
            raise StackError("image build failed")
    for service in services:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
        ref = f"{args.registry}/{service}:{args.tag}"
        say(f"docker service update --image {ref} {STACK}_{service}")
        docker("service", "update", "--detach", "--no-resolve-image", "--image", ref, f"{STACK}_{service}")
        wait_converged(services=[service], since=since, timeout=args.timeout, image=ref)
        say(f"{service} runs {ref} on every replica")
    return 0


def default_gateway_port() -> int:
    return int(os.environ.get("GATEWAY_PORT", "80"))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ops.stack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def image_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--registry", default=os.environ.get("REGISTRY", "demo"), help="image prefix (default demo)")
        sub.add_argument("--timeout", type=float, default=420, help="seconds to wait for convergence (default 420)")

    up = commands.add_parser("up", help="build images, init swarm if needed, deploy the stack and wait until healthy")
    image_options(up)
    up.add_argument("--tag", default=os.environ.get("TAG", "v1"), help="tag of the Django images (default v1)")
    up.add_argument("--infra-tag", default="v1", help="tag of the redis and gateway images (default v1)")
    up.add_argument(
        "--gateway-port", type=int, default=default_gateway_port(), help="host port of the gateway (default 80)"
    )
    up.add_argument("--viz-port", type=int, default=8080, help="host port of the visualizer (default 8080)")
    up.add_argument("--advertise-addr", help="address for `docker swarm init` (default: Docker's choice)")
    up.add_argument("--no-build", action="store_true", help="use the images as they are")
    up.set_defaults(func=cmd_up)

    down = commands.add_parser("down", help="remove the stack and wait until its containers and networks are gone")
    down.add_argument("--volumes", action="store_true", help="also delete the Redis volumes (all data)")
    down.add_argument("--timeout", type=float, default=120)
    down.set_defaults(func=cmd_down)

    status = commands.add_parser("status", help="services, running tasks and URLs; exit 1 unless converged")
    status.set_defaults(func=cmd_status)

    upgrade = commands.add_parser("upgrade", help="build a tag and roll it out, one service after the other")
    image_options(upgrade)
    upgrade.add_argument("--tag", required=True, help="new tag, e.g. v2 (baked in as SERVICE_VERSION)")
    upgrade.add_argument("--service", action="append", choices=APP_SERVICES, help="repeatable; default all four")
    upgrade.add_argument("--no-build", action="store_true", help="the images exist already")
    upgrade.set_defaults(func=cmd_upgrade)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(parse_args(argv), expected=(StackError,), say=say)


if __name__ == "__main__":
    sys.exit(main())
