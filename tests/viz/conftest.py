"""viz under gunicorn against real or stand-in engines, a single-node swarm, and a test service of our own.

The swarm fixture initialises a swarm only when none is active, and leaves it only if it made
it. Our services are named viztest-<random>; nothing else on the swarm is touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.processes import Gunicorn, wait_until
from tests.viz.engines import REAL_ENGINE_SOCKET, FakeEngine, RecordingProxy

TEST_IMAGE = "viztest/sleeper"
# Local images that carry a shell and `sleep`, best first; nothing can be pulled here.
BASE_CANDIDATES = ("offline/python", "python", "demo/customers", "debian", "busybox", "alpine")


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=check)


def engine_answers() -> bool:
    if not shutil.which("docker") or not os.path.exists(REAL_ENGINE_SOCKET):
        return False
    return docker("info", "--format", "{{.ServerVersion}}", check=False).returncode == 0


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
    state = docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()
    created = False
    if state == "inactive":
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
        created = True
    elif state != "active":
        pytest.skip(f"this engine's swarm is {state!r}")
    yield
    if created:
        docker("swarm", "leave", "--force")


def _base_image() -> str:
    local = docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
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
        dockerfile = (
            f"FROM {base}\n"
            f'LABEL viztest="1" org.opencontainers.image.version="{version}"\n'
            'ENTRYPOINT []\nCMD ["sleep", "infinity"]\n'
            'HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD ["sleep", "0"]\n'
        )
        subprocess.run(
            ["docker", "build", "-q", "-t", image, "-"], input=dockerfile, text=True, capture_output=True, check=True
        )
    yield images
    docker("rmi", *images.values(), check=False)


@dataclass
class ServiceUnderTest:
    name: str
    images: dict[str, str]

    def ps(self) -> list[dict[str, str]]:
        """`docker service ps` of the tasks meant to run: what viz must agree with."""
        lines = docker(
            "service", "ps", self.name, "--no-trunc", "--filter", "desired-state=running", "--format", "{{json .}}"
        ).stdout.splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def running_count(self) -> int:
        return sum(1 for task in self.ps() if task["CurrentState"].startswith("Running"))

    def wait_running(self, count: int, timeout: float = 60) -> None:
        wait_until(lambda: self.running_count() == count, timeout=timeout, what=f"{count} running tasks of {self.name}")

    def scale(self, replicas: int) -> None:
        docker("service", "scale", "--detach", f"{self.name}={replicas}")


@pytest.fixture(scope="module")
def test_service(test_images: dict[str, str]) -> Iterator[ServiceUnderTest]:
    name = f"viztest-{uuid.uuid4().hex[:8]}"
    docker(
        "service", "create", "--detach", "--no-resolve-image", "--name", name, "--label", "viztest=1",
        "--replicas", "2", "--stop-grace-period", "1s",
        "--update-parallelism", "1", "--update-delay", "30s", "--update-order", "start-first",
        test_images["v1"],
    )  # fmt: skip
    service = ServiceUnderTest(name=name, images=test_images)
    try:
        service.wait_running(2)
        yield service
    finally:
        docker("service", "rm", name, check=False)
        # The containers go asynchronously; wait so the images can be removed afterwards.
        leftovers = ("ps", "-aq", "--filter", f"label=com.docker.swarm.service.name={name}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and docker(*leftovers).stdout.strip():
            time.sleep(0.5)


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
