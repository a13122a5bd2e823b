"""Deploy, inspect and remove the swarm stack (swarm-stack.yml) as "demo".

    python -m ops.stack up [--tag v1] [--gateway-port 80]   # build, swarm init, secret, deploy, wait
    python -m ops.stack up --https-self-signed               # the same, and HTTPS on 443 with a self-signed pair
    python -m ops.stack status                               # services, tasks, URLs
    python -m ops.stack upgrade --tag v2 --service customers # build v2, rolling update, wait
    python -m ops.stack down [--volumes]                     # remove the stack (data kept by default)

`up` is idempotent: run it again after a change and only what changed is updated.
The gateway serves HTTPS (443; port 80 redirects) whenever the secrets demo_tls_cert and
demo_tls_key exist (swarm-https.yml on top of swarm-stack.yml); `--no-https` deploys plain HTTP.
It waits until every service has converged and every task is healthy, printing progress.

Also a library for the swarm tests, ops.cluster and ops.monitoring: ``deploy()``,
``wait_converged()``, ``stack_tasks()``, ``published_port()``, ``remove()``; each takes the
``engine=`` to talk to (default: the local one, or DOCKER_HOST's), e.g. a cluster's manager.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import os
import re
import secrets
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from common.waiting import WaitTimeout, wait_until
from ops import cli, credentials, hostports, images
from ops.bases import BuildError
from ops.cli import say
from ops.engine import NAMESPACE_LABEL, SERVICE_NAME_LABEL, Engine, EngineError, Service, Task, local
from ops.gateway_config import PUBLIC_PORT
from ops.services import API_SERVICES, APP_SERVICES, DJANGO_SERVICES, INFRA_SERVICES

REPO = Path(__file__).resolve().parent.parent
STACK_FILE = REPO / "swarm-stack.yml"
NGINX_CONF = REPO / "docker" / "gateway" / "nginx.conf"
# The manager's socket, which the socket proxy mounts (swarm-stack.yml).
DOCKER_SOCKET = "/var/run/docker.sock"
# HTTPS: deployed on top of STACK_FILE when both secrets exist.
HTTPS_FILE = REPO / "swarm-https.yml"
HTTPS_CONF = REPO / "docker" / "gateway" / "https.conf"
TLS_SECRETS = ("demo_tls_cert", "demo_tls_key")
HTTPS_PORT = 443
HTTPS_TARGET_PORT = 8443
# The public half of a pair made by --https-self-signed, for clients to trust (curl --cacert).
SELF_SIGNED_CERT = REPO / ".run" / "gateway-self-signed.pem"

STACK = "demo"
# The node whose volumes hold the Redis data; swarm-stack.yml places every Redis on it.
REDIS_NODE_LABEL = "demo.redis-data"
SECRET_NAME = "demo_secret_key"  # noqa: S105 (a name, not a value)
UPDATE_IN_PROGRESS = {"updating", "rollback_started"}
UPDATE_STUCK = {"paused", "rollback_paused"}


class StackError(RuntimeError):
    """The stack cannot be deployed or did not converge; the message says why."""


# ------------------------------------------------------------------------------
# Swarm, secret, config
# ------------------------------------------------------------------------------
def ensure_swarm(advertise_addr: str | None, *, engine: Engine | None = None) -> None:
    engine = engine or local()
    if engine.swarm_state() == "active":
        if not engine.is_manager():
            raise StackError("this engine is a swarm worker; run ops.stack against a manager (DOCKER_HOST)")
        return
    say("no active swarm: creating one")
    try:
        engine.swarm_init(advertise_addr)
    except EngineError as exc:
        if advertise_addr or "advertise" not in str(exc):
            raise StackError(f"docker swarm init failed: {exc}") from exc
        # Several interfaces and none chosen: a single-node swarm is happy on loopback.
        say("no unique address to advertise; using 127.0.0.1 (single node; pass --advertise-addr for more)")
        engine.swarm_init("127.0.0.1")


def ensure_redis_node(node_id: str | None = None, *, engine: Engine | None = None) -> str:
    """The node that keeps the Redis volumes: the one labelled REDIS_NODE_LABEL, else `node_id`
    (default: this engine's node), labelled now. Its hostname."""
    engine = engine or local()
    nodes = engine.nodes()
    labelled = [node for node in nodes if node.labels.get(REDIS_NODE_LABEL) == "true"]
    if len(labelled) > 1:
        names = ", ".join(node.hostname for node in labelled)
        raise StackError(f"{len(labelled)} nodes carry {REDIS_NODE_LABEL}=true ({names}); Redis data lives on one")
    if labelled:
        return labelled[0].hostname
    chosen = node_id or engine.own_node_id()
    say(f"Redis keeps its data on this node: labelling it {REDIS_NODE_LABEL}=true")
    engine.node_label_add(chosen, REDIS_NODE_LABEL, "true")
    return next(node.hostname for node in nodes if node.id == chosen)


def ensure_secret(name: str = SECRET_NAME, *, engine: Engine | None = None) -> None:
    engine = engine or local()
    if engine.secret_exists(name):
        return
    say(f"creating secret {name} (random)")
    engine.secret_create(name, secrets.token_urlsafe(48))


def ensure_credentials(
    stack: str = STACK, *, engine: Engine | None = None, path: Path = credentials.DEFAULT_FILE
) -> tuple[credentials.Credentials, bool, dict[str, str]]:
    """The credentials of `path` (made now if missing) as Docker secrets: (credentials, whether they
    were made now, the swarm-stack.yml variables naming their secrets). A secret's name carries a
    digest of its value, so new credentials are new secrets and the services roll onto them."""
    engine = engine or local()
    found, created = credentials.load_or_create(path)
    variables = {}
    for name, value in found.docker_secrets().items():
        secret = credentials.secret_name(stack, name, value)
        if not engine.secret_exists(secret):
            say(f"creating secret {secret}")
            engine.secret_create(secret, value)
        variables[credentials.secret_variable(name)] = secret
    return found, created, variables


def remove_stale_secrets(stack: str, current: Iterable[str], *, engine: Engine) -> None:
    """Secrets of earlier credentials: removed once no service uses them (a later run retries)."""
    kept = set(current)
    for name in credentials.SECRET_NAMES:
        for secret in engine.secrets(f"{stack}_{name}_"):
            if secret not in kept:
                engine.secret_remove(secret)


def nginx_conf_version() -> str:
    return hashlib.sha256(NGINX_CONF.read_bytes()).hexdigest()[:12]


def https_conf_version() -> str:
    return hashlib.sha256(HTTPS_CONF.read_bytes()).hexdigest()[:12]


def remove_stale_configs(stack: str, current: set[str], *, engine: Engine) -> None:
    """Old gateway_nginx_* (and gateway_https_*) configs pile up with every change; drop the unused ones."""
    for name in engine.configs({NAMESPACE_LABEL: stack}):
        if name.startswith(("gateway_nginx_", "gateway_https_")) and name not in current:
            # Refused while a task still uses it; it goes on a later run.
            engine.config_remove(name)


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
    # HTTPS whenever the TLS secrets exist; False deploys plain HTTP even then.
    https: bool = True

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "REGISTRY": self.registry,
            "TAG": self.tag,
            "TAG_REDIS": self.infra_tag,
            "TAG_GATEWAY": self.infra_tag,
            "TAG_SOCKET_PROXY": self.infra_tag,
            "GATEWAY_PORT": str(self.gateway_port),
            "NGINX_CONF_VERSION": nginx_conf_version(),
            "GATEWAY_HTTPS_CONF_VERSION": https_conf_version(),
            "VIZ_PORT": str(self.viz_port),
        }


