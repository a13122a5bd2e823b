"""A real three-node swarm on one machine: Docker engines in containers (Docker-in-Docker).

    python -m ops.cluster up          # nodes m1 (manager), w1, w2 + a registry; swarm init/join
    python -m ops.cluster deploy      # push the images to the registry, deploy swarm-stack.yml on m1, wait
    python -m ops.cluster status      # nodes, and where the tasks run
    python -m ops.cluster kill-node w2 | start-node w2 | rebalance | tasks
    python -m ops.cluster down        # remove nodes, their volumes, the network and the registry

Every node is a container running dockerd (docker/node/Dockerfile) with /var/lib/docker on a
volume of its own, on a private bridge network with fixed addresses, so a restarted node
comes back with the address the swarm knows it by. The nodes pull the stack's images from a
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
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from ops import cli, images, stack

REPO = stack.REPO
RUN_DIR = REPO / ".run" / "cluster"
PREFIX = "cluster"
LABEL = "org.swarm-microservices.cluster"
NETWORK = f"{PREFIX}-net"
REGISTRY_CONTAINER = f"{PREFIX}-registry"
# The name the nodes reach the registry by; images in the stack are <this>:5000/<service>:<tag>.
REGISTRY_HOST = "registry"
REGISTRY_INNER_PORT = 5000
NODE_IMAGE = "cluster/node:bookworm"
REGISTRY_IMAGE = "cluster/registry:bookworm"
SOURCE_LABEL = f"{LABEL}.source"
MANAGER = "m1"
NODES = ("m1", "w1", "w2")
# In the order they are tried: the capability list works where --privileged cannot be granted.
PRIVILEGED = ("--privileged",)
CAPABILITIES = (
    "--cap-add=ALL",
    "--cap-drop=SYS_RESOURCE",
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "apparmor=unconfined",
    "--security-opt",
    "systempaths=unconfined",
)
# How the node's dockerd gets a writable cgroup tree: the host's (v1), or a namespace of its own (v2).
CGROUP_V1_MOUNT = ("--volume", "/sys/fs/cgroup:/sys/fs/cgroup:rw")
CGROUP_V2_NAMESPACE = ("--cgroupns", "private")
CGROUP_ROOT = Path("/sys/fs/cgroup")
# Replicated services pinned by a placement constraint stay where they are on `rebalance`.
STACK_SERVICES_IMAGES = {**dict.fromkeys(stack.DJANGO_SERVICES, "tag"), **dict.fromkeys(stack.INFRA_SERVICES, "infra")}

say = stack.say


class ClusterError(RuntimeError):
    """The cluster cannot be built or reached; the message says why and what to do."""


def docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    """The host's engine (never the cluster's, whatever ops.stack.engine says)."""
    try:
        result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ClusterError(f"docker {' '.join(args)} did not finish in {timeout:.0f}s") from exc
    if check and result.returncode:
        raise ClusterError(f"docker {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def container(node: str) -> str:
    return f"{PREFIX}-{node}"


def on_node(node: str, *args: str, check: bool = True, timeout: float = 120) -> str:
    """A docker command run by the node's own CLI against its own engine."""
    return docker("exec", container(node), "docker", *args, check=check, timeout=timeout)


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


def manager_socket() -> Path:
    return RUN_DIR / MANAGER / "docker.sock"


def manager_host() -> str:
    return f"unix://{manager_socket()}"


@contextlib.contextmanager
def manager_engine() -> Iterator[None]:
    """ops.stack's functions, aimed at m1's engine."""
    if not manager_socket().is_socket():
        raise ClusterError(f"m1's engine socket {manager_socket()} is missing: python -m ops.cluster up")
    with stack.engine(manager_host()):
        yield


