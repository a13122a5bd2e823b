"""`make up` where Docker Hub answers, simulated on a machine where it does not.

A Docker-in-Docker node (the cluster's node image, started with the cluster's privileges) whose
engine lists a local registry as its registry mirror, the way engines behind a pull-through cache
do; the registry holds the offline-built bases under the official names (library/python,
library/nginx, library/redis, and the cluster's own images as library/docker and
library/registry). The newcomer of conftest.py runs `make up` against that node's engine, in
the node's network, from a fresh clone the node sees at the same path: it must take the official
images, say so in one line, and deploy a stack whose gateway answers inside the node.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from common.waiting import wait_until
from ops import bases, cluster, engine
from tests.newcomer.conftest import Newcomer

pytestmark = [pytest.mark.newcomer, pytest.mark.timeout(1800)]

PREFIX = "newcomer-hub"
LABEL = "org.swarm-microservices.newcomer-hub"
REGISTRY = f"{PREFIX}-registry"
# The registry's name on the private network, as the node's engine reaches it.
MIRROR_HOST = "hub"
NODE = f"{PREFIX}-node"
NODE_VOLUME = f"{NODE}-docker"


def official_name(public: str) -> str:
    """Where Docker Hub keeps an official image: library/python:3.11-slim-bookworm for python:3.11-slim-bookworm."""
    return public if "/" in public.rsplit(":", 1)[0] else f"library/{public}"


@dataclasses.dataclass(frozen=True)
class Hub:
    mirror: str
    # public name -> the local image that stands in for it
    holds: dict[str, str]


@pytest.fixture(scope="module")
def hub(offline_bases: None) -> Iterator[Hub]:
    """The stand-in for Docker Hub: a registry on a private network, holding our bases under the official names."""
    host = engine.local()
    cluster_images = cluster.build_debian_images()
    holds = {base.public: base.offline for base in bases.BASES.values()}
    # The node runs the engine of the Debian-built node image, whose official image names that version.
    node_version = host.run_to_end(cluster_images.node, ["dockerd", "--version"], quiet=True).stdout.split()[2]
    holds[f"docker:{node_version.strip(',').split('+')[0]}-dind"] = cluster_images.node
    holds[cluster.OFFICIAL_REGISTRY_IMAGE] = cluster_images.registry
    host.network_create(PREFIX, labels={LABEL: ""})
    try:
        host.run(
            cluster_images.registry,
            name=REGISTRY,
            network=PREFIX,
            aliases=[MIRROR_HOST],
            labels={LABEL: ""},
            publish=[("127.0.0.1", None, cluster.REGISTRY_INNER_PORT)],
        )
        port = host.published_port(REGISTRY, f"{cluster.REGISTRY_INNER_PORT}/tcp")

        def answers() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/v2/", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until("the stand-in registry to answer", answers, timeout=60, interval=0.5)

        def push(public: str) -> None:
            target = f"127.0.0.1:{port}/{official_name(public)}"
            host.tag(holds[public], target)
            host.push(target)
            host.image_remove(target)

        # Two at a time: compressing the layers keeps a CPU busy per push.
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(push, holds))
        yield Hub(f"http://{MIRROR_HOST}:{cluster.REGISTRY_INNER_PORT}", holds)
    finally:
        host.remove_containers([REGISTRY], force=True, volumes=True)
        host.network_remove(PREFIX)


@pytest.fixture
def connected(newcomer: Newcomer, hub: Hub) -> Iterator[Newcomer]:
    """The newcomer, using the engine of a node whose registry mirror is the hub, in the node's network."""
    host = engine.local()
    node_image = cluster.DEBIAN_IMAGES.node
    access = cluster.node_access(node_image)
    # Short: a Unix socket's path has at most 107 bytes.
    socket_dir = Path(tempfile.mkdtemp(prefix="hub-", dir="/tmp"))
    socket = socket_dir / "docker.sock"
    try:
        host.run(
            node_image,
            cluster.dockerd_command(cgroup_parent=f"/{NODE}", mirrors=[hub.mirror]),
            name=NODE,
            hostname=NODE,
            init=True,
            labels={LABEL: ""},
            network=PREFIX,
            privileges=access.privileges,
            volumes=[
                f"{NODE_VOLUME}:/var/lib/docker",
                *access.volumes,
                f"{socket_dir}:{cluster.NODE_SOCKET_DIR}",
                # Bind mounts of the checkout (the wheelhouse step's) resolve on the node.
                f"{newcomer.checkout}:{newcomer.checkout}",
            ],
        )
        node = engine.Engine(f"unix://{socket}")
        wait_until("the node's engine to answer", node.answers, timeout=90, interval=1)
        yield dataclasses.replace(
            newcomer, socket=str(socket), network=f"container:{NODE}", socket_gid=os.stat(socket).st_gid
        )
    finally:
        host.remove_containers([NODE], force=True, volumes=True)
        host.volume_remove(NODE_VOLUME)
        cluster.remove_empty_cgroups(f"/{NODE}")
        shutil.rmtree(socket_dir, ignore_errors=True)


def test_where_the_registry_answers_make_up_and_the_cluster_take_the_official_images(
    connected: Newcomer, hub: Hub
) -> None:
    up = connected.run("make up")

    assert up.returncode == 0
    print(f"\nmake up on the official-image path took {up.seconds:.0f}s")
    # One line says which bases and why: the official images, from the registry.
    said = [line.split("] ", 1)[-1] for line in up.output.splitlines() if "] bases: " in line]
    assert len(said) == 1, said
    assert said[0].startswith("bases: official images (registry answers: ")
    node = engine.Engine(f"unix://{connected.socket}")
    for base in bases.BASES.values():
        assert base.public in said[0]
        assert node.image(base.public) is not None
        assert node.image(base.offline) is None
    # Deployed healthy: the gateway answers inside the node.
    script = (
        "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1/api/customers/', timeout=10).status)"
    )
    answer = engine.local().exec(NODE, ["python3", "-c", script])
    assert answer.stdout.strip() == "200", answer

    # The cluster's images too, for a newcomer without root: the Debian-built ones would need it.
    images = connected.run(".venv/bin/python -c 'from ops import cluster; cluster.ensure_cluster_images()'")

    assert images.returncode == 0
    said = [line.split("] ", 1)[-1] for line in images.output.splitlines() if "] cluster images: " in line]
    official = [name for name in hub.holds if name.startswith(("docker:", "registry:"))]
    assert said == [f"cluster images: official images (registry answers: {', '.join(official)})"]
    for name in official:
        assert node.image(name) is not None