def build_images(settings: StackSettings) -> None:
    # One choice of bases (and its one line) for both builds.
    base_images = images.bases_for([*DJANGO_SERVICES, *INFRA_SERVICES])
    images.build(DJANGO_SERVICES, tag=settings.tag, registry=settings.registry, base_images=base_images)
    images.build(INFRA_SERVICES, tag=settings.infra_tag, registry=settings.registry, base_images=base_images)


def deploy_file(
    compose_file: Path,
    stack: str,
    environment: dict[str, str],
    *,
    engine: Engine,
    registry_auth: bool = True,
    overrides: Sequence[Path] = (),
) -> None:
    """`docker stack deploy` of a compose file (`overrides` on top), printing what it creates, updates or removes."""
    lines = engine.stack_deploy(compose_file, stack, env=environment, registry_auth=registry_auth, overrides=overrides)
    for line in lines:
        if line.startswith(("Creating", "Updating", "Removing")):
            say("  " + line)


def docker_socket_gid(settings: StackSettings, *, engine: Engine) -> str:
    """The group id of the Docker socket as containers of `engine` see it (DOCKER_SOCKET_GID overrides).

    Asked inside a container of the socket proxy's own image: the host's path and group say
    nothing on Docker Desktop (a VM) or for a cluster node (an engine in a container).
    """
    if gid := os.environ.get("DOCKER_SOCKET_GID"):
        return gid
    image = f"{settings.registry}/socket-proxy:{settings.infra_tag}"
    if engine.image(image) is None:
        # A cluster's manager has not pulled it from the registry yet.
        engine.pull(image, timeout=120)
    result = engine.run_to_end(
        image,
        ["stat", "-c", "%g", DOCKER_SOCKET],
        network="none",
        volumes=[f"{DOCKER_SOCKET}:{DOCKER_SOCKET}:ro"],
        quiet=True,
    )
    gid = result.stdout.strip()
    if result.returncode or not gid.isdigit():
        raise StackError(f"cannot read the group of {DOCKER_SOCKET} on {engine}: {result.stderr.strip() or gid}")
    return gid


