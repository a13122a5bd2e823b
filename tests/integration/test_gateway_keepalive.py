"""Local mode's gateway keeps upstream connections open (HTTP/1.1, empty Connection header,
`keepalive` pools) instead of opening one connection per request.

A closed TCP connection leaves a TIME_WAIT socket for a minute, so one connection per request
would leave about one per request on the service's port; a reused pool leaves none.
"""

from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.integration

REQUESTS = 60
TIME_WAIT = "06"


def time_wait_sockets(port: int) -> int:
    """TIME_WAIT TCP sockets with `port` at either end (from /proc/net/tcp, IPv4 loopback)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        ports = {int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16)}
        if state == TIME_WAIT and port in ports:
            count += 1
    return count


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc/net/tcp")
def test_requests_through_the_gateway_reuse_upstream_connections(local_system):
    port = local_system.ports.products
    url = f"{local_system.internal_url}/api/products/?limit=1"
    before = time_wait_sockets(port)

    with requests.Session() as session:
        statuses = [session.get(url, timeout=10).status_code for _ in range(REQUESTS)]

    closed = time_wait_sockets(port) - before
    assert statuses == [200] * REQUESTS
    assert closed < REQUESTS // 4, f"{closed} upstream connections closed for {REQUESTS} requests"
