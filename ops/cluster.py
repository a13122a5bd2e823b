"""A real three-node swarm on one machine: Docker engines in containers (Docker-in-Docker).

    python -m ops.cluster up          # nodes m1 (manager), w1, w2 + a registry; swarm init/join
    python -m ops.cluster deploy      # push the images to the registry, deploy swarm-stack.yml on m1, wait
    python -m ops.cluster status      # nodes, and where the tasks run
    python -m ops.cluster kill-node w2 | start-node w2 | rebalance | tasks
    python -m ops.cluster down        # remove nodes, their volumes, the network and the registry

Every node is a container running dockerd (docker/node/Dockerfile) with /var/lib/docker on a
volume of its own, on a private bridge network with fixed addresses, so a restarted node
comes back with the address the swarm knows it by. Each node's engine also answers on a Unix
socket under .run/cluster/<node>/, which is how this module talks to it. The nodes pull the stack's images from a
registry container (docker/registry/Dockerfile) by its name on that network; the host pushes
to it through a port published on 127.0.0.1 only.

From the host: each node's gateway (host-mode port 80 inside the node) on 127.0.0.1:18080
(m1), 18081 (w1), 18082 (w2); the visualizer on m1 at 127.0.0.1:18090. m1's engine answers
on a Unix socket under .run/cluster/ (`python -m ops.cluster env` prints the DOCKER_HOST line),
so plain `docker service ls` works against the cluster too.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import hashlib
import os
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from common.waiting import WaitTimeout, wait_until
from ops import bases, cli, credentials, images, stack
from ops.cli import say
from ops.engine import Engine, EngineError, Node, Privileges, Task, local
from ops.services import DJANGO_SERVICES, INFRA_SERVICES

REPO = Path(__file__).resolve().parent.parent
RUN_DIR = REPO / ".run" / "cluster"
PREFIX = "cluster"
LABEL = "org.swarm-microservices.cluster"
NETWORK = f"{PREFIX}-net"
REGISTRY_CONTAINER = f"{PREFIX}-registry"
# The name the nodes reach the registry by; images in the stack are <this>:5000/<service>:<tag>.
REGISTRY_HOST = "registry"
REGISTRY_INNER_PORT = 5000
# Built from Debian packages, only where no registry answers (else the official images below).
NODE_IMAGE = "cluster/node:bookworm"
REGISTRY_IMAGE = "cluster/registry:bookworm"
OFFICIAL_REGISTRY_IMAGE = "registry:2"
SOURCE_LABEL = f"{LABEL}.source"
MANAGER = "m1"
NODES = ("m1", "w1", "w2")
# In the order they are tried: the capability list works where --privileged cannot be granted.
PRIVILEGED = Privileges(privileged=True)
CAPABILITIES = Privileges(
    cap_add=("ALL",),
    cap_drop=("SYS_RESOURCE",),
    security_opt=("seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"),
)
# How the node's dockerd gets a writable cgroup tree: the host's (v1), or a namespace of its own (v2).
CGROUP_V1_MOUNT = "/sys/fs/cgroup:/sys/fs/cgroup:rw"
CGROUP_V2_NAMESPACE = "private"
CGROUP_ROOT = Path("/sys/fs/cgroup")
# Where a node's dockerd puts its second socket, a folder of the host's RUN_DIR.
NODE_SOCKET_DIR = "/run/host-api"
# Which tag each image of the stack takes: the Django images --tag, redis and the gateway --infra-tag.
STACK_SERVICES_IMAGES = {**dict.fromkeys(DJANGO_SERVICES, "tag"), **dict.fromkeys(INFRA_SERVICES, "infra")}


class ClusterError(RuntimeError):
    """The cluster cannot be built or reached; the message says why and what to do."""


def container(node: str) -> str:
    return f"{PREFIX}-{node}"


# ------------------------------------------------------------------------------
# Settings
# ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ClusterSettings:
    subnet: str = "10.213.0.0/24"
    gateway_port: int = 18080  # m1; w1 and w2 get the next ones
    viz_port: int = 18090
    registry_port: int = 15000

    def address(self, node: str) -> str:
        """Fixed addresses .11, .12, .13: the swarm keeps a node's address across restarts."""
        network = self.subnet.split("/")[0].rsplit(".", 1)[0]
        return f"{network}.{11 + NODES.index(node)}"

    def node_gateway_port(self, node: str) -> int:
        return self.gateway_port + NODES.index(node)


