"""The swarm as viz shows it: nodes with their tasks, services, built from one round of engine reads.

One round (info, nodes, services, tasks, task containers) happens at most once per
VIZ_SNAPSHOT_TTL seconds per process, whatever the number of browsers polling: concurrent
requests wait for the round in flight and share its result (or its error).

Health: a task's container can only be inspected on the engine viz reads (the manager it runs
on), so tasks on that node get the container's own health (healthy, unhealthy, starting, none).
Tasks on other nodes get "unknown" and the UI shows their task state instead; that state still
tells most of the story, because swarm keeps a task with a healthcheck in "starting" until the
check first passes and replaces a container that turns unhealthy (the old task ends "failed").
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
import zlib
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from viz import engine

ACTIVE_STATES = ("new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running")
# How many colours the page has for versions (viz.css .v0 ... .v7).
VERSION_COLOURS = 8
STACK_NAMESPACE_LABEL = "com.docker.stack.namespace"


@dataclasses.dataclass(frozen=True)
class Task:
    id: str
    service: str
    slot: int | None
    image: str
    version: str
    version_colour: int
    state: str
    desired_state: str
    message: str
    health: str
    container_id: str | None
    updated_at: str

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


@dataclasses.dataclass(frozen=True)
class Node:
    id: str
    hostname: str
    role: str
    availability: str
    state: str
    engine_version: str
    address: str
    leader: bool
    tasks: list[Task]


@dataclasses.dataclass(frozen=True)
class Service:
    name: str
    replicas: int | None
    running: int
    image: str
    version: str
    version_colour: int
    mode: str
    update_state: str | None


@dataclasses.dataclass(frozen=True)
class Snapshot:
    nodes: list[Node]
    services: list[Service]
    unassigned: list[Task]
    recent_ended_seconds: float
    generated_at: str

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def image_without_digest(image: str) -> str:
    return image.split("@", 1)[0]


def image_tag(image: str) -> str:
    name = image_without_digest(image)
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def version_colour(version: str) -> int:
    """A stable colour per version; v1, v2, v3... always get neighbouring, distinct colours."""
    numbered = re.fullmatch(r"v?(\d+)(?:\D.*)?", version)
    if numbered:
        return (int(numbered.group(1)) - 1) % VERSION_COLOURS
    return zlib.crc32(version.encode()) % VERSION_COLOURS


def _env_value(env: list[str] | None, name: str) -> str | None:
    for item in env or ():
        key, _, value = item.partition("=")
        if key == name and value:
            return value
    return None


def _short_name(spec: dict[str, Any]) -> str:
    name = spec.get("Name", "?")
    namespace = (spec.get("Labels") or {}).get(STACK_NAMESPACE_LABEL)
    if namespace and name.startswith(f"{namespace}_"):
        return name[len(namespace) + 1 :]
    return name


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _health_from_status(status: str) -> str:
    """The health docker prints in a container's status line ("Up 3 minutes (healthy)")."""
    for marker, health in (("(healthy)", "healthy"), ("(unhealthy)", "unhealthy"), ("(health: starting)", "starting")):
        if marker in status:
            return health
    return "none"


def _task(raw: dict[str, Any], service_names: dict[str, str], local_health: dict[str, str], local: bool) -> Task:
    container_spec = raw.get("Spec", {}).get("ContainerSpec", {})
    image = image_without_digest(container_spec.get("Image", ""))
    version = _env_value(container_spec.get("Env"), "SERVICE_VERSION") or image_tag(image)
    status = raw.get("Status", {})
    container_id = (status.get("ContainerStatus") or {}).get("ContainerID") or None
    state = status.get("State", "unknown")
    if local and state in ACTIVE_STATES:
        health = local_health.get(raw["ID"], "none" if state == "running" else "unknown")
    else:
        health = "unknown"
    return Task(
        id=raw["ID"],
        service=service_names.get(raw.get("ServiceID", ""), raw.get("ServiceID", "?")[:12]),
        slot=raw.get("Slot"),
        image=image,
        version=version,
        version_colour=version_colour(version),
        state=state,
        desired_state=raw.get("DesiredState", "unknown"),
        message=status.get("Err") or status.get("Message", ""),
        health=health,
        container_id=container_id,
        updated_at=raw.get("UpdatedAt", ""),
    )