def deploy(
    settings: StackSettings, stack: str = STACK, *, engine: Engine | None = None
) -> tuple[credentials.Credentials, bool]:
    """Create the secrets the stack needs when missing, deploy it; the credentials it runs with, and
    whether they were made just now (then they are shown once)."""
    engine = engine or local()
    ensure_secret(engine=engine)
    found, created, secret_variables = ensure_credentials(stack, engine=engine)
    environment = {**settings.environment(), **secret_variables}
    environment["DOCKER_SOCKET_GID"] = docker_socket_gid(settings, engine=engine)
    https = https_enabled(settings, engine=engine)
    say("gateway: HTTPS on 443, port 80 redirects" if https else "gateway: plain HTTP (no TLS secrets, or --no-https)")
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
    deploy_file(STACK_FILE, stack, environment, engine=engine, overrides=[HTTPS_FILE] if https else [])
    roll_rebuilt_images(stack, since, engine=engine)
    current = {f"gateway_nginx_{nginx_conf_version()}"}
    if https:
        current.add(f"gateway_https_{https_conf_version()}")
    remove_stale_configs(stack, current, engine=engine)
    remove_stale_secrets(stack, secret_variables.values(), engine=engine)
    if created:
        say(f"new credentials in {credentials.DEFAULT_FILE} (readable by you only); shown once below")
    return found, created


