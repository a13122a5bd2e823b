"""viz under gunicorn against real or stand-in engines, a single-node swarm, and a test service of our own.

The swarm fixture initialises a swarm only when none is active, and leaves it only if it made
it. Our services are named viztest-<random>; nothing else on the swarm is touched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from common.waiting import wait_until
from ops import engine
from ops.engine import SERVICE_NAME_LABEL, EngineError, Task
from tests.processes import Gunicorn
from tests.viz.engines import REAL_ENGINE_SOCKET, FakeEngine, RecordingProxy

TEST_IMAGE = "viztest/sleeper"
# Local images that carry a shell and `sleep`, best first; nothing can be pulled here.
BASE_CANDIDATES = ("offline/python", "python", "demo/customers", "debian", "busybox", "alpine")


def engine_answers() -> bool:
    return os.path.exists(REAL_ENGINE_SOCKET) and engine.local().answers()


def start_viz(docker_host: str, **env: str) -> Gunicorn:
    server = Gunicorn("viz", {"DOCKER_HOST": docker_host, "VIZ_SNAPSHOT_TTL": "0.5", "WEB_CONCURRENCY": "1", **env})
    server.start()
    return server


@pytest.fixture
def viz_factory() -> Iterator[Callable[..., Gunicorn]]:
    started: list[Gunicorn] = []

    def factory(docker_host: str, **env: str) -> Gunicorn:
        server = start_viz(docker_host, **env)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def recording_proxy() -> Iterator[RecordingProxy]:
    if not engine_answers():
        pytest.skip("no Docker engine answers on /var/run/docker.sock")
    proxy = RecordingProxy()
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def fake_engine() -> Iterator[FakeEngine]:
    engine = FakeEngine()
    engine.start()
    yield engine
    engine.stop()


# ------------------------------------------------------------------------------
# Swarm
# ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def swarm() -> Iterator[None]:
    if not engine_answers():
        pytest.skip("no Docker engine answers on /var/run/docker.sock")
    state = engine.local().swarm_state()
    created = False
    if state == "inactive":
        engine.local().swarm_init("127.0.0.1")
        created = True
    elif state != "active":
        pytest.skip(f"this engine's swarm is {state!r}")
    yield
    if created:
        engine.local().swarm_leave()


def _base_image() -> str:
    local = [tag for image in engine.local().images() for tag in image.tags]
    for candidate in BASE_CANDIDATES:
        for image in local:
            if image.split(":", 1)[0] == candidate:
                return image
    pytest.skip(f"no local image to build the test image from (one of {', '.join(BASE_CANDIDATES)})")


@pytest.fixture(scope="session")
def test_images(swarm: None) -> Iterator[dict[str, str]]:
    """viztest/sleeper:v1 and :v2: sleep forever, healthy after a second, built from a local image."""
    base = _base_image()
    tag = uuid.uuid4().hex[:6]
    images = {version: f"{TEST_IMAGE}:{version}-{tag}" for version in ("v1", "v2")}
    for version, image in images.items():
        with tempfile.TemporaryDirectory(prefix="viztest-") as context:
            dockerfile = Path(context) / "Dockerfile"
            dockerfile.write_text(
                f"FROM {base}\n"
                f'LABEL viztest="1" org.opencontainers.image.version="{version}"\n'
                'ENTRYPOINT []\nCMD ["sleep", "infinity"]\n'
                'HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD ["sleep", "0"]\n'
            )
            engine.local().build(
                context=Path(context), dockerfile=dockerfile, tag=image, build_args={}, output=lambda line: None
            )
    yield images
    for image in images.values():
        with contextlib.suppress(EngineError):
            engine.local().image_remove(image)


@dataclass
class ServiceUnderTest:
    name: str
    images: dict[str, str]

    def ps(self) -> list[Task]:
        """`docker service ps` of the tasks meant to run: what viz must agree with."""
        return engine.local().tasks([self.name], desired_state="running")

    def running_count(self) -> int:
        return sum(1 for task in self.ps() if task.state == "running")

    def wait_running(self, count: int, timeout: float = 60) -> None:
        wait_until(
            f"{count} running tasks of {self.name}",
            lambda: self.running_count() == count,
            timeout=timeout,
            interval=0.05,
        )

    def scale(self, replicas: int) -> None:
        engine.local().service_scale(self.name, replicas)


@pytest.fixture(scope="module")
def test_service(test_images: dict[str, str]) -> Iterator[ServiceUnderTest]:
    name = f"viztest-{uuid.uuid4().hex[:8]}"
    engine.local().service_create(
        test_images["v1"],
        name=name,
        replicas=2,
        labels={"viztest": "1"},
        stop_grace_period=1,
        update_parallelism=1,
        update_delay=30,
        update_order="start-first",
    )
    service = ServiceUnderTest(name=name, images=test_images)
    try:
        service.wait_running(2)
        yield service
    finally:
        with contextlib.suppress(EngineError):
            engine.local().service_remove(name)
        # The containers go asynchronously; wait so the images can be removed afterwards.
        with contextlib.suppress(TimeoutError):
            wait_until(
                f"the containers of {name} to go",
                lambda: not engine.local().containers({SERVICE_NAME_LABEL: name}, all=True),
                timeout=30,
                interval=0.5,
            )


@pytest.fixture(scope="module")
def swarm_viz(swarm: None) -> Iterator[Gunicorn]:
    server = start_viz(f"unix://{REAL_ENGINE_SOCKET}")
    yield server
    server.stop()


def viz_state(server: Gunicorn) -> dict:
    response = requests.get(f"{server.url}/api/state", timeout=5)
    response.raise_for_status()
    return response.json()


def service_tasks(state: dict, service: str, *, active_only: bool = True) -> list[dict]:
    """The service's task cards as viz shows them, each with the hostname of its node column."""
    active = {"new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running"}
    found = []
    for node in state["nodes"]:
        for task in node["tasks"]:
            if task["service"] == service and (task["state"] in active or not active_only):
                found.append({**task, "hostname": node["hostname"]})
    return found
