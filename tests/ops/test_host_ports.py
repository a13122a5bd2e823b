"""`make up` refuses at once when a port the stack publishes is taken, and names who holds it."""

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops import hostports, stack
from ops.processes import free_port

THIS_PROCESS = Path("/proc/self/comm").read_text().strip()  # "pytest" or "python"


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port this test process listens on, as a host nginx would on port 80."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("0.0.0.0", 0))  # noqa: S104
        listener.listen()
        yield listener.getsockname()[1]


def test_a_listened_port_is_taken_and_its_holder_is_named(held_port):
    assert hostports.port_taken(held_port)
    assert hostports.holder(held_port) == f"{THIS_PROCESS} (pid {os.getpid()})"


def test_a_free_port_is_not_taken():
    assert not hostports.port_taken(free_port())


def test_up_stops_before_deploying_when_the_gateway_port_is_taken(held_port, monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    settings = stack.StackSettings(gateway_port=held_port, viz_port=free_port())

    with pytest.raises(stack.StackError) as refused:
        stack.require_free_host_ports(settings)

    message = str(refused.value)
    assert f"port {held_port} (the gateway's) is taken" in message
    assert f"{THIS_PROCESS} (pid {os.getpid()})" in message
    assert "--gateway-port" in message


def test_up_goes_on_when_its_ports_are_free(monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)

    stack.require_free_host_ports(stack.StackSettings(gateway_port=free_port(), viz_port=free_port()))


def test_a_remote_engine_is_not_judged_by_this_hosts_ports(held_port, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "ssh://manager.example")

    stack.require_free_host_ports(stack.StackSettings(gateway_port=held_port, viz_port=free_port()))
