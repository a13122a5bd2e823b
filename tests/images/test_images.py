"""The image tooling: how it reads the host's apt sources and what it builds; with a Docker
engine (-m swarm), a real customers image next to a real Redis image."""

import json
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from ops import images


def test_mirror_comes_from_deb822_sources_skipping_disabled_and_security(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://disabled.invalid/debian\nSuites: bookworm\nEnabled: no\n\n"
        "Types: deb deb-src\n# a comment\nURIs: http://mirror.invalid/debian/\nSuites: bookworm bookworm-updates\n"
    )

    source = images.host_apt_source(etc_apt=tmp_path)

    assert source.mirror == "http://mirror.invalid/debian"


def test_mirror_comes_from_one_line_sources_with_options(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.invalid/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm main\n"
    )

    assert images.host_apt_source(etc_apt=tmp_path).mirror == "http://mirror.invalid/debian"


def test_no_mirror_for_the_suite_asks_for_one(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text("deb http://mirror.invalid/debian trixie main\n")

    with pytest.raises(images.BuildError, match="--mirror"):
        images.host_apt_source(etc_apt=tmp_path)
    assert images.host_apt_source(etc_apt=tmp_path, mirror_override="http://x.invalid/d").mirror == "http://x.invalid/d"


def test_every_django_service_uses_the_one_dockerfile_with_its_settings() -> None:
    bases = {"python": "py:test", "redis": "redis:test", "nginx": "nginx:test"}
    for service in images.DJANGO_SERVICES:
        spec = images.image_spec(service, "v7", bases)
        assert spec.dockerfile == images.REPO / "docker/Dockerfile"
        assert spec.build_args == {"PYTHON_IMAGE": "py:test", "SERVICE": service, "SERVICE_VERSION": "v7"}
    assert images.image_spec("redis", "v7", bases).build_args == {"REDIS_IMAGE": "redis:test"}
    assert images.image_spec("gateway", "v7", bases).build_args == {"NGINX_IMAGE": "nginx:test"}


def test_public_base_names_come_from_the_dockerfiles() -> None:
    assert images.BASES["python"].public == "python:3.11-slim-bookworm"
    assert images.BASES["redis"].public == "redis:7-bookworm"


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout.strip()


def _wait_healthy(container: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _docker("inspect", "--format", "{{.State.Health.Status}}", container)
        if status == "healthy":
            return
        assert status != "unhealthy", _docker("inspect", "--format", "{{json .State.Health.Log}}", container)
        time.sleep(1)
    raise AssertionError(f"{container} not healthy after {timeout}s")


@pytest.mark.swarm
def test_customers_image_serves_as_non_root_and_stops_gracefully() -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    registry = "imagetest"
    command = [sys.executable, "-m", "ops.images", "build", "--registry", registry, "--tag", tag]
    command += ["--service", "customers", "--service", "redis"]
    assert subprocess.run(command, cwd=images.REPO, check=False).returncode == 0
    network = f"imagetest-{tag}"
    container_redis, container_app = f"{network}-redis", f"{network}-customers"
    _docker("network", "create", network)
    try:
        _docker("run", "-d", "--name", container_redis, "--network", network, f"{registry}/redis:{tag}")
        _docker(
            "run", "-d", "--name", container_app, "--network", network, "-p", "127.0.0.1::8000",
            "-e", "SECRET_KEY=image-test-only", "-e", f"REDIS_URL=redis://{container_redis}:6379/0",
            f"{registry}/customers:{tag}",
        )  # fmt: skip
        _wait_healthy(container_redis)
        _wait_healthy(container_app)
        port = _docker("port", container_app, "8000/tcp").splitlines()[0].rsplit(":", 1)[1]

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
            assert response.headers["X-Service-Version"] == tag
            assert json.loads(response.read())["status"] == "ok"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            assert response.status == 200
        assert _docker("exec", container_app, "id", "-u") != "0"
        assert _docker("exec", container_redis, "id", "-u") != "0"
        assert "gunicorn" in _docker("exec", container_app, "cat", "/proc/1/cmdline")

        started = time.monotonic()
        _docker("stop", "--time", "30", container_app)
        assert time.monotonic() - started < 15
        assert _docker("inspect", "--format", "{{.State.ExitCode}}", container_app) == "0"
    finally:
        subprocess.run(["docker", "rm", "-f", container_app, container_redis], capture_output=True, check=False)
        subprocess.run(["docker", "network", "rm", network], capture_output=True, check=False)
        subprocess.run(
            ["docker", "rmi", f"{registry}/customers:{tag}", f"{registry}/redis:{tag}"],
            capture_output=True,
            check=False,
        )
