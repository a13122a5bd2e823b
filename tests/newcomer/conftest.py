"""A newcomer's machine, simulated: a container with Debian 11's python3 (3.9), the docker command
line and make, a user without root in the group of the host engine's socket, and a fresh clone of
the repository's committed HEAD.

What is prepared on the host beforehand, as root: the newcomer image itself (with a copy of the
host's statically linked docker command line: Debian 11's own is too old for the stack file, and
no other reaches this machine), and the offline base
images (`python -m ops.images bases`: debootstrap needs root). Those bases stand in for the
public python, nginx and redis images a newcomer's engine would pull from Docker Hub; everything
else (the virtualenv, the wheelhouse, the project's images, the swarm, the stack) the newcomer's
`make` does on its own.

The clone lives at the same path on the host and in the container: the engine resolves the
paths of bind mounts (the wheelhouse step mounts folders of the checkout) on its own host, as
Docker Desktop does for folders it shares with its VM.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from ops import bases, engine, images
from tests.processes import REPO_ROOT, docker_unusable, run_logged

HERE = Path(__file__).resolve().parent
SOCKET = "/var/run/docker.sock"
USER = "newcomer"
# The uid the image gives the user: the clone on the host belongs to it.
USER_ID = 1000
IMAGE = "test/newcomer:bullseye"


# Debian 11, as the public debian:bullseye-slim image is, or built from Debian packages offline.
BULLSEYE_BASE = bases.Base(
    key="bullseye",
    build_arg="DEBIAN_IMAGE",
    public="debian:bullseye-slim",
    offline="offline/debian:bullseye",
    packages=("ca-certificates",),
    changes=('CMD ["bash"]',),
    finish=bases.trust_host_ca,
    suite="bullseye",
)


@dataclasses.dataclass(frozen=True)
class Run:
    returncode: int
    output: str
    seconds: float


@dataclasses.dataclass(frozen=True)
class Newcomer:
    """Runs commands in a fresh container of the newcomer image, in the clone, as the newcomer."""

    checkout: Path
    socket_gid: int
    # The engine the newcomer uses: its socket on the host, and the network the container joins.
    socket: str = SOCKET
    network: str = "host"

    def run(self, command: str, *, env: Mapping[str, str] | None = None, as_root: bool = False) -> Run:
        """`command` (sh) in a new container; its output streams to the test's output as it comes."""
        argv = ["docker", "run", "--rm", "--network", self.network, "--volume", f"{self.socket}:{SOCKET}"]
        argv += ["--volume", f"{self.checkout}:{self.checkout}", "--workdir", str(self.checkout)]
        argv += ["--user", "0" if as_root else USER, "--group-add", str(self.socket_gid)]
        for name, value in (env or {}).items():
            argv += ["--env", f"{name}={value}"]
        argv += [IMAGE, "sh", "-c", command]
        print(f"\n$ {' '.join(argv)}", flush=True)
        started = time.monotonic()
        lines = []
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                print(line, end="", flush=True)
                lines.append(line)
        seconds = time.monotonic() - started
        print(f"({seconds:.0f}s, exit {proc.returncode})", flush=True)
        return Run(proc.returncode, "".join(lines), seconds)


@pytest.fixture(scope="session")
def newcomer_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    if reason := docker_unusable():
        pytest.skip(reason)
    context = tmp_path_factory.mktemp("newcomer-image")
    shutil.copy(HERE / "Dockerfile", context / "Dockerfile")
    shutil.copy(shutil.which("docker") or "docker", context / "docker")
    base = bases.prepare_bases([BULLSEYE_BASE])[BULLSEYE_BASE.key]
    try:
        # apt inside the build goes through the proxy the host's apt uses, if any.
        proxies = bases.host_apt_source(BULLSEYE_BASE.suite).environment()
    except bases.BuildError:
        proxies = {}
    spec = images.ImageSpec("newcomer", context / "Dockerfile", context, {BULLSEYE_BASE.build_arg: base, **proxies})
    images.docker_build(spec, IMAGE)
    cli = engine.local().run_to_end(IMAGE, ["docker", "--version"], quiet=True)
    if cli.returncode != 0:
        pytest.skip(f"the host's docker command does not run on Debian 11 (not statically linked?): {cli.stderr}")
    return IMAGE


@pytest.fixture(scope="session")
def offline_bases() -> None:
    """The Debian-built python, nginx and redis bases, made here as root: the newcomer's engine
    has them the way a connected one would pull the public images."""
    run_logged(sys.executable, "-m", "ops.images", "bases", timeout=1800)


@pytest.fixture
def newcomer(newcomer_image: str, offline_bases: None, tmp_path: Path) -> Iterator[Newcomer]:
    """A fresh clone of the committed HEAD, owned by the newcomer, and the container to run in."""
    checkout = tmp_path / "swarm-microservices"
    head = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(REPO_ROOT), str(checkout)], check=True)
    subprocess.run(["git", "-C", str(checkout), "checkout", "--quiet", "--detach", head], check=True)
    for path in (checkout, *checkout.rglob("*")):
        os.lchown(path, USER_ID, USER_ID)
    found = engine.local().run_to_end(
        newcomer_image, ["stat", "-c", "%g", SOCKET], volumes=[f"{SOCKET}:{SOCKET}"], quiet=True
    )
    assert found.returncode == 0, found.stderr
    yield Newcomer(checkout, int(found.stdout))
    # What the newcomer's tools wrote (the virtualenv, build/) belongs to the newcomer's uid.
    shutil.rmtree(checkout, ignore_errors=True)
