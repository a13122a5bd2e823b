"""The one module that talks to a Docker engine: the docker SDK, typed results, one error type.

    engine = Engine()                                   # DOCKER_HOST, else the local socket
    cluster_manager = Engine("unix:///path/docker.sock")  # any other engine, e.g. a cluster node

Every action that changes something prints the docker command a user would type for it
("docker service update --image demo/customers:v2 demo_customers"): the tooling teaches the
CLI it replaces. The CLI itself is used only where the SDK has no equivalent: `docker stack
deploy`, which turns a compose file into services.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import os
import shlex
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import docker
import docker.errors
import docker.types
import requests

from ops import cli

NAMESPACE_LABEL = "com.docker.stack.namespace"
SERVICE_NAME_LABEL = "com.docker.swarm.service.name"
UNCONFINED_SYSTEM_PATHS = "systempaths=unconfined"


class EngineError(RuntimeError):
    """A Docker engine refused or failed a request, or cannot be reached; the message says which."""


# ------------------------------------------------------------------------------
# Typed results
# ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Port:
    target: int
    published: int | None
    mode: str  # "ingress" or "host"


@dataclasses.dataclass(frozen=True)
class Service:
    id: str
    name: str
    # "replicated", "global", "replicated-job" or "global-job"
    mode: str
    # Replicas (replicated) or total completions (replicated job); None for global modes.
    replicas: int | None
    image: str
    labels: dict[str, str]
    constraints: tuple[str, ...]
    ports: tuple[Port, ...]
    update_state: str
    update_message: str
    update_started_at: dt.datetime | None
    update_completed_at: dt.datetime | None
    updated_at: dt.datetime | None
    # The task template differs from the one before the last update: an update was asked for.
    template_changed: bool


@dataclasses.dataclass(frozen=True)
class Task:
    id: str
    service: str
    # The replica's slot; None for a global service's task (one per node).
    slot: int | None
    node_id: str
    # Hostname of the node, "" while unassigned.
    node: str
    image: str
    desired_state: str
    state: str
    error: str
    container_id: str
    timestamp: dt.datetime | None

    @property
    def name(self) -> str:
        """As `docker service ps` names it: <service>.<slot>, or <service>.<node id> for a global service."""
        return f"{self.service}.{self.slot if self.slot is not None else self.node_id}"

    @property
    def running(self) -> bool:
        return self.desired_state == "running" and self.state == "running"


@dataclasses.dataclass(frozen=True)
class Node:
    id: str
    hostname: str
    role: str
    status: str  # "ready", "down", ...
    availability: str  # "active", "pause", "drain"
    leader: bool
    labels: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.status == "ready" and self.availability == "active"


@dataclasses.dataclass(frozen=True)
class Container:
    id: str
    name: str
    state: str  # "running", "exited", ...
    image_id: str
    labels: dict[str, str]

    @property
    def service(self) -> str:
        """The swarm service the container is a task of, "" for a plain container."""
        return self.labels.get(SERVICE_NAME_LABEL, "")


@dataclasses.dataclass(frozen=True)
class Image:
    id: str
    size: int
    tags: tuple[str, ...]
    digests: tuple[str, ...]
    labels: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Network:
    id: str
    name: str
    driver: str
    subnets: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class RegistryAnswer:
    """What a registry said of an image: its digest, or why not (it did not answer, or refused)."""

    ref: str
    digest: str = ""
    unreachable: str = ""
    refused: str = ""


@dataclasses.dataclass(frozen=True)
class ExecResult:
    returncode: int
    stdout: str
    stderr: str


@dataclasses.dataclass(frozen=True)
class Privileges:
    """What a container may do beyond the default: --privileged, or capabilities one by one."""

    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    cgroupns: str | None = None

    def flags(self) -> list[str]:
        return (
            ["--privileged"] * self.privileged
            + [f"--cap-add={cap}" for cap in self.cap_add]
            + [f"--cap-drop={cap}" for cap in self.cap_drop]
            + [f"--security-opt={opt}" for opt in self.security_opt]
            + ([f"--cgroupns={self.cgroupns}"] if self.cgroupns else [])
        )

    def host_config(self) -> dict[str, Any]:
        """Options of the Engine API's HostConfig (as the SDK's create_host_config names them)."""
        options: dict[str, Any] = {"privileged": self.privileged}
        if self.cap_add:
            options["cap_add"] = list(self.cap_add)
        if self.cap_drop:
            options["cap_drop"] = list(self.cap_drop)
        # The CLI's systempaths=unconfined is no security option of the engine: it empties the
        # masked and read-only /proc and /sys paths, which the SDK has no option for.
        engine_options = [opt for opt in self.security_opt if opt != UNCONFINED_SYSTEM_PATHS]
        if engine_options:
            options["security_opt"] = engine_options
        if self.cgroupns:
            options["cgroupns"] = self.cgroupns
        return options

    @property
    def system_paths_unconfined(self) -> bool:
        return UNCONFINED_SYSTEM_PATHS in self.security_opt


def docker_time(value: str | None) -> dt.datetime | None:
    """A timestamp of the Engine API (RFC 3339, nanoseconds, UTC) to the microsecond; None if unset."""
    seconds, _, fraction = (value or "").rstrip("Z").partition(".")
    try:
        stamp = dt.datetime.fromisoformat(seconds[:19]).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    # The zero time Go reports for "never".
    if stamp.year <= 1:
        return None
    digits = "".join(c for c in fraction if c.isdigit())[:6]
    return stamp.replace(microsecond=int(digits.ljust(6, "0"))) if digits else stamp


def _pruned(value: object) -> object:
    """Absent and empty fields mean the same to swarm, not to a comparison of specs."""
    if isinstance(value, dict):
        kept = {key: _pruned(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in ({}, [], "", None)}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


def _service(attrs: dict) -> Service:
    spec = attrs["Spec"]
    mode_spec = spec.get("Mode", {})
    if "Replicated" in mode_spec:
        mode, replicas = "replicated", int(mode_spec["Replicated"].get("Replicas", 1))
    elif "ReplicatedJob" in mode_spec:
        mode, replicas = "replicated-job", int(mode_spec["ReplicatedJob"].get("TotalCompletions", 1))
    elif "GlobalJob" in mode_spec:
        mode, replicas = "global-job", None
    else:
        mode, replicas = "global", None
    template = spec.get("TaskTemplate", {})
    previous = attrs.get("PreviousSpec")
    update = attrs.get("UpdateStatus") or {}
    ports = (attrs.get("Endpoint", {}).get("Spec") or spec.get("EndpointSpec") or {}).get("Ports") or []
    return Service(
        id=attrs["ID"],
        name=spec["Name"],
        mode=mode,
        replicas=replicas,
        image=template.get("ContainerSpec", {}).get("Image", "").split("@")[0],
        labels=spec.get("Labels") or {},
        constraints=tuple((template.get("Placement") or {}).get("Constraints") or ()),
        ports=tuple(
            Port(
                int(p["TargetPort"]),
                int(p["PublishedPort"]) if p.get("PublishedPort") else None,
                p.get("PublishMode", ""),
            )
            for p in ports
        ),
        update_state=update.get("State", ""),
        update_message=update.get("Message", ""),
        update_started_at=docker_time(update.get("StartedAt")),
        update_completed_at=docker_time(update.get("CompletedAt")),
        updated_at=docker_time(attrs.get("UpdatedAt")),
        template_changed=bool(previous) and _pruned(template) != _pruned(previous.get("TaskTemplate")),
    )


def _show(argv: Iterable[str]) -> str:
    return "docker " + " ".join(shlex.quote(str(arg)) for arg in argv)


# ------------------------------------------------------------------------------
# The engine
# ------------------------------------------------------------------------------
class Engine:
    """A Docker engine: the one DOCKER_HOST names (else the local socket), or the one at `base_url`."""

    def __init__(self, base_url: str | None = None, *, say: Callable[[str], None] = cli.say, timeout: float = 120):
        self.base_url = base_url
        self.timeout = timeout
        self._say = say

    def __repr__(self) -> str:
        return f"Engine({self.base_url or os.environ.get('DOCKER_HOST') or 'local'})"

    @functools.cached_property
    def client(self) -> docker.DockerClient:
        return self._connect(self.timeout)

    def _connect(self, timeout: float) -> docker.DockerClient:
        with self._errors(f"connecting to the Docker engine {self.base_url or ''}".rstrip()):
            if self.base_url:
                return docker.DockerClient(base_url=self.base_url, timeout=int(timeout))
            return docker.from_env(timeout=int(timeout))

    @property
    def api(self) -> docker.APIClient:
        return self.client.api

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except docker.errors.APIError as exc:
            raise EngineError(f"{what}: {exc.explanation or exc}") from exc
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise EngineError(f"{what}: {exc}") from exc

    def _run(self, argv: Sequence[str]) -> None:
        """Print the docker command equivalent to what is about to be done."""
        self._say(_show(argv))

    # --------------------------------------------------------------------------
    # Engine, swarm
    # --------------------------------------------------------------------------
    def info(self) -> dict:
        with self._errors("docker info"):
            return self.api.info()

    def answers(self) -> bool:
        try:
            self.info()
        except EngineError:
            return False
        return True

    def swarm_state(self) -> str:
        """ "inactive", "pending", "active", "error" or "locked"."""
        return self.info()["Swarm"]["LocalNodeState"]

    def is_manager(self) -> bool:
        return bool(self.info()["Swarm"].get("ControlAvailable"))

    def swarm_init(self, advertise_addr: str | None = None, listen_addr: str | None = None) -> None:
        flags = ["--advertise-addr", advertise_addr] * bool(advertise_addr) + ["--listen-addr", listen_addr] * bool(
            listen_addr
        )
        self._run(["swarm", "init", *flags])
        with self._errors("docker swarm init"):
            self.api.init_swarm(advertise_addr=advertise_addr, listen_addr=listen_addr or "0.0.0.0:2377")

    def swarm_join(self, token: str, manager: str, advertise_addr: str) -> None:
        self._run(["swarm", "join", "--token", "<worker token>", "--advertise-addr", advertise_addr, manager])
        with self._errors("docker swarm join"):
            self.api.join_swarm([manager], token, advertise_addr=advertise_addr)

    def swarm_leave(self) -> None:
        self._run(["swarm", "leave", "--force"])
        with self._errors("docker swarm leave"):
            self.api.leave_swarm(force=True)

    def worker_token(self) -> str:
        with self._errors("docker swarm join-token worker"):
            return self.api.inspect_swarm()["JoinTokens"]["Worker"]

    def nodes(self) -> list[Node]:
        with self._errors("docker node ls"):
            rows = self.api.nodes()
        return [
            Node(
                id=row["ID"],
                hostname=row["Description"]["Hostname"],
                role=row["Spec"]["Role"],
                status=row["Status"]["State"],
                availability=row["Spec"]["Availability"],
                leader=bool((row.get("ManagerStatus") or {}).get("Leader")),
                labels=row["Spec"].get("Labels") or {},
            )
            for row in rows
        ]

    def own_node_id(self) -> str:
        """The swarm node id of this engine."""
        return str(self.info()["Swarm"]["NodeID"])

    def node_role_set(self, node_id: str, role: str) -> None:
        """`docker node promote` (role "manager") or `docker node demote` ("worker")."""
        self._run(["node", "promote" if role == "manager" else "demote", node_id])
        with self._errors(f"docker node update --role {role} {node_id}"):
            row = self.api.inspect_node(node_id)
            self.api.update_node(node_id, row["Version"]["Index"], {**row["Spec"], "Role": role})

    def node_label_add(self, node_id: str, key: str, value: str) -> None:
        self._run(["node", "update", "--label-add", f"{key}={value}", node_id])
        with self._errors(f"docker node update --label-add {key}={value} {node_id}"):
            row = self.api.inspect_node(node_id)
            spec = {**row["Spec"], "Labels": {**(row["Spec"].get("Labels") or {}), key: value}}
            self.api.update_node(node_id, row["Version"]["Index"], spec)

    def node_remove(self, node_id: str) -> None:
        self._run(["node", "rm", "--force", node_id])
        with self._errors(f"docker node rm {node_id}"):
            self.api.remove_node(node_id, force=True)

    # --------------------------------------------------------------------------
    # Secrets, configs
    # --------------------------------------------------------------------------
    def secret_exists(self, name: str) -> bool:
        with self._errors("docker secret ls"):
            return any(s["Spec"]["Name"] == name for s in self.api.secrets(filters={"name": name}))

    def secret_create(self, name: str, data: str) -> None:
        self._run(["secret", "create", name, "-"])
        with self._errors(f"docker secret create {name}"):
            self.api.create_secret(name, data.encode())

    def secrets(self, prefix: str) -> list[str]:
        """Names of the secrets whose name starts with `prefix`."""
        with self._errors("docker secret ls"):
            names = [s["Spec"]["Name"] for s in self.api.secrets(filters={"name": prefix})]
        return [name for name in names if name.startswith(prefix)]

    def secret_remove(self, name: str) -> bool:
        """False while a service still uses it."""
        try:
            with self._errors(f"docker secret rm {name}"):
                self.api.remove_secret(name)
        except EngineError:
            return False
        self._run(["secret", "rm", name])
        return True

    def configs(self, labels: Mapping[str, str]) -> list[str]:
        with self._errors("docker config ls"):
            return [c["Spec"]["Name"] for c in self.api.configs(filters={"label": _labels(labels)})]

    def config_remove(self, name: str) -> bool:
        """False while a task still uses it."""
        try:
            with self._errors(f"docker config rm {name}"):
                self.api.remove_config(name)
        except EngineError:
            return False
        self._run(["config", "rm", name])
        return True

    # --------------------------------------------------------------------------
    # Services, tasks
    # --------------------------------------------------------------------------
    def services(self, labels: Mapping[str, str] | None = None) -> list[Service]:
        with self._errors("docker service ls"):
            rows = self.api.services(filters={"label": _labels(labels)} if labels else None)
        return sorted((_service(row) for row in rows), key=lambda s: s.name)

    def service(self, name: str) -> Service | None:
        with self._errors(f"docker service inspect {name}"):
            try:
                return _service(self.api.inspect_service(name))
            except docker.errors.NotFound:
                return None

    def inspect_service(self, name: str) -> dict | None:
        """`docker service inspect`, as the engine returns it; None when there is no such service."""
        with self._errors(f"docker service inspect {name}"):
            try:
                return self.api.inspect_service(name)
            except docker.errors.NotFound:
                return None

    def tasks(self, services: Sequence[str], *, desired_state: str | None = None) -> list[Task]:
        """Tasks of the named services (names or ids), newest first."""
        if not services:
            return []
        filters: dict[str, Any] = {"service": list(services)}
        if desired_state:
            filters["desired-state"] = desired_state
        with self._errors("docker service ps"):
            rows = self.api.tasks(filters=filters)
            services_of_rows = self.api.services(filters={"id": [r["ServiceID"] for r in rows]}) if rows else []
            names = {s["ID"]: s["Spec"]["Name"] for s in services_of_rows}
            hosts = {n["ID"]: n["Description"]["Hostname"] for n in self.api.nodes()} if rows else {}
        tasks = [
            Task(
                id=row["ID"],
                service=names.get(row["ServiceID"], row["ServiceID"]),
                slot=row.get("Slot"),
                node_id=row.get("NodeID", ""),
                node=hosts.get(row.get("NodeID", ""), ""),
                image=row["Spec"]["ContainerSpec"]["Image"].split("@")[0],
                desired_state=row["DesiredState"],
                state=row["Status"]["State"],
                error=row["Status"].get("Err", ""),
                container_id=(row["Status"].get("ContainerStatus") or {}).get("ContainerID", ""),
                timestamp=docker_time(row["Status"].get("Timestamp")),
            )
            for row in rows
        ]
        return sorted(tasks, key=lambda t: t.timestamp or dt.datetime.min.replace(tzinfo=dt.timezone.utc), reverse=True)

    def service_update(
        self,
        name: str,
        *,
        image: str | None = None,
        force: bool = False,
        update_parallelism: int | None = None,
        update_delay: float | None = None,
    ) -> None:
        """Like `docker service update --detach --no-resolve-image`: returns once the change is submitted."""
        flags = ["--detach", "--no-resolve-image"] + ["--force"] * force + ["--image", image] * bool(image)
        if update_parallelism is not None:
            flags += ["--update-parallelism", str(update_parallelism)]
        if update_delay is not None:
            flags += ["--update-delay", f"{update_delay:g}s"]
        self._run(["service", "update", *flags, name])

        def change(spec: dict) -> None:
            template = spec["TaskTemplate"]
            if image:
                template["ContainerSpec"]["Image"] = image
            if force:
                template["ForceUpdate"] = int(template.get("ForceUpdate", 0)) + 1
            update_config = spec.setdefault("UpdateConfig", {})
            if update_parallelism is not None:
                update_config["Parallelism"] = update_parallelism
            if update_delay is not None:
                update_config["Delay"] = int(update_delay * 1e9)

        self._change_spec(name, change, what=f"docker service update {name}")

    def service_scale(self, name: str, replicas: int) -> None:
        self._run(["service", "scale", "--detach", f"{name}={replicas}"])

        def change(spec: dict) -> None:
            spec["Mode"]["Replicated"]["Replicas"] = replicas

        self._change_spec(name, change, what=f"docker service scale {name}={replicas}")

    def _change_spec(self, name: str, change: Callable[[dict], None], *, what: str) -> None:
        """Send the service's current spec back with one change, as the CLI does.

        Only the change reaches the task template: a template that differs in any other way
        (even by a default spelled out) makes swarm replace every task.
        """
        with self._errors(what):
            current = self.api.inspect_service(name)
            spec = copy.deepcopy(current["Spec"])
            change(spec)
            self.api.update_service(
                current["ID"],
                current["Version"]["Index"],
                task_template=spec.get("TaskTemplate"),
                name=spec.get("Name"),
                labels=spec.get("Labels"),
                mode=spec.get("Mode"),
                update_config=spec.get("UpdateConfig"),
                rollback_config=spec.get("RollbackConfig"),
                endpoint_spec=spec.get("EndpointSpec"),
                fetch_current_spec=False,
            )

    def service_create(
        self,
        image: str,
        *,
        name: str,
        replicas: int,
        labels: Mapping[str, str],
        stop_grace_period: float,
        update_parallelism: int,
        update_delay: float,
        update_order: str,
    ) -> None:
        self._run(
            ["service", "create", "--detach", "--no-resolve-image", "--name", name]
            + [f"--label={k}={v}" for k, v in labels.items()]
            + ["--replicas", str(replicas), "--stop-grace-period", f"{stop_grace_period:g}s"]
            + ["--update-parallelism", str(update_parallelism), "--update-delay", f"{update_delay:g}s"]
            + ["--update-order", update_order, image]
        )
        with self._errors(f"docker service create {name}"):
            self.client.services.create(
                image,
                name=name,
                labels=dict(labels),
                mode=docker.types.ServiceMode("replicated", replicas=replicas),
                stop_grace_period=int(stop_grace_period * 1e9),
                update_config=docker.types.UpdateConfig(
                    parallelism=update_parallelism, delay=int(update_delay * 1e9), order=update_order
                ),
            )

    def service_remove(self, name: str) -> None:
        self._run(["service", "rm", name])
        with self._errors(f"docker service rm {name}"):
            self.api.remove_service(name)

    # --------------------------------------------------------------------------
    # Stacks: deployed with the CLI (the SDK has no compose), removed through the API
    # --------------------------------------------------------------------------
    def stack_deploy(
        self,
        compose_file: Path,
        stack: str,
        *,
        env: Mapping[str, str],
        registry_auth: bool,
        overrides: Sequence[Path] = (),
    ) -> list[str]:
        """`docker stack deploy --prune --resolve-image never`; its output lines. `overrides`: more
        compose files merged on top of the first, in order."""
        argv = ["stack", "deploy", "--prune", "--resolve-image", "never"]
        argv += ["--with-registry-auth"] * registry_auth
        if "--detach" in self._cli(["stack", "deploy", "--help"], env=os.environ):
            argv.append("--detach=true")
        for path in (compose_file, *overrides):
            argv += ["--compose-file", str(path)]
        argv.append(stack)
        self._run([str(arg).replace(str(Path.cwd()) + "/", "") for arg in argv])
        return self._cli(argv, env=env).splitlines()

    def _cli(self, argv: Sequence[str], *, env: Mapping[str, str]) -> str:
        environment = dict(env)
        if self.base_url:
            environment["DOCKER_HOST"] = self.base_url
        try:
            result = subprocess.run(["docker", *argv], capture_output=True, text=True, check=False, env=environment)
        except FileNotFoundError as exc:
            raise EngineError("the docker command line is not installed") from exc
        if result.returncode:
            raise EngineError(f"docker {' '.join(argv)} failed: {result.stderr.strip() or result.stdout.strip()}")
        return result.stdout

    def stacks(self) -> set[str]:
        return {s.labels[NAMESPACE_LABEL] for s in self.services() if NAMESPACE_LABEL in s.labels}

    def stack_remove(self, stack: str) -> None:
        """What `docker stack rm` does: the stack's services, then its secrets, configs and networks."""
        self._run(["stack", "rm", stack])
        label = {"label": _labels({NAMESPACE_LABEL: stack})}
        with self._errors(f"docker stack rm {stack}"):
            for service in self.api.services(filters=label):
                self.api.remove_service(service["ID"])
            for secret in self.api.secrets(filters=label):
                self.api.remove_secret(secret["ID"])
            for config in self.api.configs(filters=label):
                self.api.remove_config(config["ID"])
            for network in self.api.networks(filters=label):
                self.api.remove_network(network["Id"])

    # --------------------------------------------------------------------------
    # Containers
    # --------------------------------------------------------------------------
    def containers(
        self,
        labels: Mapping[str, str] | None = None,
        *,
        all: bool = False,
        status: str | None = None,
        health: str | None = None,
    ) -> list[Container]:
        filters: dict[str, Any] = {}
        if labels:
            filters["label"] = _labels(labels)
        if status:
            filters["status"] = status
        if health:
            filters["health"] = health
        with self._errors("docker ps"):
            rows = self.api.containers(all=all, filters=filters)
        return [
            Container(
                id=row["Id"],
                name=(row.get("Names") or ["/"])[0].lstrip("/"),
                state=row.get("State", ""),
                image_id=row.get("ImageID", ""),
                labels=row.get("Labels") or {},
            )
            for row in rows
        ]

    def inspect_container(self, name: str) -> dict | None:
        """`docker container inspect`, as the engine returns it; None when there is no such container."""
        with self._errors(f"docker container inspect {name}"):
            try:
                return self.api.inspect_container(name)
            except docker.errors.NotFound:
                return None

    def container_state(self, name: str) -> str | None:
        """'running', 'exited', ... or None when there is no such container."""
        attrs = self.inspect_container(name)
        return attrs["State"]["Status"] if attrs else None

    def container_health(self, name: str) -> str:
        """'starting', 'healthy', 'unhealthy', or '' without a healthcheck."""
        attrs = self.inspect_container(name) or {}
        return (attrs.get("State", {}).get("Health") or {}).get("Status", "")

    def published_port(self, name: str, target: str) -> int | None:
        """The host port a container publishes for `target` ("80/tcp"): the one it got while it
        runs (a random one too), else the one it is configured with; None when there is none."""
        attrs = self.inspect_container(name) or {}
        actual = ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).get(target) or []
        configured = ((attrs.get("HostConfig") or {}).get("PortBindings") or {}).get(target) or []
        ports = [int(b["HostPort"]) for b in (*actual, *configured) if b.get("HostPort")]
        return ports[0] if ports else None

    def run(
        self,
        image: str,
        command: Sequence[str] = (),
        *,
        name: str | None = None,
        hostname: str | None = None,
        network: str | None = None,
        ip: str | None = None,
        aliases: Sequence[str] = (),
        labels: Mapping[str, str] | None = None,
        publish: Sequence[tuple[str, int | None, int]] = (),
        volumes: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        user: str | None = None,
        init: bool = False,
        privileges: Privileges | None = None,
        entrypoint: str | None = None,
    ) -> str:
        """`docker run --detach`; the container's id.

        `publish`: (host address, host port or None for any free one, container port).
        """
        options = _RunOptions(
            name=name, hostname=hostname, network=network, ip=ip, aliases=aliases, labels=labels, publish=publish,
            volumes=volumes, env=env, user=user, init=init, privileges=privileges, entrypoint=entrypoint,
        )  # fmt: skip
        self._run(["run", "--detach", *options.flags(), image, *command])
        with self._errors(f"docker run {image}"):
            container_id = self._create(image, command, options)
            self.api.start(container_id)
        return container_id

    def run_to_end(
        self,
        image: str,
        command: Sequence[str] = (),
        *,
        network: str | None = None,
        volumes: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        user: str | None = None,
        privileges: Privileges | None = None,
        entrypoint: str | None = None,
        quiet: bool = False,
    ) -> ExecResult:
        """`docker run --rm`: wait for the command to end; its exit status and output.

        A container that cannot even start gives returncode 125 and the engine's reason, like the CLI.
        """
        options = _RunOptions(
            network=network, volumes=volumes, env=env, user=user, privileges=privileges, entrypoint=entrypoint
        )
        if not quiet:
            self._run(["run", "--rm", *options.flags(), image, *command])
        with self._errors(f"docker run {image}"):
            container_id = self._create(image, command, options)
        try:
            try:
                with self._errors(f"docker run {image}"):
                    self.api.start(container_id)
            except EngineError as exc:
                return ExecResult(125, "", str(exc))
            with self._errors(f"docker run {image}"):
                status = self.api.wait(container_id, timeout=None)["StatusCode"]
                stdout = self.api.logs(container_id, stdout=True, stderr=False).decode(errors="replace")
                stderr = self.api.logs(container_id, stdout=False, stderr=True).decode(errors="replace")
            return ExecResult(status, stdout, stderr)
        finally:
            with self._errors(f"docker rm {container_id[:12]}"):
                self.api.remove_container(container_id, force=True)

    def _create(self, image: str, command: Sequence[str], options: _RunOptions) -> str:
        host_config = self.api.create_host_config(**options.host_config())
        if options.privileges and options.privileges.system_paths_unconfined:
            host_config["MaskedPaths"] = []
            host_config["ReadonlyPaths"] = []
        networking_config = None
        if options.network and options.network != "host" and (options.ip or options.aliases):
            endpoint = self.api.create_endpoint_config(ipv4_address=options.ip, aliases=list(options.aliases) or None)
            networking_config = self.api.create_networking_config({options.network: endpoint})
        created = self.api.create_container(
            image,
            list(command) or None,
            name=options.name,
            hostname=options.hostname,
            user=options.user,
            environment=dict(options.env or {}) or None,
            labels=dict(options.labels or {}) or None,
            entrypoint=options.entrypoint,
            ports=[target for _, _, target in options.publish] or None,
            host_config=host_config,
            networking_config=networking_config,
        )
        return created["Id"]

    def exec(self, container: str, command: Sequence[str]) -> ExecResult:
        """`docker exec`: a command in a running container (reads only, so not printed)."""
        with self._errors(f"docker exec {container}"):
            code, (stdout, stderr) = self.client.containers.get(container).exec_run(list(command), demux=True)
        return ExecResult(code, (stdout or b"").decode(errors="replace"), (stderr or b"").decode(errors="replace"))

    def logs(self, container: str, *, tail: int) -> str:
        with self._errors(f"docker logs {container}"):
            return self.api.logs(container, tail=tail).decode(errors="replace")

    def container_cpu_seconds(self, container: str) -> float:
        """CPU time the container's cgroup has used so far (user and system), from the engine's stats."""
        with self._errors(f"docker stats {container}"):
            stats = self.api.stats(container, stream=False, one_shot=True)
        return int(stats["cpu_stats"]["cpu_usage"]["total_usage"]) / 1e9

    def start(self, container: str) -> None:
        self._run(["start", container])
        with self._errors(f"docker start {container}"):
            self.api.start(container)

    def kill(self, container: str) -> None:
        self._run(["kill", container])
        with self._errors(f"docker kill {container}"):
            self.api.kill(container)

    def stop(self, container: str, *, timeout: int) -> None:
        self._run(["stop", "--time", str(timeout), container])
        with self._errors(f"docker stop {container}"):
            self.api.stop(container, timeout=timeout)

    def remove_containers(self, containers: Sequence[str], *, force: bool = False, volumes: bool = False) -> None:
        if not containers:
            return
        self._run(["rm", *["--force"] * force, *["--volumes"] * volumes, *containers])
        for container in containers:
            with self._errors(f"docker rm {container}"), suppress(docker.errors.NotFound):
                self.api.remove_container(container, force=force, v=volumes)

    # --------------------------------------------------------------------------
    # Networks, volumes
    # --------------------------------------------------------------------------
    def network(self, name: str) -> Network | None:
        with self._errors(f"docker network inspect {name}"):
            try:
                attrs = self.api.inspect_network(name)
            except docker.errors.NotFound:
                return None
        subnets = tuple(c.get("Subnet", "") for c in (attrs.get("IPAM") or {}).get("Config") or [])
        return Network(attrs["Id"], attrs["Name"], attrs.get("Driver", ""), subnets)

    def networks(self, *, driver: str | None = None, labels: Mapping[str, str] | None = None) -> list[Network]:
        filters: dict[str, Any] = {}
        if driver:
            filters["driver"] = driver
        if labels:
            filters["label"] = _labels(labels)
        with self._errors("docker network ls"):
            rows = self.api.networks(filters=filters)
        return [Network(row["Id"], row["Name"], row.get("Driver", ""), ()) for row in rows]

    def network_create(self, name: str, *, subnet: str | None = None, labels: Mapping[str, str] | None = None) -> None:
        """A bridge network (with the given subnet, else one the engine picks)."""
        labels = labels or {}
        self._run(
            [
                "network",
                "create",
                "--driver",
                "bridge",
                *["--subnet", subnet] * bool(subnet),
                *_label_flags(labels),
                name,
            ]
        )
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)]) if subnet else None
        with self._errors(f"docker network create {name}"):
            self.api.create_network(name, driver="bridge", ipam=ipam, labels=dict(labels))

    def network_remove(self, name: str) -> None:
        self._run(["network", "rm", name])
        with self._errors(f"docker network rm {name}"):
            self.api.remove_network(name)

    def volumes(self, labels: Mapping[str, str] | None = None) -> list[str]:
        with self._errors("docker volume ls"):
            found = self.api.volumes(filters={"label": _labels(labels)} if labels else None)
        return sorted(v["Name"] for v in found.get("Volumes") or [])

    def volume_exists(self, name: str) -> bool:
        with self._errors(f"docker volume inspect {name}"):
            try:
                self.api.inspect_volume(name)
            except docker.errors.NotFound:
                return False
        return True

    def volume_remove(self, name: str) -> bool:
        """False while a container (one just removed, too) still holds it."""
        try:
            with self._errors(f"docker volume rm {name}"):
                self.api.remove_volume(name)
        except EngineError:
            return False
        self._run(["volume", "rm", name])
        return True

    # --------------------------------------------------------------------------
    # Images
    # --------------------------------------------------------------------------
    def image(self, ref: str) -> Image | None:
        with self._errors(f"docker image inspect {ref}"):
            try:
                attrs = self.api.inspect_image(ref)
            except docker.errors.ImageNotFound:
                return None
        return Image(
            id=attrs["Id"],
            size=int(attrs.get("Size") or 0),
            tags=tuple(attrs.get("RepoTags") or ()),
            digests=tuple(attrs.get("RepoDigests") or ()),
            labels=(attrs.get("Config") or {}).get("Labels") or {},
        )

    def images(self) -> list[Image]:
        with self._errors("docker images"):
            rows = self.api.images()
        return [
            Image(
                row["Id"],
                int(row.get("Size") or 0),
                tuple(row.get("RepoTags") or ()),
                tuple(row.get("RepoDigests") or ()),
                row.get("Labels") or {},
            )
            for row in rows
        ]

    def registry_digest(self, ref: str, *, timeout: float) -> RegistryAnswer:
        """What the registry says of `ref`, asked through this engine (`docker manifest inspect`
        without the CLI): the engine applies its registry mirrors and credentials, as for a pull."""
        client = self._connect(timeout)
        try:
            attrs = client.api.inspect_distribution(ref)
        except docker.errors.APIError as exc:
            reason = _registry_reason(str(exc.explanation or exc))
            # 4xx: the registry answered (unknown name, denied); 5xx: the engine could not reach it.
            if exc.status_code is not None and 400 <= exc.status_code < 500:
                return RegistryAnswer(ref, refused=reason)
            return RegistryAnswer(ref, unreachable=reason)
        except requests.exceptions.RequestException as exc:
            return RegistryAnswer(ref, unreachable=f"no answer within {timeout:.0f}s ({type(exc).__name__})")
        finally:
            client.close()
        return RegistryAnswer(ref, digest=str((attrs.get("Descriptor") or {}).get("digest", "")))

    def pull(self, ref: str, *, timeout: float, progress: Callable[[dict], None] | None = None) -> None:
        """`docker pull`: every message of the engine's progress goes to `progress`; given up only
        after `timeout` seconds without any message (a stalled pull, not a slow one)."""
        self._run(["pull", *["--quiet"] * (progress is None), ref])
        client = self._connect(timeout)
        repository, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
        with self._errors(f"docker pull {ref}"):
            try:
                for message in client.api.pull(repository, tag=tag, stream=True, decode=True):
                    if message.get("error"):
                        raise EngineError(f"docker pull {ref}: {message['error']}")
                    if progress:
                        progress(message)
            except requests.exceptions.RequestException as exc:
                raise EngineError(f"docker pull {ref}: no progress for {timeout:.0f}s ({type(exc).__name__})") from exc
            finally:
                client.close()

    def tag(self, source: str, target: str) -> None:
        self._run(["tag", source, target])
        repository, _, tag = target.rpartition(":")
        with self._errors(f"docker tag {source} {target}"):
            self.api.tag(source, repository, tag)

    def push(self, ref: str) -> None:
        self._run(["push", "--quiet", ref])
        repository, _, tag = ref.rpartition(":")
        with self._errors(f"docker push {ref}"):
            for line in self.api.push(repository, tag=tag, stream=True, decode=True):
                if line.get("error"):
                    raise EngineError(f"docker push {ref}: {line['error']}")

    def image_copy(self, ref: str, other: Engine) -> None:
        """`docker save ref | docker load` into another engine (one without a registry in common)."""
        self._run(["save", ref])
        with self._errors(f"docker save {ref} | docker load"):
            other.api.load_image(self.api.get_image(ref))

    def image_remove(self, ref: str) -> None:
        self._run(["image", "rm", ref])
        with self._errors(f"docker image rm {ref}"):
            self.api.remove_image(ref)

    def build(
        self,
        *,
        context: Path,
        dockerfile: Path,
        tag: str,
        build_args: Mapping[str, str],
        labels: Mapping[str, str] | None = None,
        no_cache: bool = False,
        output: Callable[[str], None],
    ) -> str:
        """`docker build` (the classic builder); every line of its log goes to `output`. The image's id."""
        argv = ["build", "--file", str(dockerfile), "--tag", tag, *["--no-cache"] * no_cache]
        argv += [f"--build-arg={k}={v}" for k, v in build_args.items()] + _label_flags(labels or {})
        output(_show([*argv, str(context)]) + "\n")
        image_id = ""
        with self._errors(f"docker build of {tag}"):
            for chunk in self.api.build(
                path=str(context),
                dockerfile=str(dockerfile.relative_to(context) if dockerfile.is_relative_to(context) else dockerfile),
                tag=tag,
                buildargs=dict(build_args),
                labels=dict(labels or {}),
                nocache=no_cache,
                rm=True,
                decode=True,
            ):
                if "stream" in chunk:
                    output(chunk["stream"])
                if "aux" in chunk:
                    image_id = chunk["aux"].get("ID", image_id)
                if "error" in chunk:
                    output(chunk["error"] + "\n")
                    raise EngineError(chunk["error"].strip())
        return image_id

    def import_image(self, tarball: IO[bytes], ref: str, *, changes: Sequence[str]) -> None:
        """`docker import`: a root filesystem (a tar stream) as an image."""
        self._run(["import", *[f"--change={change}" for change in changes], "-", ref])
        repository, _, tag = ref.rpartition(":")
        with self._errors(f"docker import {ref}"):
            for line in self.api.import_image(
                src=iter(lambda: tarball.read(1 << 20), b""),
                repository=repository,
                tag=tag,
                changes=list(changes),
                stream_src=True,
            ).splitlines():
                if '"error"' in line:
                    raise EngineError(line)