def roll_rebuilt_images(stack: str, since: dt.datetime, *, engine: Engine) -> list[str]:
    """Roll the services whose running containers come from an older build of the image their
    spec names; their names.

    With no registry, a rebuilt image keeps its tag (demo/customers:v1): the service's spec is the
    same as before, so `docker stack deploy` leaves the old containers running, and code changed
    since the last `make up` would silently not be deployed. A forced update replaces the tasks
    one by one, gated by their healthchecks like any rolling update. A service whose spec changed
    in this deploy (another tag, a digest from a registry) is already being updated and is left
    alone; so is an image this engine does not have (pulled by other nodes).
    """
    rolled = []
    for service in stack_services(stack, engine=engine):
        if service.mode not in ("replicated", "global"):
            continue
        if _template_changed_since(service, since):
            continue
        image = engine.image(service.image)
        if image is None:
            continue
        running = engine.containers({SERVICE_NAME_LABEL: service.name}, status="running")
        if any(container.image_id != image.id for container in running):
            say(f"{service.name}: {service.image} was rebuilt since its tasks started; rolling them onto it")
            engine.service_update(service.name, force=True)
            rolled.append(service.name)
    return rolled


# ------------------------------------------------------------------------------
# HTTPS
# ------------------------------------------------------------------------------
def tls_secrets_exist(*, engine: Engine) -> bool:
    return engine.swarm_state() == "active" and all(engine.secret_exists(name) for name in TLS_SECRETS)


def https_enabled(settings: StackSettings, *, engine: Engine) -> bool:
    return settings.https and tls_secrets_exist(engine=engine)


def ensure_self_signed_tls(settings: StackSettings, *, engine: Engine | None = None) -> None:
    """Create the TLS secrets from a new self-signed pair (localhost, 127.0.0.1) unless they exist.

    The pair is made by openssl in one of the Django images (their Debian base carries it), so the
    host needs nothing but Docker; the key goes straight into the secret, the certificate also to
    SELF_SIGNED_CERT for clients to trust.
    """
    engine = engine or local()
    if tls_secrets_exist(engine=engine):
        return
    if any(engine.secret_exists(name) for name in TLS_SECRETS):
        raise StackError(f"only one of the secrets {', '.join(TLS_SECRETS)} exists: remove it or create the other")
    say("making a self-signed certificate for localhost and 127.0.0.1")
    subject = ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    result = engine.run_to_end(
        f"{settings.registry}/frontend:{settings.tag}",
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "825", *subject, "-keyout", "/dev/stdout", "-out", "/dev/stdout"],
        network="none",
        quiet=True,
    )  # fmt: skip
    key = re.search(r"-----BEGIN PRIVATE KEY-----.*?-----END PRIVATE KEY-----\n", result.stdout, re.DOTALL)
    cert = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", result.stdout, re.DOTALL)
    if result.returncode or not key or not cert:
        raise StackError(f"openssl could not make a certificate: {result.stderr.strip()[-500:]}")
    engine.secret_create(TLS_SECRETS[0], cert.group(0))
    engine.secret_create(TLS_SECRETS[1], key.group(0))
    SELF_SIGNED_CERT.parent.mkdir(exist_ok=True)
    SELF_SIGNED_CERT.write_text(cert.group(0))
    say(f"secrets {', '.join(TLS_SECRETS)} created; clients can trust {SELF_SIGNED_CERT.relative_to(REPO)}")


def remove(stack: str = STACK, *, volumes: bool, timeout: float, engine: Engine | None = None) -> None:
    """Remove a stack and wait until its containers and networks are gone; with `volumes`, its volumes too."""
    engine = engine or local()
    if stack in engine.stacks():
        engine.stack_remove(stack)
    label = {NAMESPACE_LABEL: stack}

    def leftovers() -> list[str]:
        containers = engine.containers(label, all=True)
        networks = engine.networks(labels=label)
        return [f"{len(containers)} containers"] * bool(containers) + [f"{len(networks)} networks"] * bool(networks)

    def gone() -> bool:
        if not engine.services(label):
            _remove_finished_job_containers(stack, engine)
        return not leftovers()

    try:
        wait_until(
            f"the containers and networks of stack {stack} to go",
            gone,
            timeout=timeout,
            interval=1,
            progress=lambda: say(f"waiting for {', '.join(leftovers())} to go"),
            explain=lambda: f"still there: {', '.join(leftovers())}",
        )
    except WaitTimeout as exc:
        raise StackError(str(exc)) from exc
    if not volumes:
        return
    found = engine.volumes(label)
    for volume in found:
        try:
            # A just-removed container can hold its volume for a moment.
            wait_until(
                f"volume {volume} to be removed", lambda v=volume: engine.volume_remove(v), timeout=10, interval=0.5
            )
        except WaitTimeout as exc:
            raise StackError(str(exc)) from exc
    say(f"removed {len(found)} volumes")


