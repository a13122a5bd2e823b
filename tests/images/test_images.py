"""The image tooling: how it reads the host's apt sources and what it builds; with a Docker
engine (-m swarm), a real customers image next to a real Redis image."""

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from common.waiting import wait_until
from ops import bases, engine, images
from ops.services import DJANGO_SERVICES


def test_mirror_comes_from_deb822_sources_skipping_disabled_and_security(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://disabled.invalid/debian\nSuites: bookworm\nEnabled: no\n\n"
        "Types: deb deb-src\n# a comment\nURIs: http://mirror.invalid/debian/\nSuites: bookworm bookworm-updates\n"
    )

    source = bases.host_apt_source(etc_apt=tmp_path)

    assert source.mirror == "http://mirror.invalid/debian"


def test_mirror_comes_from_one_line_sources_with_options(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.invalid/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm main\n"
    )

    assert bases.host_apt_source(etc_apt=tmp_path).mirror == "http://mirror.invalid/debian"


def test_an_older_release_comes_from_the_hosts_mirror_and_update_archives(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "deb http://mirror.invalid/debian bookworm main\n"
        "deb http://mirror.invalid/debian bookworm-updates main\n"
        "deb http://mirror.invalid/debian-security bookworm-security main\n"
    )

    source = bases.host_apt_source("bullseye", etc_apt=tmp_path)

    assert source.mirror == "http://mirror.invalid/debian"
    assert source.updates == (
        ("http://mirror.invalid/debian", "bullseye-updates"),
        ("http://mirror.invalid/debian-security", "bullseye-security"),
    )


def test_no_mirror_for_the_suite_asks_for_one(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text("deb http://mirror.invalid/debian trixie main\n")

    with pytest.raises(bases.BuildError, match="--mirror"):
        bases.host_apt_source(etc_apt=tmp_path)
    assert bases.host_apt_source(etc_apt=tmp_path, mirror_override="http://x.invalid/d").mirror == "http://x.invalid/d"


def test_every_django_service_uses_the_one_dockerfile_with_its_settings() -> None:
    bases = {"python": "py:test", "redis": "redis:test", "nginx": "nginx:test"}
    for service in DJANGO_SERVICES:
        spec = images.image_spec(service, "v7", bases)
        assert spec.dockerfile == images.REPO / "docker/Dockerfile"
        assert spec.build_args == {"PYTHON_IMAGE": "py:test", "SERVICE": service, "SERVICE_VERSION": "v7"}
    assert images.image_spec("redis", "v7", bases).build_args == {"REDIS_IMAGE": "redis:test"}
    assert images.image_spec("gateway", "v7", bases).build_args == {"NGINX_IMAGE": "nginx:test"}


def test_public_base_names_come_from_the_dockerfiles() -> None:
    assert bases.BASES["python"].public == "python:3.11-slim-bookworm"
    assert bases.BASES["redis"].public == "redis:7-bookworm"


NO_HUB = "dial tcp: lookup registry-1.docker.io: no such host"


def test_when_the_registry_does_not_answer_the_offline_bases_are_chosen_with_one_line_saying_why() -> None:
    probes = [bases.Probe("python:3.11-slim-bookworm", unreachable=NO_HUB), bases.Probe("redis:7-bookworm", local=True)]

    path = bases.choose_path(probes)

    assert not path.official
    assert path.line == f"bases: offline Debian-built bases (registry does not answer: {NO_HUB})"


def test_when_the_registry_answers_the_official_images_are_chosen_with_one_line_naming_them() -> None:
    probes = [
        bases.Probe("python:3.11-slim-bookworm", digest="sha256:1"),
        bases.Probe("nginx:1.28-bookworm", digest="sha256:2"),
        bases.Probe("redis:7-bookworm", local=True),
    ]

    path = bases.choose_path(probes)

    assert path.official
    assert path.line == (
        "bases: official images (registry answers: python:3.11-slim-bookworm, nginx:1.28-bookworm; "
        "local: redis:7-bookworm)"
    )


def test_a_registry_that_answers_without_an_image_is_an_error_naming_it_not_a_switch() -> None:
    probes = [
        bases.Probe("python:3.11-slim-bookworm", digest="sha256:1"),
        bases.Probe("nginx:1.2-nope", refused="manifest unknown"),
    ]

    with pytest.raises(bases.BuildError, match=r"gives no nginx:1\.2-nope \(manifest unknown\).*--offline yes"):
        bases.choose_path(probes)


def test_without_root_the_offline_bases_stop_at_once_naming_the_command_to_run_as_root(monkeypatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)

    with pytest.raises(
        bases.BuildError,
        match=r"needs root and debootstrap: sudo apt-get install debootstrap, "
        r"then sudo \.venv/bin/python -m ops\.images bases",
    ):
        bases.ensure_debootstrap()


def _wait_healthy(container: str, timeout: float = 90) -> None:
    def healthy() -> bool:
        status = engine.local().container_health(container)
        assert status != "unhealthy", (engine.local().inspect_container(container) or {})["State"]["Health"]["Log"]
        return status == "healthy"

    wait_until(f"{container} to be healthy", healthy, timeout=timeout, interval=1)


def _exec(container: str, *command: str) -> str:
    result = engine.local().exec(container, command)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.swarm
def test_customers_image_serves_as_non_root_and_stops_gracefully() -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    registry = "imagetest"
    command = [sys.executable, "-m", "ops.images", "build", "--registry", registry, "--tag", tag]
    command += ["--service", "customers", "--service", "redis"]
    assert subprocess.run(command, cwd=images.REPO, check=False).returncode == 0
    docker = engine.local()
    network = f"imagetest-{tag}"
    container_redis, container_app = f"{network}-redis", f"{network}-customers"
    docker.network_create(network)
    try:
        docker.run(f"{registry}/redis:{tag}", name=container_redis, network=network)
        docker.run(
            f"{registry}/customers:{tag}",
            name=container_app,
            network=network,
            publish=[("127.0.0.1", None, 8000)],
            env={
                "SECRET_KEY": "image-test-only",
                "API_WRITE_TOKEN": "image-test-only",
                "REDIS_URL": f"redis://{container_redis}:6379/0",
            },
        )
        _wait_healthy(container_redis)
        _wait_healthy(container_app)
        port = docker.published_port(container_app, "8000/tcp")

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
            assert response.headers["X-Service-Version"] == tag
            assert json.loads(response.read())["status"] == "ok"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            assert response.status == 200
        assert _exec(container_app, "id", "-u") != "0"
        assert _exec(container_redis, "id", "-u") != "0"
        assert "gunicorn" in _exec(container_app, "cat", "/proc/1/cmdline")

        started = time.monotonic()
        docker.stop(container_app, timeout=30)
        assert time.monotonic() - started < 15
        assert (docker.inspect_container(container_app) or {})["State"]["ExitCode"] == 0
    finally:
        docker.remove_containers([container_app, container_redis], force=True)
        for cleanup, name in (
            (docker.network_remove, network),
            (docker.image_remove, f"{registry}/customers:{tag}"),
            (docker.image_remove, f"{registry}/redis:{tag}"),
        ):
            with contextlib.suppress(engine.EngineError):
                cleanup(name)
