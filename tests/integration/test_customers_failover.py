"""Losing one of the two customers processes is invisible to users."""

import os
import signal

import pytest

pytestmark = pytest.mark.integration


def upstream_ports(lines: list[dict]) -> set[int]:
    return {int(address.rsplit(":", 1)[1]) for line in lines for address in line["upstream_addr"].split(", ")}


def test_gets_succeed_after_one_customers_process_is_killed(gateway, local_system):
    customer = gateway.post("/api/customers/", json={"name": "Failover", "address": "Nowhere 1"}).json()
    before = len(gateway.access_log())
    for _ in range(10):
        assert gateway.get("/api/customers/").status_code == 200
    # Both processes really serve traffic, so killing one is a real loss.
    assert upstream_ports(gateway.access_log()[before:]) == {
        local_system.ports.customers,
        local_system.ports.customers_second,
    }

    victim = local_system.child("customers-2")
    os.killpg(victim.pid, signal.SIGKILL)  # the gunicorn master and its workers, like a crash
    victim.process.wait(timeout=10)

    statuses = [
        gateway.get(path).status_code
        for _ in range(25)
        for path in ("/api/customers/", f"/api/customers/{customer['id']}/")
    ]

    assert statuses == [200] * 50