def _shown(task: Task, now: datetime, recent_seconds: float) -> bool:
    """Active tasks, and ended ones for a few seconds so a killed container is seen going."""
    if task.active:
        return True
    updated = _parse_time(task.updated_at)
    return updated is not None and (now - updated).total_seconds() <= recent_seconds


def _service(raw: dict[str, Any]) -> Service:
    spec = raw.get("Spec", {})
    container_spec = spec.get("TaskTemplate", {}).get("ContainerSpec", {})
    image = image_without_digest(container_spec.get("Image", ""))
    version = _env_value(container_spec.get("Env"), "SERVICE_VERSION") or image_tag(image)
    mode = spec.get("Mode", {})
    replicated = "Replicated" in mode
    return Service(
        name=_short_name(spec),
        replicas=mode["Replicated"].get("Replicas", 1) if replicated else None,
        running=(raw.get("ServiceStatus") or {}).get("RunningTasks", 0),
        image=image,
        version=version,
        version_colour=version_colour(version),
        mode="replicated" if replicated else "global",
        update_state=(raw.get("UpdateStatus") or {}).get("State"),
    )


def _sort_key(task: Task) -> tuple:
    return (task.service, task.slot if task.slot is not None else -1, not task.active, task.updated_at)


def snapshot_build() -> Snapshot:
    """One round of engine reads turned into the picture."""
    info = engine.engine_info()
    raw_nodes = engine.nodes_list()
    raw_services = engine.services_list()
    raw_tasks = engine.tasks_list()
    local_node_id = (info.get("Swarm") or {}).get("NodeID", "")
    local_health = {
        container["Labels"][engine.TASK_ID_LABEL]: _health_from_status(container.get("Status", ""))
        for container in engine.task_containers_list()
        if engine.TASK_ID_LABEL in (container.get("Labels") or {})
    }
    service_names = {raw["ID"]: _short_name(raw.get("Spec", {})) for raw in raw_services}
    now = datetime.now(UTC)
    recent = settings.VIZ_ENDED_TASK_SECONDS

    tasks_by_node: dict[str, list[Task]] = {}
    for raw in raw_tasks:
        node_id = raw.get("NodeID", "")
        task = _task(raw, service_names, local_health, local=node_id == local_node_id)
        if _shown(task, now, recent):
            tasks_by_node.setdefault(node_id, []).append(task)

    nodes = []
    for raw in raw_nodes:
        description = raw.get("Description", {})
        nodes.append(
            Node(
                id=raw["ID"],
                hostname=description.get("Hostname", raw["ID"][:12]),
                role=raw.get("Spec", {}).get("Role", "?"),
                availability=raw.get("Spec", {}).get("Availability", "?"),
                state=raw.get("Status", {}).get("State", "unknown"),
                engine_version=description.get("Engine", {}).get("EngineVersion", ""),
                address=raw.get("Status", {}).get("Addr", ""),
                leader=bool((raw.get("ManagerStatus") or {}).get("Leader")),
                tasks=sorted(tasks_by_node.pop(raw["ID"], []), key=_sort_key),
            )
        )
    nodes.sort(key=lambda node: (node.role != "manager", node.hostname))
    # Tasks not placed yet (no node can take them) or on a node that just left the swarm.
    unassigned = sorted((task for tasks in tasks_by_node.values() for task in tasks), key=_sort_key)
    return Snapshot(
        nodes=nodes,
        services=sorted((_service(raw) for raw in raw_services), key=lambda service: service.name),
        unassigned=unassigned,
        recent_ended_seconds=recent,
        generated_at=now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    )


class _SnapshotCache:
    """The last round's result (snapshot or engine error), shared by all threads for a short while."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken_at = float("-inf")
        # A snapshot, or the engine error's message (re-raised fresh, so tracebacks do not pile up).
        self._result: Snapshot | str | None = None

    def get(self) -> Snapshot:
        with self._lock:
            if self._result is None or time.monotonic() - self._taken_at >= settings.VIZ_SNAPSHOT_TTL:
                try:
                    self._result = snapshot_build()
                except engine.EngineUnavailable as exc:
                    self._result = exc.message
                self._taken_at = time.monotonic()
            result = self._result
        if isinstance(result, str):
            raise engine.EngineUnavailable(result)
        return result

    def clear(self) -> None:
        with self._lock:
            self._result = None


snapshot_cache = _SnapshotCache()


def snapshot_get() -> Snapshot:
    return snapshot_cache.get()
