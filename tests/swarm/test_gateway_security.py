"""The gateway and the Redis servers as deployed: rate limit on the published port only, the
internal listener reachable inside the stack but not published, read-only root filesystems."""

from __future__ import annotations

import time

import pytest

from ops import engine, stack
from ops.engine import SERVICE_NAME_LABEL
from ops.services import API_SERVICES
from tests.gateway_bursts import burst, wait_until_served

pytestmark = [pytest.mark.swarm, pytest.mark.timeout(600)]

INTERNAL_PORT = 8081
REDIS_SERVICES = tuple(f"{service}-redis" for service in API_SERVICES)


def running_containers(service: str) -> list[str]:
    labels = {SERVICE_NAME_LABEL: f"{stack.STACK}_{service}"}
    return [c.id for c in engine.local().containers(labels, status="running")]


def inspect(container: str) -> dict:
    attrs = engine.local().inspect_container(container)
    assert attrs is not None, f"container {container} is gone"
    return attrs


def test_a_burst_on_the_published_port_gets_429_and_the_stack_stays_healthy(deployed: str) -> None:
    url = f"{deployed}/api/customers/?limit=1"
    time.sleep(2.5)  # earlier tests may have used part of the burst; 2 s gives all of it back

    responses = burst(lambda session: session.get(url, timeout=15))

    assert {response.status_code for response in responses} <= {200, 429}
    rejected = next(response for response in responses if response.status_code == 429)
    assert rejected.json()["error"]["code"] == "rate_limited"
    assert int(rejected.headers["Retry-After"]) >= 1
    assert sum(response.status_code == 200 for response in responses) > 60
    assert wait_until_served(url).status_code == 200
    stack.wait_converged(timeout=60, quiet=True)
    for container in running_containers("gateway"):
        assert inspect(container)["State"]["Health"]["Status"] == "healthy"
    # Leave the whole burst to the next test.
    time.sleep(2.5)


def test_only_the_public_port_is_published(deployed: str) -> None:
    gateway = engine.local().service(f"{stack.STACK}_gateway")
    assert gateway is not None

    assert [port.target for port in gateway.ports] == [80]
    assert all(port.mode == "host" for port in gateway.ports)


FRONTEND_PROBE = f"""
import json, socket, sys, urllib.request
response = urllib.request.urlopen("http://gateway:{INTERNAL_PORT}/api/customers/?limit=1", timeout=10)
print("internal", response.status, "results" in json.load(response))
for name in {REDIS_SERVICES!r}:
    try:
        socket.create_connection((name, 6379), timeout=2).close()
        print("reachable", name)
        sys.exit(1)
    except OSError as exc:
        print("unreachable", name, exc)
"""


def test_frontend_reaches_the_internal_listener_and_no_redis(deployed: str) -> None:
    container = running_containers("frontend")[0]

    result = engine.local().exec(container, ["python", "-c", FRONTEND_PROBE])

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == "internal 200 True"


def test_the_services_are_configured_for_the_internal_listener(deployed: str) -> None:
    def env(service: str) -> dict[str, str]:
        container = running_containers(service)[0]
        return dict(line.split("=", 1) for line in inspect(container)["Config"]["Env"])

    internal = f"http://gateway:{INTERNAL_PORT}"
    assert env("invoices")["CUSTOMERS_URL"] == internal
    assert env("invoices")["PRODUCTS_URL"] == internal
    assert env("frontend")["API_URL"] == internal


WRITE_PROBE = "touch /written-at-run-time 2>/dev/null && echo writable || echo read-only"


@pytest.mark.parametrize("service", ["gateway", *REDIS_SERVICES])
def test_gateway_and_redis_run_on_a_read_only_root_filesystem(deployed: str, service: str) -> None:
    container = running_containers(service)[0]
    details = inspect(container)

    root = engine.local().exec(container, ["sh", "-c", WRITE_PROBE])

    assert details["HostConfig"]["ReadonlyRootfs"] is True
    assert details["State"]["Health"]["Status"] == "healthy"
    assert root.stdout.strip() == "read-only", root.stderr


def test_nginx_writes_only_to_its_tmpfs(deployed: str) -> None:
    container = running_containers("gateway")[0]
    mounts = {mount["Destination"]: mount["Type"] for mount in inspect(container)["Mounts"]}

    # Debian's nginx keeps its temp directories in /var/lib/nginx, nginx.org's in /var/cache/nginx.
    probe = "find /var/lib/nginx /var/cache/nginx -mindepth 1 -maxdepth 1 -type d; test -s /run/nginx.pid && echo pid"

    temp = engine.local().exec(container, ["sh", "-c", probe])

    assert {mounts.get(path) for path in ("/run", "/var/lib/nginx", "/var/cache/nginx")} == {"tmpfs"}
    lines = temp.stdout.split()
    assert "pid" in lines, temp.stdout + temp.stderr
    assert any(line.endswith("proxy") or line.endswith("proxy_temp") for line in lines), temp.stdout


def test_redis_still_persists_to_its_volume(deployed: str) -> None:
    container = running_containers("customers-redis")[0]
    mounts = {mount["Destination"]: mount["Type"] for mount in inspect(container)["Mounts"]}
    rewrite = (
        'export REDISCLI_AUTH="$(cat /run/secrets/redis_password)"; '
        "redis-cli --no-auth-warning bgrewriteaof >/dev/null; i=0; "
        "while [ $i -lt 50 ] && redis-cli --no-auth-warning info persistence "
        "| grep -Eq 'aof_rewrite_(in_progress|scheduled):1'; "
        "do sleep 0.2; i=$((i+1)); done; redis-cli --no-auth-warning info persistence"
    )

    result = engine.local().exec(container, ["sh", "-c", rewrite])

    assert mounts.get("/data") == "volume"
    assert "aof_enabled:1" in result.stdout
    assert "aof_last_bgrewrite_status:ok" in result.stdout