def node_socket(node: str) -> Path:
    return RUN_DIR / node / "docker.sock"


def manager_socket() -> Path:
    return node_socket(MANAGER)


def manager_host() -> str:
    return f"unix://{manager_socket()}"


def node_engine(node: str) -> Engine:
    """The node's own engine, through the socket its dockerd shares with the host."""
    return Engine(f"unix://{node_socket(node)}", timeout=30)


def manager_engine() -> Engine:
    """m1's engine: ops.stack's functions take it as their engine=."""
    if not manager_socket().is_socket():
        raise ClusterError(f"m1's engine socket {manager_socket()} is missing: python -m ops.cluster up")
    return Engine(manager_host())


# ------------------------------------------------------------------------------
# Images: node, registry
# ------------------------------------------------------------------------------
def _source_digest(folder: Path, base_id: str) -> str:
    digest = hashlib.sha256(base_id.encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class ClusterImages:
    """The node and registry images, and where that registry image keeps its data."""

    node: str
    registry: str
    registry_data: str


DEBIAN_IMAGES = ClusterImages(NODE_IMAGE, REGISTRY_IMAGE, "/var/lib/docker-registry")


def official_images() -> ClusterImages:
    """docker:<the host engine's version>-dind, so the nodes run the engine the host runs; registry:2."""
    version = str(local().info().get("ServerVersion", ""))
    release = re.match(r"\d+\.\d+\.\d+", version)
    node = f"docker:{release.group(0)}-dind" if release else "docker:dind"
    return ClusterImages(node, OFFICIAL_REGISTRY_IMAGE, "/var/lib/registry")


def ensure_cluster_images() -> ClusterImages:
    """The official dind and registry images when local or the registry answers (pulled), else the
    Debian-built ones (built); after one line saying which and why."""
    official = official_images()
    path = bases.choose_path(
        bases.probe_all([official.node, official.registry]),
        subject="cluster images",
        offline_label=f"Debian-built {NODE_IMAGE} and {REGISTRY_IMAGE}",
        otherwise="",
    )
    say(path.line)
    if not path.official:
        build_debian_images()
        return DEBIAN_IMAGES
    for ref in (official.node, official.registry):
        if not bases.image_exists(ref):
            bases.pull_with_progress(ref)
    return official


def build_debian_images() -> ClusterImages:
    """Build the node and registry images on the offline python base, when missing or changed."""
    base = bases.BASES["python"]
    bases.build_offline_bases([base], force=False, mirror=None)
    base_image = local().image(base.offline)
    base_id = base_image.id if base_image else ""
    try:
        proxies = bases.host_apt_source().environment()
    except bases.BuildError:
        proxies = {}
    for ref, folder in ((NODE_IMAGE, REPO / "docker/node"), (REGISTRY_IMAGE, REPO / "docker/registry")):
        digest = _source_digest(folder, base_id)
        current = local().image(ref)
        if current and current.labels.get(SOURCE_LABEL) == digest:
            say(f"image {ref}: up to date")
            continue
        spec = images.ImageSpec(ref, folder / "Dockerfile", folder, {"BASE": base.offline, **proxies})
        images.docker_build(spec, ref, labels={SOURCE_LABEL: digest})
    return DEBIAN_IMAGES


@dataclasses.dataclass(frozen=True)
class NodeAccess:
    """What a node's container needs to run dockerd: privileges and a writable cgroup tree."""

    privileges: Privileges
    volumes: tuple[str, ...]


def node_access(node_image: str) -> NodeAccess:
    """--privileged when this engine grants it, else the explicit capability list (detected, once per up)."""
    host = local()
    cgroup_v1 = str(host.info().get("CgroupVersion")) == "1"
    volumes = (CGROUP_V1_MOUNT,) if cgroup_v1 else ()

    def with_cgroups(privileges: Privileges) -> NodeAccess:
        cgroupns = None if cgroup_v1 else CGROUP_V2_NAMESPACE
        return NodeAccess(dataclasses.replace(privileges, cgroupns=cgroupns), volumes)

    try:
        probe = host.run_to_end(
            node_image, entrypoint="true", privileges=with_cgroups(PRIVILEGED).privileges, quiet=True
        )
        reason = probe.stderr
    except EngineError as exc:
        probe, reason = None, str(exc)
    if probe is not None and probe.returncode == 0:
        say("privileges: --privileged")
        return with_cgroups(PRIVILEGED)
    # The runtime's reason is at the end of a long first line ("... unable to apply caps: ...").
    reason = (reason.strip().splitlines() or ["no error output"])[0].rsplit("create failed: ", 1)[-1]
    say(f"privileges: --privileged refused here ({reason}); using the capability list instead")
    return with_cgroups(CAPABILITIES)


# ------------------------------------------------------------------------------
# Network, registry, nodes
# ------------------------------------------------------------------------------
def container_state(name: str) -> str | None:
    """'running', 'exited', ... or None when there is no such container."""
    return local().container_state(name)


def ensure_network(settings: ClusterSettings) -> None:
    existing = local().network(NETWORK)
    if existing:
        if settings.subnet not in existing.subnets:
            raise ClusterError(
                f"network {NETWORK} exists with {list(existing.subnets)}, not {settings.subnet}: run down first"
            )
        return
    say(f"network {NETWORK} ({settings.subnet})")
    local().network_create(NETWORK, subnet=settings.subnet, labels={LABEL: ""})


def ensure_registry(settings: ClusterSettings, cluster_images: ClusterImages) -> None:
    state = container_state(REGISTRY_CONTAINER)
    if state is None:
        say(
            f"registry {REGISTRY_CONTAINER}: {REGISTRY_HOST}:{REGISTRY_INNER_PORT} for the nodes, "
            f"127.0.0.1:{settings.registry_port} for the host"
        )
        local().run(
            cluster_images.registry,
            name=REGISTRY_CONTAINER,
            hostname=REGISTRY_HOST,
            network=NETWORK,
            aliases=[REGISTRY_HOST],
            labels={LABEL: ""},
            publish=[("127.0.0.1", settings.registry_port, REGISTRY_INNER_PORT)],
            volumes=[f"{REGISTRY_CONTAINER}-data:{cluster_images.registry_data}"],
        )
    elif state != "running":
        say(f"registry {REGISTRY_CONTAINER}: starting ({state})")
        local().start(REGISTRY_CONTAINER)
    port = registry_port()

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            return False

    try:
        wait_until(f"the registry to answer on 127.0.0.1:{port}", answers, timeout=60, interval=0.5)
    except WaitTimeout as exc:
        raise ClusterError(str(exc)) from exc
    say(f"registry answers on 127.0.0.1:{port}")


def registry_port() -> int:
    port = local().published_port(REGISTRY_CONTAINER, f"{REGISTRY_INNER_PORT}/tcp")
    if port is None:
        raise ClusterError("the registry container is missing: python -m ops.cluster up")
    return port


def cgroup_parent(node: str) -> str:
    return f"/{container(node)}"


def dockerd_command(
    *, cgroup_parent: str, insecure_registries: Sequence[str] = (), mirrors: Sequence[str] = ()
) -> list[str]:
    """A node's dockerd and its settings, for the official docker:dind image and docker/node alike.

    Starting with `dockerd` keeps the official image's entrypoint from adding its unauthenticated
    TCP listener: the engine answers on its Unix socket and on a second one the host reaches.
    """
    return [
        "dockerd",
        "--host=unix:///var/run/docker.sock",
        f"--host=unix://{NODE_SOCKET_DIR}/docker.sock",
        # overlay2 works because /var/lib/docker is a volume on the host's own filesystem.
        "--storage-driver=overlay2",
        # The node's containers in a cgroup of their own, not beside the host's in /docker.
        f"--cgroup-parent={cgroup_parent}",
        *(f"--insecure-registry={registry}" for registry in insecure_registries),
        *(f"--registry-mirror={mirror}" for mirror in mirrors),
        "--log-driver=json-file",
        "--log-opt=max-size=10m",
        "--log-opt=max-file=3",
    ]


def start_node(node: str, settings: ClusterSettings, node_image: str, access: NodeAccess | None) -> None:
    name = container(node)
    state = container_state(name)
    if state == "running":
        return
    if state is not None:
        say(f"node {node}: starting ({state})")
        local().start(name)
        return
    assert access is not None, "a node is created only with the privileges this engine grants"
    say(f"node {node}: {name} at {settings.address(node)}, gateway on 127.0.0.1:{settings.node_gateway_port(node)}")
    socket_dir = node_socket(node).parent
    socket_dir.mkdir(parents=True, exist_ok=True)
    if len(str(node_socket(node))) > 100:
        raise ClusterError(f"{node_socket(node)} is too long for a Unix socket; use a shorter checkout path")
    publish = [("127.0.0.1", settings.node_gateway_port(node), 80)]
    if node == MANAGER:
        publish.append(("127.0.0.1", settings.viz_port, 8080))
    local().run(
        node_image,
        dockerd_command(
            cgroup_parent=cgroup_parent(node), insecure_registries=[f"{REGISTRY_HOST}:{REGISTRY_INNER_PORT}"]
        ),
        name=name,
        hostname=node,
        init=True,
        labels={LABEL: ""},
        network=NETWORK,
        ip=settings.address(node),
        aliases=[node],
        privileges=access.privileges,
        volumes=[f"{name}-docker:/var/lib/docker", *access.volumes, f"{socket_dir}:{NODE_SOCKET_DIR}"],
        publish=publish,
    )


def wait_engine(node: str, timeout: float = 90) -> None:
    engine = node_engine(node)

    def storage_driver() -> str | None:
        try:
            return engine.info()["Driver"]
        except EngineError:
            pass
        if container_state(container(node)) != "running":
            logs = local().logs(container(node), tail=15)
            raise ClusterError(f"node {node} stopped while starting:\n{logs}")
        return None

    try:
        driver = wait_until(f"dockerd on node {node} to answer", storage_driver, timeout=timeout, interval=1)
    except WaitTimeout as exc:
        raise ClusterError(f"{exc} (docker logs {container(node)})") from exc
    if driver != "overlay2":
        raise ClusterError(f"node {node}: storage driver {driver}, expected overlay2")


# ------------------------------------------------------------------------------
# Swarm
# ------------------------------------------------------------------------------
def swarm_state(node: str) -> tuple[str, str]:
    """(LocalNodeState, NodeID) as the node's own engine reports them."""
    swarm = node_engine(node).info()["Swarm"]
    return swarm["LocalNodeState"], swarm.get("NodeID", "")


def swarm_nodes() -> list[Node]:
    return node_engine(MANAGER).nodes()


def ensure_swarm(settings: ClusterSettings) -> None:
    manager = node_engine(MANAGER)
    manager_address = f"{settings.address(MANAGER)}:2377"
    state, _ = swarm_state(MANAGER)
    if state != "active":
        say(f"swarm init on {MANAGER}")
        manager.swarm_init(settings.address(MANAGER), listen_addr=manager_address)
    token = manager.worker_token()
    known = {row.id for row in manager.nodes()}
    for node in NODES:
        if node == MANAGER:
            continue
        state, node_id = swarm_state(node)
        if state == "active" and node_id in known:
            continue
        if state != "inactive":
            # A member of a swarm that no longer exists (m1 was recreated): start over.
            say(f"node {node}: leaving its old swarm ({state})")
            with contextlib.suppress(EngineError):
                node_engine(node).swarm_leave()
        say(f"node {node}: joining the swarm")
        node_engine(node).swarm_join(token, manager_address, settings.address(node))
    _forget_replaced_nodes()


def _forget_replaced_nodes() -> None:
    """A node that rejoined leaves its old entry behind, Down; remove those."""
    rows = swarm_nodes()
    ready = {row.hostname for row in rows if row.status == "ready"}
    for row in rows:
        if row.status == "down" and row.hostname in ready:
            with contextlib.suppress(EngineError):
                node_engine(MANAGER).node_remove(row.id)


def wait_nodes_ready(expected: Sequence[str] = NODES, timeout: float = 90) -> None:
    ready: list[str] = []

    def all_ready() -> bool:
        ready[:] = sorted(row.hostname for row in swarm_nodes() if row.status == "ready")
        return set(expected) <= set(ready)

    try:
        wait_until(
            f"swarm nodes {', '.join(expected)} to be Ready",
            all_ready,
            timeout=timeout,
            interval=1,
            explain=lambda: f"only {ready} are Ready",
        )
    except WaitTimeout as exc:
        raise ClusterError(str(exc)) from exc
    say(f"swarm nodes ready: {', '.join(ready)}")


def print_nodes() -> None:
    """What `docker node ls` shows."""
    print(f"{'HOSTNAME':<10} {'ROLE':<8} {'STATUS':<8} {'AVAILABILITY':<13} LEADER")
    for row in sorted(swarm_nodes(), key=lambda n: n.hostname):
        print(f"{row.hostname:<10} {row.role:<8} {row.status:<8} {row.availability:<13} {'yes' if row.leader else ''}")


def settings_in_use(defaults: ClusterSettings) -> ClusterSettings:
    """The ports and subnet the existing containers were started with (they win over flags)."""
    host = local()
    ports = {node: host.published_port(container(node), "80/tcp") for node in NODES}
    if ports[MANAGER] is None:
        return defaults
    network = host.network(NETWORK)
    return ClusterSettings(
        subnet=network.subnets[0] if network and network.subnets else defaults.subnet,
        gateway_port=ports[MANAGER],
        viz_port=host.published_port(container(MANAGER), "8080/tcp") or defaults.viz_port,
        registry_port=host.published_port(REGISTRY_CONTAINER, f"{REGISTRY_INNER_PORT}/tcp") or defaults.registry_port,
    )


def remove_empty_cgroups(parent: str) -> int:
    """On a cgroup v1 host the nodes' containers live in the host's tree; a killed node leaves them behind, empty."""
    removed = 0
    for top in CGROUP_ROOT.glob(f"*{parent}"):
        for path in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                path.rmdir()
                removed += 1
        with contextlib.suppress(OSError):
            top.rmdir()
            removed += 1
    return removed


def require_manager() -> None:
    if container_state(container(MANAGER)) != "running":
        raise ClusterError(f"{container(MANAGER)} is not running: python -m ops.cluster up")


# ------------------------------------------------------------------------------
# Deploy
# ------------------------------------------------------------------------------
def push_images(tag: str, infra_tag: str, *, build: bool) -> None:
    """demo/<service>:<tag> from the host, pushed as 127.0.0.1:<port>/<service>:<tag>."""
    wanted = {service: tag if kind == "tag" else infra_tag for service, kind in STACK_SERVICES_IMAGES.items()}
    missing = [s for s, t in wanted.items() if not bases.image_exists(f"demo/{s}:{t}")]
    if missing and not build:
        raise ClusterError(f"images missing: {', '.join(f'demo/{s}:{wanted[s]}' for s in missing)} (drop --no-build)")
    base_images = images.bases_for(missing) if missing else {}
    for image_tag in sorted({wanted[s] for s in missing}):
        services = [service for service in missing if wanted[service] == image_tag]
        say(f"building what is missing: {', '.join(services)} as demo/<service>:{image_tag}")
        images.build(services, tag=image_tag, base_images=base_images)
    port = registry_port()
    host = local()
    for service, image_tag in wanted.items():
        target = f"127.0.0.1:{port}/{service}:{image_tag}"
        host.tag(f"demo/{service}:{image_tag}", target)
        started = dt.datetime.now(dt.timezone.utc)
        host.push(target)
        # The image stays as demo/<service>; the extra name would outlive a rebuild of it.
        host.image_remove(target)
        say(f"pushed {target} ({(dt.datetime.now(dt.timezone.utc) - started).total_seconds():.1f}s)")


def print_urls(settings: ClusterSettings) -> None:
    print()
    for node in NODES:
        base = f"http://127.0.0.1:{settings.node_gateway_port(node)}"
        print(f"  {node} gateway     {base}/   (APIs: {base}/api/customers/, /api/products/, /api/invoices/)")
    print(f"  visualizer     http://127.0.0.1:{settings.viz_port}/   (on {MANAGER})")
    print(f"  docker CLI     export DOCKER_HOST={manager_host()}   (m1's engine)")
    print()


# ------------------------------------------------------------------------------
# Tasks
# ------------------------------------------------------------------------------
def running_tasks() -> list[Task]:
    """Tasks of the stack that are running now."""
    return [t for t in stack.stack_tasks(engine=manager_engine()) if t.running]


def tasks_by_node() -> dict[str, list[str]]:
    placement: dict[str, list[str]] = {node: [] for node in NODES}
    for task in running_tasks():
        service = task.service.removeprefix(f"{stack.STACK}_")
        # A global service's task has no slot (one per node): the service name says enough.
        name = f"{service}.{task.slot}" if task.slot is not None else service
        placement.setdefault(task.node, []).append(name)
    return {node: sorted(names) for node, names in placement.items()}


def print_tasks() -> None:
    for node, names in tasks_by_node().items():
        print(f"  {node:<4} {len(names):2d} tasks  {' '.join(names) or '-'}")


def rebalanced_services(manager: Engine) -> list[str]:
    """Replicated services free to move: no placement constraint (Redis and viz are pinned to m1)."""
    services = stack.stack_services(engine=manager)
    if not services:
        raise ClusterError(f"stack {stack.STACK} is not deployed on the cluster: python -m ops.cluster deploy")
    return [s.name for s in services if s.mode == "replicated" and not s.constraints]


# ------------------------------------------------------------------------------
# Commands
# ------------------------------------------------------------------------------
def settings_from(args: argparse.Namespace) -> ClusterSettings:
    return ClusterSettings(
        subnet=args.subnet, gateway_port=args.gateway_port, viz_port=args.viz_port, registry_port=args.registry_port
    )


def cmd_up(args: argparse.Namespace) -> int:
    requested = settings_from(args)
    settings = settings_in_use(requested)
    if settings != requested:
        say(f"the existing nodes keep what they were started with ({settings}); `down` first to change it")
    cluster_images = ensure_cluster_images()
    ensure_network(settings)
    ensure_registry(settings, cluster_images)
    missing = [node for node in NODES if container_state(container(node)) is None]
    access = node_access(cluster_images.node) if missing else None
    node_image = local().image(cluster_images.node)
    for node in NODES:
        start_node(node, settings, cluster_images.node, access)
        running = local().inspect_container(container(node)) or {}
        if node_image is None or running.get("Image") != node_image.id:
            say(
                f"node {node} runs another image than {cluster_images.node}; "
                "`down` then `up` replaces it (the swarm starts over)"
            )
    for node in NODES:
        wait_engine(node)
    say("engines answer on every node (storage driver overlay2)")
    ensure_swarm(settings)
    wait_nodes_ready()
    print_nodes()
    print_urls(settings)
    say(f"cluster up in {cli.elapsed():.0f}s; next: python -m ops.cluster deploy")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    require_manager()
    settings = settings_in_use(ClusterSettings())
    push_images(args.tag, args.infra_tag, build=not args.no_build)
    stack_settings = stack.StackSettings(
        registry=f"{REGISTRY_HOST}:{REGISTRY_INNER_PORT}",
        tag=args.tag,
        infra_tag=args.infra_tag,
        gateway_port=80,
        viz_port=8080,
    )
    manager = manager_engine()
    stack.ensure_redis_node(engine=manager)
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
    running_with, shown = stack.deploy(stack_settings, engine=manager)
    stack.wait_converged(timeout=args.timeout, since=since, engine=manager)
    say(f"stack {stack.STACK} is up on the cluster: every service converged, every task healthy")
    print_tasks()
    print_urls(settings)
    print(credentials.describe(running_with, credentials.DEFAULT_FILE, shown=shown))
    say(f"deploy took {cli.elapsed():.0f}s")
    return 0


def remove_pushed_names() -> int:
    """Host-side names of pushed images (127.0.0.1:<registry port>/...); the demo/* images stay."""
    host = local()
    port = host.published_port(REGISTRY_CONTAINER, f"{REGISTRY_INNER_PORT}/tcp") or ClusterSettings().registry_port
    prefix = f"127.0.0.1:{port}/"
    refs = []
    for image in host.images():
        tags = [tag for tag in image.tags if tag.startswith(prefix)]
        refs += tags or [digest for digest in image.digests if digest.startswith(prefix)]
    for ref in refs:
        with contextlib.suppress(EngineError):
            host.image_remove(ref)
    return len(refs)


def cmd_down(args: argparse.Namespace) -> int:
    host = local()
    if removed := remove_pushed_names():
        say(f"removed {removed} host-side names of images pushed to the registry")
    names = [c.id for c in host.containers({LABEL: ""}, all=True)]
    if names:
        say(f"removing {len(names)} containers (nodes and registry)")
        host.remove_containers(names, force=True, volumes=True)
    volumes = [f"{container(node)}-docker" for node in NODES] + [f"{REGISTRY_CONTAINER}-data"]
    present = [v for v in volumes if host.volume_exists(v)]
    for volume in present:
        if not host.volume_remove(volume):
            raise ClusterError(f"volume {volume} could not be removed")
    if present:
        say(f"removed volumes {', '.join(present)}")
    if host.network(NETWORK):
        host.network_remove(NETWORK)
        say(f"removed network {NETWORK}")
    for node in NODES:
        node_socket(node).unlink(missing_ok=True)
    removed = sum(remove_empty_cgroups(cgroup_parent(node)) for node in NODES)
    if removed:
        say(f"removed {removed} empty cgroups the nodes' killed containers left in the host's tree")
    say("cluster removed")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    for name in (*(container(n) for n in NODES), REGISTRY_CONTAINER):
        print(f"  {name:<18} {container_state(name) or 'absent'}")
    if container_state(container(MANAGER)) != "running":
        print("m1 is not running: python -m ops.cluster up")
        return 1
    print()
    print_nodes()
    print()
    manager = manager_engine()
    if stack.STACK in manager.stacks():
        stack.print_services(stack.service_states(engine=manager), stack.stack_services(engine=manager))
    else:
        print("stack not deployed")
    print()
    print_tasks()
    print_urls(settings_in_use(ClusterSettings()))
    return 0


def cmd_kill_node(args: argparse.Namespace) -> int:
    name = container(args.node)
    if container_state(name) != "running":
        raise ClusterError(f"{name} is not running")
    if args.node == MANAGER:
        say("m1 is the only manager: without it the swarm cannot reschedule anything until it is back")
    local().kill(name)
    say(f"{args.node} is gone; the manager marks it Down after missing heartbeats (watch: python -m ops.cluster tasks)")
    return 0


def cmd_start_node(args: argparse.Namespace) -> int:
    name = container(args.node)
    if container_state(name) is None:
        raise ClusterError(f"{name} does not exist: python -m ops.cluster up")
    local().start(name)
    wait_engine(args.node)
    if args.node != MANAGER or container_state(container(MANAGER)) == "running":
        wait_nodes_ready([args.node], timeout=args.timeout)
    say(f"{args.node} is back; it gets new tasks only as tasks start (python -m ops.cluster rebalance)")
    return 0


def cmd_rebalance(args: argparse.Namespace) -> int:
    require_manager()
    manager = manager_engine()
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
    for service in rebalanced_services(manager):
        manager.service_update(service, force=True)
    stack.wait_converged(timeout=args.timeout, since=since, engine=manager)
    say("rebalanced; tasks now run on:")
    print_tasks()
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    require_manager()
    print_tasks()
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    print(f"export DOCKER_HOST={manager_host()}")
    return 0


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ops.cluster", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start m1, w1, w2 and the registry; swarm init and join (safe to repeat)")
    defaults = ClusterSettings()
    up.add_argument(
        "--subnet",
        default=os.environ.get("CLUSTER_SUBNET", defaults.subnet),
        help=f"the nodes' private network, a /24 (CLUSTER_SUBNET, default {defaults.subnet})",
    )
    up.add_argument(
        "--gateway-port",
        type=int,
        default=_env_int("CLUSTER_GATEWAY_PORT", defaults.gateway_port),
        help="host port of m1's gateway on 127.0.0.1; w1 and w2 get the next two "
        f"(CLUSTER_GATEWAY_PORT, default {defaults.gateway_port})",
    )
    up.add_argument(
        "--viz-port",
        type=int,
        default=_env_int("CLUSTER_VIZ_PORT", defaults.viz_port),
        help=f"host port of the visualizer on m1 (CLUSTER_VIZ_PORT, default {defaults.viz_port})",
    )
    up.add_argument(
        "--registry-port",
        type=int,
        default=_env_int("CLUSTER_REGISTRY_PORT", defaults.registry_port),
        help=f"host port of the registry (CLUSTER_REGISTRY_PORT, default {defaults.registry_port})",
    )
    up.set_defaults(func=cmd_up)  # fmt: skip

    deploy = commands.add_parser("deploy", help="push the images to the registry, deploy the stack on m1, wait")
    deploy.add_argument("--tag", default=os.environ.get("TAG", "v1"), help="tag of the Django images (default v1)")
    deploy.add_argument("--infra-tag", default="v1", help="tag of the redis and gateway images (default v1)")
    deploy.add_argument("--no-build", action="store_true", help="fail instead of building missing demo/* images")
    deploy.add_argument("--timeout", type=float, default=600, help="seconds to wait for convergence (default 600)")
    deploy.set_defaults(func=cmd_deploy)

    down = commands.add_parser("down", help="remove the nodes, their volumes, the network and the registry")
    down.set_defaults(func=cmd_down)

    status = commands.add_parser("status", help="containers, swarm nodes, services and where tasks run")
    status.set_defaults(func=cmd_status)

    kill = commands.add_parser("kill-node", help="docker kill a node's container (a machine that dies)")
    kill.add_argument("node", choices=NODES)
    kill.set_defaults(func=cmd_kill_node)

    start = commands.add_parser("start-node", help="start a node's container again and wait until it is Ready")
    start.add_argument("node", choices=NODES)
    start.add_argument("--timeout", type=float, default=120, help="seconds to wait for Ready (default 120)")
    start.set_defaults(func=cmd_start_node)

    rebalance = commands.add_parser(
        "rebalance", help="docker service update --force on the replicated services that are not pinned"
    )
    rebalance.add_argument("--timeout", type=float, default=600, help="seconds to wait for convergence (default 600)")
    rebalance.set_defaults(func=cmd_rebalance)

    tasks = commands.add_parser("tasks", help="which running tasks are on which node")
    tasks.set_defaults(func=cmd_tasks)

    env = commands.add_parser("env", help="print the DOCKER_HOST line that points the docker CLI at m1")
    env.set_defaults(func=cmd_env)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(parse_args(argv), expected=(ClusterError, stack.StackError, bases.BuildError, EngineError))


if __name__ == "__main__":
    sys.exit(main())