def _remove_finished_job_containers(stack: str, engine: Engine) -> None:
    """The engine keeps the exited containers of a job's tasks after the service is removed."""
    engine.remove_containers([c.id for c in engine.containers({NAMESPACE_LABEL: stack}, all=True, status="exited")])


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
    update_completed_at: dt.datetime | None
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
        if self.mode == "replicated-job":
            return self.completed >= self.wanted
        return self.running == self.wanted

    def describe(self) -> str:
        if self.mode == "replicated-job":
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


def stack_services(stack: str = STACK, *, engine: Engine | None = None) -> list[Service]:
    return (engine or local()).services({NAMESPACE_LABEL: stack})


def stack_tasks(stack: str = STACK, service: str | None = None, *, engine: Engine | None = None) -> list[Task]:
    """Tasks of the stack (of one of its services), newest first, as `docker service ps` lists them."""
    engine = engine or local()
    ids = [s.id for s in stack_services(stack, engine=engine) if service is None or s.name == f"{stack}_{service}"]
    return engine.tasks(ids)


def unhealthy_local_containers(stack: str, *, engine: Engine) -> dict[str, int]:
    """Service name -> local containers whose healthcheck has not passed (yet)."""
    counts: dict[str, int] = {}
    for health in ("starting", "unhealthy"):
        for container in engine.containers({NAMESPACE_LABEL: stack}, health=health):
            counts[container.service] = counts.get(container.service, 0) + 1
    return counts


def _update_pending(service: Service, since: dt.datetime | None) -> bool:
    """True while a task change submitted after `since` has not reached the updater yet.

    `docker service update --detach` and `docker stack deploy` return before the rolling update
    starts; until it does, the old tasks look converged.
    """
    if since is None or service.mode != "replicated" or not _template_changed_since(service, since):
        return False
    return service.update_started_at is None or service.update_started_at < since


def _template_changed_since(service: Service, since: dt.datetime) -> bool:
    """The service's task template was changed (an update asked for) at or after `since`."""
    return service.template_changed and service.updated_at is not None and service.updated_at >= since


