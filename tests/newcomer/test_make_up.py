"""`make up` as a newcomer runs it: a fresh clone, Python 3.9, no root, nothing but the docker
command line, make and python3 (see conftest.py), against the host's engine and swarm."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from ops import engine, stack
from ops.services import API_SERVICES, APP_SERVICES
from tests.newcomer.conftest import USER, USER_ID, Newcomer
from tests.processes import REPO_ROOT, host_port

pytestmark = pytest.mark.newcomer


def test_without_the_venv_module_make_up_says_what_to_install(newcomer: Newcomer) -> None:
    # Debian's python3 without python3-venv, as on a stock Debian or Ubuntu; root only removes it.
    run = newcomer.run(
        "dpkg --purge python3-venv python3.9-venv >/dev/null"
        f" && exec setpriv --reuid={USER_ID} --regid={USER_ID} --keep-groups make up",
        env={"HOME": f"/home/{USER}"},
        as_root=True,
    )

    assert run.returncode != 0
    assert "cannot create a virtualenv" in run.output
    assert "sudo apt install python3-venv" in run.output
    assert not (newcomer.checkout / ".venv").exists()


def test_with_debian_11s_own_docker_command_make_up_stops_at_once_saying_why(newcomer: Newcomer) -> None:
    # docker.io 20.10 cannot deploy the stack's swarm job; better said before minutes of builds.
    run = newcomer.run("PATH=/usr/bin:/bin make up")

    assert run.returncode != 0
    assert "is Docker version 20.10" in run.output
    assert "needs the docker command line 23.0 or later" in run.output
    assert not (newcomer.checkout / ".venv").exists()


def test_make_up_deploys_the_stack_and_make_down_removes_it(newcomer: Newcomer) -> None:
    local = engine.local()
    if stack.published_port() is not None:
        pytest.skip(f"stack {stack.STACK} is deployed already: the newcomer deploys and removes one (make down first)")
    label = {engine.NAMESPACE_LABEL: stack.STACK}
    volumes_before = local.volumes(label)
    gateway_port = host_port(variable="SWARM_GATEWAY_PORT", in_use=None, preferred=80)
    base_url = f"http://127.0.0.1:{gateway_port}" if gateway_port != 80 else "http://127.0.0.1"
    try:
        up = newcomer.run("make up", env={"GATEWAY_PORT": str(gateway_port)})
        assert up.returncode == 0
        print(f"\nmake up as a newcomer took {up.seconds:.0f}s")
        # The host side's venv is the newcomer's own, made by make with Debian 11's Python.
        assert "creating .venv with Python 3.9" in up.output
        # One line says which bases the images are built on, and why.
        said = [line.split("] ", 1)[-1] for line in up.output.splitlines() if "] bases: " in line]
        assert len(said) == 1, said
        assert said[0].startswith(("bases: official images (", "bases: offline Debian-built bases (")), said
        # It ends with the addresses (and the credentials it made).
        ending = up.output.split(f"stack {stack.STACK} is up")[-1]
        assert f"web app        {base_url}/" in ending
        assert "visualizer     http://127.0.0.1:8080/" in ending

        customers = requests.get(f"{base_url}/api/customers/", headers={"Accept": "application/json"}, timeout=10)
        assert customers.status_code == 200
        assert "results" in customers.json()
        # viz reads the engine: the board lists the stack's tasks.
        state = requests.get("http://127.0.0.1:8080/api/state", timeout=10).json()
        running = {task["service"] for node in state["nodes"] for task in node["tasks"] if task["state"] == "running"}
        assert {*APP_SERVICES, "gateway", "socket-proxy"} <= running
        assert {f"{service}-redis" for service in API_SERVICES} <= running

        status = newcomer.run("make status")
        assert status.returncode == 0
        assert "converged" in status.output

        down = newcomer.run("make down VOLUMES=1" if not volumes_before else "make down")
        assert down.returncode == 0
        assert stack.STACK not in local.stacks()
        assert not local.containers(label, all=True)
    finally:
        if stack.STACK in local.stacks() or (local.volumes(label) and not volumes_before):
            # Leave the host as it was: no stack, and no volumes it did not have.
            down_argv = [sys.executable, "-m", "ops.stack", "down", *(["--volumes"] if not volumes_before else [])]
            subprocess.run(down_argv, cwd=REPO_ROOT, check=False, timeout=300)
