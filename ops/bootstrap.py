"""The host side's virtualenv: what `make up`, `make down`, `make status`, the image builds, the
cluster, the monitoring stack and the load generator import (the docker SDK, requests), in .venv
from requirements-host.lock, every file's hash checked.

    python3 -m ops.bootstrap        # make runs it before each of those targets

Needs a python3 from 3.9 on with its venv module, the docker command line and an engine this
user may use: no root, no apt, nothing else on the host. Quick when there is nothing to do, so
make runs it every time. A .venv made by ops.setup (tests, local mode) already has all of it.

Standard library only, in syntax python3 releases from 3.7 on still parse, so that older ones get a
sentence, not a traceback.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV = REPO_ROOT / ".venv"
HOST_LOCK = REPO_ROOT / "requirements-host.lock"
# What each kind of .venv records as installed: this module's lock, or ops.setup's dev lock
# (a superset, for Python 3.11 and later).
HOST_STAMP = VENV / ".host-requirements-installed"
DEV_STAMP = VENV / ".requirements-installed"
OLDEST_PYTHON = (3, 9)
# The engine runs swarm jobs (the stack's seed) from 20.10 on; the command line deploys them from
# a compose file from 23.0 on (Debian's docker.io 20.10 says "Unknown mode: replicated-job").
OLDEST_ENGINE = (20, 10)
OLDEST_CLI = (23, 0)

VENV_HINT = (
    "Debian, Ubuntu, WSL2: sudo apt install python3-venv; Fedora: sudo dnf install python3; "
    "macOS: the python3 of Xcode's command line tools, python.org or Homebrew has it"
)
DOCKER_HINT = (
    "install Docker Desktop (macOS; Windows, for WSL2) or Docker Engine (Linux: Docker CE, or docker.io "
    "from Debian 13 or Ubuntu 22.04 on), then retry"
)


class NotReady(Exception):
    """This machine lacks something the host side needs; the message says what to do."""


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> None:
    if version[:2] < OLDEST_PYTHON:
        found = ".".join(str(part) for part in version[:3])
        raise NotReady(
            f"{sys.executable} is Python {found}; the host side needs 3.9 or later: "
            "install one and pass it, e.g. make up PYTHON=python3.11"
        )


def version_of(text: str) -> tuple[int, int] | None:
    """(major, minor) of the first version number in `text` ("Docker version 20.10.5+dfsg1, ...")."""
    found = re.search(r"(\d+)\.(\d+)", text)
    return (int(found.group(1)), int(found.group(2))) if found else None


def check_engine() -> None:
    """A docker command line that can deploy the stack is there, and an engine answers it (as this user)."""
    docker = shutil.which("docker")
    if docker is None:
        raise NotReady(f"no docker command on PATH: {DOCKER_HINT}")
    client = subprocess.run([docker, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    client_version = version_of(client)
    if client_version is not None and client_version < OLDEST_CLI:
        raise NotReady(
            f"{docker} is {client}: deploying the stack's swarm job needs the docker command line 23.0 or "
            f"later (Debian's docker.io 20.10 cannot): {DOCKER_HINT}"
        )
    result = subprocess.run(
        [docker, "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True, check=False
    )
    if result.returncode == 0:
        server = result.stdout.strip()
        server_version = version_of(server)
        if server_version is not None and server_version < OLDEST_ENGINE:
            raise NotReady(f"the Docker engine is {server}; the stack needs 20.10 or later: upgrade it")
        return
    error = (result.stderr.strip().splitlines() or ["no output"])[-1]
    if "permission denied" in error.lower():
        raise NotReady(
            f"this user may not use the Docker engine ({error}). Linux: sudo usermod -aG docker $USER, "
            "then log in again (or run newgrp docker)"
        )
    raise NotReady(
        f"no Docker engine answers ({error}): start Docker Desktop, or the engine "
        "(sudo systemctl start docker; on a Debian machine without systemd, as root: make setup)"
    )


def venv_python_works(python: Path) -> bool:
    return subprocess.run([str(python), "-c", "pass"], capture_output=True, check=False).returncode == 0


def can_create_venv() -> bool:
    # Debian and Ubuntu ship `venv` in python3 but the ensurepip it needs in python3-venv.
    return all(importlib.util.find_spec(name) is not None for name in ("venv", "ensurepip"))


def create_venv() -> None:
    hint = f"{sys.executable} cannot create a virtualenv (no venv/ensurepip module): {VENV_HINT}"
    if not can_create_venv():
        raise NotReady(hint)
    step(f"creating {VENV.name} with Python {sys.version.split()[0]}")
    result = subprocess.run([sys.executable, "-m", "venv", str(VENV)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(VENV, ignore_errors=True)
        print(result.stdout + result.stderr, file=sys.stderr)
        raise NotReady(hint)


def ensure_venv() -> None:
    python = VENV / "bin" / "python"
    if VENV.exists() and not venv_python_works(python):
        raise NotReady(f"{VENV} is broken (its Python is gone?): remove it (rm -rf {VENV.name}) and retry")
    if DEV_STAMP.exists():
        return
    wanted = HOST_LOCK.read_text()
    if HOST_STAMP.exists() and HOST_STAMP.read_text() == wanted:
        return
    if not VENV.exists():
        create_venv()
    step(f"installing the host side's Python packages ({HOST_LOCK.name}, hashes checked)")
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    result = subprocess.run([*pip, "--require-hashes", "--requirement", str(HOST_LOCK)], check=False)
    if result.returncode != 0:
        raise NotReady(f"pip could not install {HOST_LOCK.name} (above: why); fix that and retry")
    HOST_STAMP.write_text(wanted)


def main() -> int:
    try:
        check_python()
        check_engine()
        ensure_venv()
    except NotReady as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