def service_states(
    stack: str = STACK, since: dt.datetime | None = None, *, engine: Engine | None = None
) -> list[ServiceState]:
    engine = engine or local()
    services = stack_services(stack, engine=engine)
    tasks = engine.tasks([s.id for s in services])
    nodes = sum(node.ready for node in engine.nodes())
    not_healthy = unhealthy_local_containers(stack, engine=engine)
    states = []
    for service in services:
        own = [t for t in tasks if t.service == service.name]
        live = [t for t in own if t.running]
        errors = [t.error for t in own if t.error]
        states.append(
            ServiceState(
                name=service.name,
                mode=service.mode,
                wanted=service.replicas if service.replicas is not None else nodes,
                running=len(live),
                completed=sum(1 for t in own if t.state == "complete"),
                update_state=service.update_state,
                update_message=service.update_message,
                update_completed_at=service.update_completed_at,
                starting_containers=not_healthy.get(service.name, 0),
                last_error=errors[0] if errors else "",
                update_pending=_update_pending(service, since),
                running_images=tuple(sorted({t.image for t in live})),
            )
        )
    return states


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
    engine: Engine | None = None,
) -> list[ServiceState]:
    """Wait until every (or each named) service runs all its tasks healthy and no update is in progress.

    Raises StackError on timeout, or when an update that finished after `since` was rolled back
    or paused (the deploy did not take). With `heal`, a service left with more running tasks
    than replicas is repaired once (see _heal_extra_tasks). With `image`, every running task
    of the named services must also run that image.
    """
    engine = engine or local()
    wanted = {f"{stack}_{s}" for s in services} if services else None
    healed: set[str] = set()
    seen: list[ServiceState] = []
    pending: list[ServiceState] = []

    def check() -> list[ServiceState] | None:
        states = [s for s in service_states(stack, since, engine=engine) if wanted is None or s.name in wanted]
        if since is not None:
            for state in states:
                finished = state.update_completed_at
                recent = finished is not None and finished >= since
                if recent and state.update_state in UPDATE_STUCK | {"rollback_completed"}:
                    raise StackError(f"{state.short}: update {state.update_state}: {state.update_message}")
        if heal:
            _heal_extra_tasks(states, healed, engine=engine)
        seen[:] = states
        pending[:] = [s for s in states if not s.converged or (image and s.running_images != (image,))]
        missing = (wanted or set()) - {s.name for s in states}
        return states if states and not pending and not missing else None

    def progress() -> None:
        ready = len(seen) - len(pending)
        say(f"waiting: {ready}/{len(seen)} services ready; " + ", ".join(s.describe() for s in pending))

    def explain() -> str:
        detail = "; ".join(s.describe() + (f" last error: {s.last_error}" if s.last_error else "") for s in pending)
        return detail or "no services"

    try:
        return wait_until(
            f"stack {stack} to converge",
            check,
            timeout=timeout,
            interval=interval,
            progress=None if quiet else progress,
            explain=explain,
        )
    except WaitTimeout as exc:
        raise StackError(str(exc)) from exc


def _heal_extra_tasks(states: list[ServiceState], healed: set[str], *, engine: Engine) -> None:
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
            say(f"{state.short}: {state.running} tasks for {state.wanted} replicas; forcing an update")
            engine.service_update(state.name, force=True)


def published_port(
    stack: str = STACK, service: str = "gateway", target: int = PUBLIC_PORT, *, engine: Engine | None = None
) -> int | None:
    """The host port a service publishes for `target`, or None when it is not deployed."""
    try:
        found = (engine or local()).service(f"{stack}_{service}")
    except EngineError:
        # Not a swarm manager (no swarm at all): nothing is deployed.
        return None
    return next((port.published for port in found.ports if port.target == target), None) if found else None


def print_urls(settings: StackSettings, *, https: bool = False) -> None:
    base = f"http://127.0.0.1:{settings.gateway_port}" if settings.gateway_port != 80 else "http://127.0.0.1"
    if https:
        base = "https://127.0.0.1"
    print()
    print(f"  web app        {base}/")
    for service in API_SERVICES:
        print(f"  {service + ' API':<14} {base}/api/{service}/   (docs: {base}/api/{service}/docs/)")
    print(f"  visualizer     http://127.0.0.1:{settings.viz_port}/")
    print("  any node's address works in place of 127.0.0.1 (the gateway runs on every node)")
    print()


def print_services(states: list[ServiceState], services: list[Service]) -> None:
    """What `docker stack services` shows."""
    images_by_name = {s.name: s.image for s in services}
    print(f"{'NAME':<24} {'MODE':<15} {'REPLICAS':<9} IMAGE")
    for state in states:
        replicas = f"{state.completed if state.mode == 'replicated-job' else state.running}/{state.wanted}"
        print(f"{state.name:<24} {state.mode:<15} {replicas:<9} {images_by_name.get(state.name, '')}")


def print_tasks(tasks: list[Task]) -> None:
    """What `docker stack ps --filter desired-state=running` shows."""
    print(f"{'NAME':<32} {'IMAGE':<26} {'NODE':<14} {'STATE':<10} ERROR")
    for task in sorted(tasks, key=lambda t: t.name):
        print(f"{task.name:<32} {task.image:<26} {task.node:<14} {task.state:<10} {task.error}")


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
        https=not args.no_https,
    )