# ------------------------------------------------------------------------------
# Images: node, registry
# ------------------------------------------------------------------------------
def _source_digest(folder: Path, base_id: str) -> str:
    digest = hashlib.sha256(base_id.encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_cluster_images() -> None:
    """Build the node and registry images on the offline python base, when missing or changed."""
    base = images.BASES["python"]
    images.build_offline_bases([base], force=False, mirror=None)
    base_id = images._inspect(base.offline, "{{.Id}}")
    try:
        proxies = images.host_apt_source().environment()
    except images.BuildError:
        proxies = {}
    for ref, folder in ((NODE_IMAGE, REPO / "docker/node"), (REGISTRY_IMAGE, REPO / "docker/registry")):
        digest = _source_digest(folder, base_id)
        if images._inspect(ref, f'{{{{index .Config.Labels "{SOURCE_LABEL}"}}}}') == digest:
            say(f"image {ref}: up to date")
            continue
        spec = images.ImageSpec(ref, folder / "Dockerfile", folder, {"BASE": base.offline, **proxies})
        images.docker_build(spec, ref, verbose=False, extra=["--label", f"{SOURCE_LABEL}={digest}"])


def privilege_flags() -> tuple[str, ...]:
    """--privileged when this engine grants it, else the explicit capability list (detected, once per up)."""
    cgroup_v1 = docker("info", "--format", "{{.CgroupVersion}}").strip() == "1"
    cgroups = CGROUP_V1_MOUNT if cgroup_v1 else CGROUP_V2_NAMESPACE
    probe = subprocess.run(
        ["docker", "run", "--rm", "--privileged", "--entrypoint", "true", NODE_IMAGE],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if probe.returncode == 0:
        say("privileges: --privileged")
        return (*PRIVILEGED, *cgroups)
    # The runtime's reason is at the end of a long first line ("... unable to apply caps: ...").
    reason = (probe.stderr.strip().splitlines() or ["no error output"])[0].rsplit("create failed: ", 1)[-1]
    say(f"privileges: --privileged refused here ({reason}); using the capability list instead")
    return (*CAPABILITIES, *cgroups)


# ------------------------------------------------------------------------------
# Network, registry, nodes
# ------------------------------------------------------------------------------
def container_state(name: str) -> str | None:
    """'running', 'exited', ... or None when there is no such container."""
    out = docker("container", "inspect", "--format", "{{.State.Status}}", name, check=False).strip()
    return out or None


def ensure_network(settings: ClusterSettings) -> None:
    existing = docker("network", "inspect", "--format", "{{json .IPAM.Config}}", NETWORK, check=False).strip()
    if existing:
        subnets = [c.get("Subnet") for c in json.loads(existing) or []]
        if settings.subnet not in subnets:
            raise ClusterError(f"network {NETWORK} exists with {subnets}, not {settings.subnet}: run down first")
        return
    say(f"network {NETWORK} ({settings.subnet})")
    docker("network", "create", "--driver", "bridge", "--subnet", settings.subnet, "--label", LABEL, NETWORK)


def ensure_registry(settings: ClusterSettings) -> None:
    state = container_state(REGISTRY_CONTAINER)
    if state is None:
        say(
            f"registry {REGISTRY_CONTAINER}: {REGISTRY_HOST}:{REGISTRY_INNER_PORT} for the nodes, "
            f"127.0.0.1:{settings.registry_port} for the host"
        )
        docker(
            "run", "--detach", "--name", REGISTRY_CONTAINER, "--hostname", REGISTRY_HOST,
            "--network", NETWORK, "--network-alias", REGISTRY_HOST, "--label", LABEL,
            "--publish", f"127.0.0.1:{settings.registry_port}:{REGISTRY_INNER_PORT}",
            "--volume", f"{REGISTRY_CONTAINER}-data:/var/lib/docker-registry",
            REGISTRY_IMAGE,
        )  # fmt: skip
    elif state != "running":
        say(f"registry {REGISTRY_CONTAINER}: starting ({state})")
        docker("start", REGISTRY_CONTAINER)
    port = registry_port()
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2):
                break
        except (urllib.error.URLError, OSError) as exc:
            if time.monotonic() > deadline:
                raise ClusterError(f"the registry does not answer on 127.0.0.1:{port}: {exc}") from exc
            time.sleep(0.5)
    say(f"registry answers on 127.0.0.1:{port}")


def _published(name: str, target: str) -> int | None:
    out = docker("container", "inspect", "--format", "{{json .HostConfig.PortBindings}}", name, check=False)
    bindings = (json.loads(out.strip() or "null") or {}).get(target) or []
    return int(bindings[0]["HostPort"]) if bindings else None


def registry_port() -> int:
    port = _published(REGISTRY_CONTAINER, f"{REGISTRY_INNER_PORT}/tcp")
    if port is None:
        raise ClusterError("the registry container is missing: python -m ops.cluster up")
    return port


def cgroup_parent(node: str) -> str:
    return f"/{container(node)}"


def daemon_config(node: str) -> str:
    # overlay2 works because /var/lib/docker is a volume on the host's own filesystem.
    return json.dumps(
        {
            "storage-driver": "overlay2",
            # The node's containers in a cgroup of their own, not beside the host's in /docker.
            "cgroup-parent": cgroup_parent(node),
            "insecure-registries": [f"{REGISTRY_HOST}:{REGISTRY_INNER_PORT}"],
            "log-driver": "json-file",
            "log-opts": {"max-size": "10m", "max-file": "3"},
        }
    )


def start_node(node: str, settings: ClusterSettings, privileges: tuple[str, ...]) -> None:
    name = container(node)
    state = container_state(name)
    if state == "running":
        return
    if state is not None:
        say(f"node {node}: starting ({state})")
        docker("start", name)
        return
    say(f"node {node}: {name} at {settings.address(node)}, gateway on 127.0.0.1:{settings.node_gateway_port(node)}")
    cmd = ["run", "--detach", "--name", name, "--hostname", node, "--init", "--label", LABEL]
    cmd += ["--network", NETWORK, "--ip", settings.address(node), "--network-alias", node]
    cmd += [*privileges, "--volume", f"{name}-docker:/var/lib/docker", "--env", f"DOCKERD_CONFIG={daemon_config(node)}"]
    cmd += ["--publish", f"127.0.0.1:{settings.node_gateway_port(node)}:80"]
    dockerd_args = ["--host", "unix:///var/run/docker.sock"]
    if node == MANAGER:
        socket_dir = manager_socket().parent
        socket_dir.mkdir(parents=True, exist_ok=True)
        if len(str(manager_socket())) > 100:
            raise ClusterError(f"{manager_socket()} is too long for a Unix socket; use a shorter checkout path")
        cmd += ["--publish", f"127.0.0.1:{settings.viz_port}:8080", "--volume", f"{socket_dir}:/run/host-api"]
        dockerd_args += ["--host", "unix:///run/host-api/docker.sock"]
    docker(*cmd, NODE_IMAGE, *dockerd_args)


def wait_engine(node: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        out = on_node(node, "info", "--format", "{{.Driver}}", check=False, timeout=30).strip()
        if out:
            if out != "overlay2":
                raise ClusterError(f"node {node}: storage driver {out}, expected overlay2")
            return
        if container_state(container(node)) != "running":
            logs = subprocess.run(["docker", "logs", "--tail", "15", container(node)], capture_output=True, text=True)
            raise ClusterError(f"node {node} stopped while starting:\n{logs.stderr or logs.stdout}")
        if time.monotonic() > deadline:
            raise ClusterError(
                f"node {node}: dockerd does not answer after {timeout:.0f}s (docker logs {container(node)})"
            )
        time.sleep(1)


# ------------------------------------------------------------------------------
# Swarm
# ------------------------------------------------------------------------------
def swarm_state(node: str) -> tuple[str, str]:
    """(LocalNodeState, NodeID) as the node's own engine reports them."""
    out = on_node(node, "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}").split()
    return out[0], out[1] if len(out) > 1 else ""


def swarm_nodes() -> list[dict]:
    return stack.json_lines(on_node(MANAGER, "node", "ls", "--format", "{{json .}}"))


def ensure_swarm(settings: ClusterSettings) -> None:
    state, _ = swarm_state(MANAGER)
    if state != "active":
        address = settings.address(MANAGER)
        say(f"swarm init on {MANAGER} --advertise-addr {address}")
        on_node(MANAGER, "swarm", "init", "--advertise-addr", address, "--listen-addr", f"{address}:2377")
    token = on_node(MANAGER, "swarm", "join-token", "--quiet", "worker").strip()
    known = {row["ID"] for row in swarm_nodes()}
    for node in NODES:
        if node == MANAGER:
            continue
        state, node_id = swarm_state(node)
        if state == "active" and node_id in known:
            continue
        if state != "inactive":
            # A member of a swarm that no longer exists (m1 was recreated): start over.
            say(f"node {node}: leaving its old swarm ({state})")
            on_node(node, "swarm", "leave", "--force", check=False)
        address = settings.address(node)
        say(f"node {node}: swarm join --advertise-addr {address} {settings.address(MANAGER)}:2377")
        on_node(
            node, "swarm", "join", "--token", token, "--advertise-addr", address, f"{settings.address(MANAGER)}:2377"
        )
    _forget_replaced_nodes()


def _forget_replaced_nodes() -> None:
    """A node that rejoined leaves its old entry behind, Down; remove those."""
    rows = swarm_nodes()
    ready = {row["Hostname"] for row in rows if row["Status"] == "Ready"}
    for row in rows:
        if row["Status"] == "Down" and row["Hostname"] in ready:
            on_node(MANAGER, "node", "rm", "--force", row["ID"], check=False)


def wait_nodes_ready(expected: Sequence[str] = NODES, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        ready = sorted(row["Hostname"] for row in swarm_nodes() if row["Status"] == "Ready")
        if set(expected) <= set(ready):
            say(f"swarm nodes ready: {', '.join(ready)}")
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"after {timeout:.0f}s only {ready} are Ready, expected {list(expected)}")
        time.sleep(1)


def settings_in_use(defaults: ClusterSettings) -> ClusterSettings:
    """The ports and subnet the existing containers were started with (they win over flags)."""
    ports = {node: _published(container(node), "80/tcp") for node in NODES}
    if ports[MANAGER] is None:
        return defaults
    subnet = docker("network", "inspect", "--format", "{{(index .IPAM.Config 0).Subnet}}", NETWORK, check=False)
    return ClusterSettings(
        subnet=subnet.strip() or defaults.subnet,
        gateway_port=ports[MANAGER],
        viz_port=_published(container(MANAGER), "8080/tcp") or defaults.viz_port,
        registry_port=_published(REGISTRY_CONTAINER, f"{REGISTRY_INNER_PORT}/tcp") or defaults.registry_port,
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
    missing = [s for s, t in wanted.items() if not images.image_exists(f"demo/{s}:{t}")]
    if missing and not build:
        raise ClusterError(f"images missing: {', '.join(f'demo/{s}:{wanted[s]}' for s in missing)} (drop --no-build)")
    for image_tag in sorted({wanted[s] for s in missing}):
        argv = ["build", "--tag", image_tag]
        for service in missing:
            if wanted[service] == image_tag:
                argv += ["--service", service]
        say(f"building what is missing: python -m ops.images {' '.join(argv)}")
        if images.main(argv):
            raise ClusterError("image build failed")
    port = registry_port()
    for service, image_tag in wanted.items():
        target = f"127.0.0.1:{port}/{service}:{image_tag}"
        docker("tag", f"demo/{service}:{image_tag}", target)
        started = time.monotonic()
        docker("push", "--quiet", target, timeout=600)
        # The image stays as demo/<service>; the extra name would outlive a rebuild of it.
        docker("image", "rm", target)
        say(f"pushed {target} ({time.monotonic() - started:.1f}s)")


def manager_socket_gid() -> int:
    return int(docker("exec", container(MANAGER), "stat", "-c", "%g", "/var/run/docker.sock").strip())


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
def running_tasks() -> list[dict]:
    """Tasks of the stack that are running now: {'Name', 'Node', 'Image', 'CurrentState', ...}."""
    out = on_node(MANAGER, "stack", "ps", "--no-trunc", "--filter", "desired-state=running", "--format", "{{json .}}",
                  stack.STACK, check=False)  # fmt: skip
    return [t for t in stack.json_lines(out) if t["CurrentState"].startswith("Running")]


def tasks_by_node() -> dict[str, list[str]]:
    placement: dict[str, list[str]] = {node: [] for node in NODES}
    for task in running_tasks():
        service, _, slot = task["Name"].removeprefix(f"{stack.STACK}_").rpartition(".")
        # A global service's task is named after its node's id: the service name says enough.
        name = f"{service}.{slot}" if slot.isdigit() else service
        placement.setdefault(task["Node"], []).append(name)
    return {node: sorted(names) for node, names in placement.items()}


def print_tasks() -> None:
    for node, names in tasks_by_node().items():
        print(f"  {node:<4} {len(names):2d} tasks  {' '.join(names) or '-'}")


def rebalanced_services() -> list[str]:
    """Replicated services free to move: no placement constraint (Redis and viz are pinned to m1)."""
    names = []
    for spec in json.loads(on_node(MANAGER, "service", "inspect", *_stack_service_ids()) or "[]"):
        replicated = "Replicated" in spec["Spec"]["Mode"]
        pinned = (spec["Spec"]["TaskTemplate"].get("Placement") or {}).get("Constraints")
        if replicated and not pinned:
            names.append(spec["Spec"]["Name"])
    return sorted(names)


def _stack_service_ids() -> list[str]:
    ids = on_node(MANAGER, "service", "ls", "--quiet", "--filter", f"label={stack.NAMESPACE_LABEL}={stack.STACK}")
    if not ids.split():
        raise ClusterError(f"stack {stack.STACK} is not deployed on the cluster: python -m ops.cluster deploy")
    return ids.split()


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
    ensure_cluster_images()
    ensure_network(settings)
    ensure_registry(settings)
    missing = [node for node in NODES if container_state(container(node)) is None]
    privileges = privilege_flags() if missing else ()
    current = images._inspect(NODE_IMAGE, "{{.Id}}")
    for node in NODES:
        start_node(node, settings, privileges)
        if docker("container", "inspect", "--format", "{{.Image}}", container(node)).strip() != current:
            say(f"node {node} runs an older {NODE_IMAGE}; `down` then `up` replaces it (the swarm starts over)")
    for node in NODES:
        wait_engine(node)
    say("engines answer on every node (storage driver overlay2)")
    ensure_swarm(settings)
    wait_nodes_ready()
    print(on_node(MANAGER, "node", "ls"), end="")
    print_urls(settings)
    say(f"cluster up in {time.monotonic() - stack._started:.0f}s; next: python -m ops.cluster deploy")
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
        docker_socket_gid=manager_socket_gid(),
    )
    with manager_engine():
        stack.ensure_secret()
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
        stack.deploy(stack_settings)
        stack.wait_converged(timeout=args.timeout, since=since)
    say(f"stack {stack.STACK} is up on the cluster: every service converged, every task healthy")
    print_tasks()
    print_urls(settings)
    say(f"deploy took {time.monotonic() - stack._started:.0f}s")
    return 0


def remove_pushed_names() -> int:
    """Host-side names of pushed images (127.0.0.1:<registry port>/...); the demo/* images stay."""
    port = _published(REGISTRY_CONTAINER, f"{REGISTRY_INNER_PORT}/tcp") or ClusterSettings().registry_port
    rows = docker("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}").splitlines()
    refs = []
    for repository, tag, digest in (row.split() for row in rows):
        if repository.startswith(f"127.0.0.1:{port}/"):
            refs.append(f"{repository}:{tag}" if tag != "<none>" else f"{repository}@{digest}")
    for ref in refs:
        docker("image", "rm", ref, check=False)
    return len(refs)


def cmd_down(args: argparse.Namespace) -> int:
    if removed := remove_pushed_names():
        say(f"removed {removed} host-side names of images pushed to the registry")
    names = docker("ps", "--all", "--quiet", "--filter", f"label={LABEL}").split()
    if names:
        say(f"removing {len(names)} containers (nodes and registry)")
        docker("rm", "--force", "--volumes", *names, timeout=300)
    volumes = [f"{container(node)}-docker" for node in NODES] + [f"{REGISTRY_CONTAINER}-data"]
    present = [v for v in volumes if docker("volume", "inspect", "--format", "{{.Name}}", v, check=False).strip()]
    if present:
        docker("volume", "rm", *present)
        say(f"removed volumes {', '.join(present)}")
    if docker("network", "inspect", "--format", "{{.Name}}", NETWORK, check=False).strip():
        docker("network", "rm", NETWORK)
        say(f"removed network {NETWORK}")
    manager_socket().unlink(missing_ok=True)
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
    print(on_node(MANAGER, "node", "ls"), end="")
    print()
    print(on_node(MANAGER, "stack", "services", stack.STACK, check=False) or "stack not deployed\n", end="")
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
    say(f"docker kill {name}")
    docker("kill", name)
    say(f"{args.node} is gone; the manager marks it Down after missing heartbeats (watch: python -m ops.cluster tasks)")
    return 0


def cmd_start_node(args: argparse.Namespace) -> int:
    name = container(args.node)
    if container_state(name) is None:
        raise ClusterError(f"{name} does not exist: python -m ops.cluster up")
    say(f"docker start {name}")
    docker("start", name)
    wait_engine(args.node)
    if args.node != MANAGER or container_state(container(MANAGER)) == "running":
        wait_nodes_ready([args.node], timeout=args.timeout)
    say(f"{args.node} is back; it gets new tasks only as tasks start (python -m ops.cluster rebalance)")
    return 0


def cmd_rebalance(args: argparse.Namespace) -> int:
    require_manager()
    services = rebalanced_services()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    for service in services:
        say(f"docker service update --force {service}")
        on_node(MANAGER, "service", "update", "--detach", "--force", "--no-resolve-image", service)
    with manager_engine():
        stack.wait_converged(timeout=args.timeout, since=since)
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
    return cli.run(parse_args(argv), expected=(ClusterError, stack.StackError, images.BuildError), say=say)


if __name__ == "__main__":
    sys.exit(main())