def _registry_reason(explanation: str) -> str:
    """The engine's reason without the URL it tried: `Get "https://.../v2/": dial tcp: lookup x: no such host`."""
    return explanation.split('": ', 1)[-1].strip() if explanation.startswith("Get ") else explanation.strip()


def _labels(labels: Mapping[str, str]) -> list[str]:
    """Label filters; an empty value matches any value of that label."""
    return [f"{key}={value}" if value else key for key, value in labels.items()]


def _label_flags(labels: Mapping[str, str]) -> list[str]:
    return [f"--label={key}={value}" if value else f"--label={key}" for key, value in labels.items()]


@dataclasses.dataclass(frozen=True)
class _RunOptions:
    """One `docker run`: the CLI flags to show, and the Engine API's container and host config."""

    name: str | None = None
    hostname: str | None = None
    network: str | None = None
    ip: str | None = None
    aliases: Sequence[str] = ()
    labels: Mapping[str, str] | None = None
    publish: Sequence[tuple[str, int | None, int]] = ()
    volumes: Sequence[str] = ()
    env: Mapping[str, str] | None = None
    user: str | None = None
    init: bool = False
    privileges: Privileges | None = None
    entrypoint: str | None = None

    def flags(self) -> list[str]:
        flags: list[str] = []
        for flag, value in (("--name", self.name), ("--hostname", self.hostname), ("--user", self.user)):
            if value:
                flags += [flag, value]
        flags += ["--init"] * self.init + _label_flags(self.labels or {})
        if self.network:
            flags += ["--network", self.network] + ["--ip", self.ip] * bool(self.ip)
            flags += [f"--network-alias={alias}" for alias in self.aliases]
        flags += self.privileges.flags() if self.privileges else []
        flags += [f"--volume={volume}" for volume in self.volumes]
        flags += [f"--env={key}={value}" for key, value in (self.env or {}).items()]
        flags += [f"--publish={address}:{port or ''}:{target}" for address, port, target in self.publish]
        return flags + (["--entrypoint", self.entrypoint] if self.entrypoint else [])

    def host_config(self) -> dict[str, Any]:
        options: dict[str, Any] = self.privileges.host_config() if self.privileges else {}
        if self.init:
            options["init"] = True
        if self.network:
            options["network_mode"] = self.network
        if self.volumes:
            options["binds"] = list(self.volumes)
        if self.publish:
            options["port_bindings"] = {target: (address, port) for address, port, target in self.publish}
        return options


@functools.cache
def local() -> Engine:
    """The engine DOCKER_HOST names, else the local socket: the one a plain `docker` command talks to."""
    return Engine()