def require_free_host_ports(settings: StackSettings, *, https: bool = False, engine: Engine | None = None) -> None:
    """StackError naming the holder of a host port the stack publishes, unless the stack holds it."""
    if not hostports.engine_is_local():
        return
    wanted = {("gateway", PUBLIC_PORT): settings.gateway_port, ("viz", 8080): settings.viz_port}
    if https:
        wanted[("gateway", HTTPS_TARGET_PORT)] = HTTPS_PORT
    for (service, target), port in wanted.items():
        if published_port(service=service, target=target, engine=engine) == port:
            continue
        if hostports.port_taken(port):
            option = "--gateway-port" if service == "gateway" else "--viz-port"
            raise StackError(
                f"port {port} (the {service}'s) is taken on this host by {hostports.holder(port)}: "
                f"stop it, or deploy on another port ({option} N)"
            )


def cmd_up(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.https_self_signed and args.no_https:
        raise StackError("--https-self-signed and --no-https contradict each other")
    https = settings.https and (args.https_self_signed or tls_secrets_exist(engine=local()))
    require_free_host_ports(settings, https=https)
    if not args.no_build:
        build_images(settings)
    ensure_swarm(args.advertise_addr)
    ensure_redis_node()
    if args.https_self_signed:
        ensure_self_signed_tls(settings)
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
    running_with, shown = deploy(settings)
    wait_converged(timeout=args.timeout, since=since)
    say(f"stack {STACK} is up: every service converged, every task healthy")
    print_urls(settings, https=https_enabled(settings, engine=local()))
    print(credentials.describe(running_with, credentials.DEFAULT_FILE, shown=shown))
    print()
    say(f"up took {cli.elapsed():.0f}s")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    if local().swarm_state() != "active":
        say("no active swarm: nothing to remove")
        return 0
    remove(STACK, volumes=args.volumes, timeout=args.timeout)
    if not args.volumes:
        say("volumes kept (Redis data survives; --volumes removes them)")
    say(f"stack {STACK} removed in {cli.elapsed():.0f}s")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    engine = local()
    if engine.swarm_state() != "active" or STACK not in engine.stacks():
        print(f"stack {STACK} is not deployed (python -m ops.stack up)")
        return 1
    states = service_states(engine=engine)
    print_services(states, stack_services(engine=engine))
    print()
    print_tasks([t for t in stack_tasks(engine=engine) if t.desired_state == "running"])
    pending = [s for s in states if not s.converged]
    print()
    print("converged" if not pending else "not converged: " + ", ".join(s.describe() for s in pending))
    port = published_port() or 80
    viz_port = published_port(service="viz", target=8080)
    https = published_port(target=HTTPS_TARGET_PORT) is not None
    print_urls(dataclasses.replace(StackSettings(), gateway_port=port, viz_port=viz_port or 8080), https=https)
    return 0 if not pending else 1


def cmd_upgrade(args: argparse.Namespace) -> int:
    services = args.service or list(APP_SERVICES)
    if not args.no_build:
        images.build(services, tag=args.tag, registry=args.registry)
    for service in services:
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
        ref = f"{args.registry}/{service}:{args.tag}"
        local().service_update(f"{STACK}_{service}", image=ref)
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
    up.add_argument(
        "--https-self-signed",
        action="store_true",
        help=f"create the secrets {' and '.join(TLS_SECRETS)} from a new self-signed pair when missing (HTTPS on 443)",
    )
    up.add_argument(
        "--no-https", action="store_true", help="plain HTTP even when the TLS secrets exist (HTTPS is on when they do)"
    )
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
    return cli.run(parse_args(argv), expected=(StackError, BuildError, EngineError))


if __name__ == "__main__":
    sys.exit(main())
