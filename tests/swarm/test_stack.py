"""Every exercise of the README, on a real single-node swarm, through the gateway on 127.0.0.1.

The tests share one deployment and run in file order: scaling, failures and bad input first,
then the rolling upgrade to v2 and the failed upgrade that rolls back to it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest
import requests

from common.waiting import wait_until
from ops import engine, stack
from ops.engine import NAMESPACE_LABEL, SERVICE_NAME_LABEL
from ops.load import LoadConfig, LoadReport, LoadRunner
from ops.services import API_SERVICES, APP_SERVICES, DJANGO_SERVICES
from tests.processes import redis_cli

pytestmark = [pytest.mark.swarm, pytest.mark.timeout(900)]

# The gateway re-resolves service names every second (nginx `resolver ... valid=1s`); new
# tasks also need a moment to appear in Docker's DNS. Generous on a busy machine.
DNS_REFRESH = 6.0
GET_MIX = {"customers.list": 1, "customers.get": 2}


def running_containers(service: str) -> list[str]:
    labels = {SERVICE_NAME_LABEL: f"{stack.STACK}_{service}"}
    return [c.id for c in engine.local().containers(labels, status="running")]


def running_task_images(service: str) -> list[str]:
    return [t.image for t in stack.stack_tasks(service=service) if t.running]


def service_update(service: str, **changes) -> dt.datetime:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    engine.local().service_update(f"{stack.STACK}_{service}", **changes)
    return since


def update_state(service: str) -> str:
    found = engine.local().service(f"{stack.STACK}_{service}")
    return found.update_state if found else ""


def inspect(container: str) -> dict:
    attrs = engine.local().inspect_container(container)
    assert attrs is not None, f"container {container} is gone"
    return attrs


def start_load(base_url: str, **overrides) -> LoadRunner:
    config = LoadConfig(base_url=base_url, duration=600, rate=20, threads=4, printer=_load_line, **overrides)
    return LoadRunner(config).start()


def _load_line(line: str) -> None:
    print("  load " + line, flush=True)


def assert_no_failures(report: LoadReport) -> None:
    print(report.summary())
    assert report.requests > 0
    assert report.errors == 0, f"{report.errors} failed requests: {report.errors_by_kind}; {report.error_samples[:5]}"


def get_when_allowed(url: str, attempts: int = 30) -> requests.Response:
    """GET from the host like any client: while the gateway's per-client rate limit answers 429
    (the request never reached a service), ask again after Retry-After. Bounded."""
    for _ in range(attempts):
        response = requests.get(url, timeout=10)
        if response.status_code != 429:
            return response
        time.sleep(min(float(response.headers.get("Retry-After") or 1), 5.0))
    return response


def versions_seen(base_url: str, path: str, requests_count: int = 30) -> set[str]:
    return {get_when_allowed(base_url + path).headers["X-Service-Version"] for _ in range(requests_count)}


def create_customer(api: requests.Session, base_url: str, name: str) -> str:
    response = api.post(f"{base_url}/api/customers/", json={"name": name, "address": "1 Swarm Way"}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["id"]


# ------------------------------------------------------------------------------
# 1. Deployment
# ------------------------------------------------------------------------------
def test_stack_converges_with_every_task_healthy(deployed: str) -> None:
    states = stack.wait_converged(timeout=60, quiet=True)
    names = {s.short for s in states}
    assert {*DJANGO_SERVICES, "gateway", "seed"} <= names
    assert {f"{service}-redis" for service in API_SERVICES} <= names
    for state in states:
        if state.short in APP_SERVICES:
            assert state.running == 2, state.describe()
    for health in ("starting", "unhealthy"):
        not_healthy = engine.local().containers({NAMESPACE_LABEL: stack.STACK}, health=health)
        assert not not_healthy, [c.name for c in not_healthy]


def test_api_frontend_and_docs_answer_through_the_gateway(deployed: str, api: requests.Session) -> None:
    for service in API_SERVICES:
        response = api.get(f"{deployed}/api/{service}/", timeout=10)
        assert response.status_code == 200, response.text
        assert "results" in response.json()
        assert response.headers["X-Served-By"]
        docs = requests.get(f"{deployed}/api/{service}/docs/", timeout=10)
        assert docs.status_code == 200
        assert "text/html" in docs.headers["Content-Type"]
    home = requests.get(f"{deployed}/", timeout=10)
    assert home.status_code == 200
    assert "text/html" in home.headers["Content-Type"]
    # Internal endpoints stay internal.
    assert api.get(f"{deployed}/api/customers/healthz", timeout=10).status_code == 404


def test_viz_shows_the_stack_on_port_8080(deployed: str) -> None:
    viz_port = stack.published_port(service="viz", target=8080)
    assert viz_port is not None

    state = requests.get(f"http://127.0.0.1:{viz_port}/api/state", timeout=10).json()
    page = requests.get(f"http://127.0.0.1:{viz_port}/", timeout=10)

    assert page.status_code == 200
    [node] = state["nodes"]
    running = [t for t in node["tasks"] if t["state"] == "running"]
    assert {*APP_SERVICES, "gateway", "socket-proxy"} <= {t["service"] for t in running}
    assert len([t for t in running if t["service"] == "customers"]) == 2
    assert {t["version"] for t in running if t["service"] == "customers"} == {"v1"}


@pytest.mark.parametrize("client", ["gateway", "frontend"])
def test_redis_is_reachable_only_from_its_own_service(deployed: str, client: str) -> None:
    """The Redis servers sit on networks of their own: other containers cannot even resolve them."""
    container = running_containers(client)[0]
    probe = (
        "import socket, sys\n"
        "for name in ('customers-redis', 'products-redis', 'invoices-redis'):\n"
        "    try:\n"
        "        socket.create_connection((name, 6379), timeout=2).close()\n"
        "        print('reachable', name); sys.exit(1)\n"
        "    except OSError as exc:\n"
        "        print('unreachable', name, exc)\n"
    )
    command = ["python", "-c", probe] if client == "frontend" else ["bash", "-c", BASH_REDIS_PROBE]
    result = engine.local().exec(container, command)
    own = engine.local().exec(running_containers("customers")[0], ["python", "-c", OWN_REDIS_PROBE])

    assert result.returncode == 0, result.stdout + result.stderr
    assert own.returncode == 0, "the customers service itself must reach its Redis: " + own.stdout + own.stderr


BASH_REDIS_PROBE = (
    "for name in customers-redis products-redis invoices-redis; do "
    'if timeout 2 bash -c "exec 3<>/dev/tcp/$name/6379" 2>/dev/null; then echo reachable $name; exit 1; fi; '
    "echo unreachable $name; done"
)
OWN_REDIS_PROBE = "import socket; socket.create_connection(('customers-redis', 6379), timeout=2).close()"


def test_writes_need_the_token_and_the_ui_the_operators_sign_in(deployed: str, api: requests.Session) -> None:
    body = {"name": "Anonymous", "address": "0 Nowhere"}
    anonymous = requests.post(f"{deployed}/api/customers/", json=body, timeout=10)
    wrong = requests.post(
        f"{deployed}/api/customers/", json=body, headers={"Authorization": "Bearer not-it"}, timeout=10
    )
    signed = api.post(f"{deployed}/api/customers/", json={**body, "name": "With token"}, timeout=10)
    form = requests.get(f"{deployed}/customers/new/", allow_redirects=False, timeout=10)

    assert (anonymous.status_code, wrong.status_code) == (401, 401), (anonymous.text, wrong.text)
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    assert signed.status_code == 201, signed.text
    assert (form.status_code, form.headers["Location"]) == (302, "/sign-in/?next=/customers/new/")
    names = [row["name"] for row in api.get(f"{deployed}/api/customers/?limit=100", timeout=10).json()["results"]]
    assert "Anonymous" not in names


def test_redis_answers_only_with_the_password_of_its_secret(deployed: str) -> None:
    container = running_containers("customers-redis")[0]

    without = engine.local().exec(container, ["redis-cli", "ping"])
    with_secret = engine.local().exec(container, redis_cli("ping"))

    assert "NOAUTH" in without.stdout + without.stderr, without
    assert with_secret.stdout.strip() == "PONG", with_secret
    assert "requirepass" not in " ".join(inspect(container)["Config"]["Cmd"] or [])


def test_every_redis_runs_on_the_one_node_labelled_for_redis_data(deployed: str) -> None:
    labelled = [n for n in engine.local().nodes() if n.labels.get(stack.REDIS_NODE_LABEL) == "true"]

    assert len(labelled) == 1
    for name in API_SERVICES:
        redis = engine.local().service(f"{stack.STACK}_{name}-redis")
        assert redis is not None
        assert redis.constraints == (f"node.labels.{stack.REDIS_NODE_LABEL} == true",)
        assert {t.node_id for t in stack.stack_tasks(service=f"{name}-redis") if t.running} == {labelled[0].id}


def test_only_the_socket_proxy_holds_the_docker_socket(deployed: str) -> None:
    holders = set()
    for container in engine.local().containers({NAMESPACE_LABEL: stack.STACK}, status="running"):
        mounts = inspect(container.id)["Mounts"]
        if any("docker.sock" in (mount.get("Source", "") + mount["Destination"]) for mount in mounts):
            holders.add(container.service)

    assert holders == {f"{stack.STACK}_socket-proxy"}


# Run inside viz: the status of each request it sends to the proxy, one per line.
PROXY_PROBE = """
import sys, urllib.error, urllib.request
for line in sys.argv[1:]:
    method, path = line.split(" ", 1)
    body = None if method == "GET" else b"{}"
    request = urllib.request.Request("http://socket-proxy:2375" + path, method=method, data=body)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(response.status, line)
    except urllib.error.HTTPError as exc:
        print(exc.code, line)
"""
PROXY_ALLOWED = ["GET /_ping", "GET /v1.41/info", "GET /nodes", "GET /services", "GET /tasks", "GET /containers/json"]
PROXY_REFUSED = [
    "GET /containers/x/archive?path=/run/secrets",
    "GET /secrets",
    "GET /exec/x/json",
    "GET /containers/x/attach/ws",
    "POST /containers/create",
    "POST /services/create",
    "DELETE /services/demo_customers",
]


def test_viz_reads_the_swarm_through_the_socket_proxy_which_refuses_everything_else(deployed: str) -> None:
    viz = running_containers("viz")[0]

    result = engine.local().exec(viz, ["python", "-c", PROXY_PROBE, *PROXY_ALLOWED, *PROXY_REFUSED])

    assert result.returncode == 0, result.stderr
    statuses = dict(line.split(" ", 1)[::-1] for line in result.stdout.splitlines())
    assert {request: statuses[request] for request in PROXY_ALLOWED} == dict.fromkeys(PROXY_ALLOWED, "200")
    assert {request: statuses[request] for request in PROXY_REFUSED} == dict.fromkeys(PROXY_REFUSED, "403")
    assert "DOCKER_HOST=tcp://socket-proxy:2375" in inspect(viz)["Config"]["Env"]


def test_the_socket_proxy_is_out_of_reach_of_the_other_services(deployed: str) -> None:
    probe = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('socket-proxy', 2375), timeout=2).close(); print('reachable')\n"
        "except OSError as exc:\n"
        "    print('unreachable', exc)\n"
    )

    for service in ("frontend", "invoices"):
        result = engine.local().exec(running_containers(service)[0], ["python", "-c", probe])
        assert result.stdout.startswith("unreachable"), f"{service}: {result.stdout}{result.stderr}"


@pytest.mark.parametrize("service", DJANGO_SERVICES)
def test_django_containers_run_non_root_on_a_read_only_filesystem(deployed: str, service: str) -> None:
    container = running_containers(service)[0]
    details = inspect(container)
    probe = (
        "import os, urllib.request\n"
        "port = os.environ['BIND'].rsplit(':', 1)[1]\n"
        "print(os.getuid())\n"
        "try:\n"
        "    open('/app/written-at-run-time', 'w')\n"
        "    print('writable')\n"
        "except OSError:\n"
        "    print('read-only')\n"
        "body = urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=5).read().decode()\n"
        "print('metrics' if 'http_requests_total' in body else 'no metrics')\n"
    )

    result = engine.local().exec(container, ["python", "-c", probe])

    assert details["HostConfig"]["ReadonlyRootfs"] is True
    assert result.returncode == 0, result.stderr
    uid, writable, metrics = result.stdout.split()
    assert uid != "0"
    assert writable == "read-only"
    assert metrics == "metrics", "the metrics files live in /dev/shm, which stays writable"


def test_seed_job_created_the_demo_data(deployed: str, api: requests.Session) -> None:
    names: set[str] = set()
    url: str | None = f"{deployed}/api/customers/?limit=100"
    while url and "Ada Lovelace" not in names:
        page = api.get(url, timeout=10).json()
        names.update(customer["name"] for customer in page["results"])
        url = f"{deployed}/api/customers/?limit=100&cursor={page['next_cursor']}" if page["next_cursor"] else None
    assert "Ada Lovelace" in names


# ------------------------------------------------------------------------------
# 2. Scaling and load balancing
# ------------------------------------------------------------------------------
def test_scaling_customers_to_four_spreads_requests_over_four_tasks(deployed: str) -> None:
    engine.local().service_scale(f"{stack.STACK}_customers", 4)
    try:
        stack.wait_converged(services=["customers"], timeout=180, quiet=True)
        assert len(running_containers("customers")) == 4
        time.sleep(DNS_REFRESH)
        served_by = set()
        for _ in range(100):
            response = get_when_allowed(f"{deployed}/api/customers/?limit=1")
            assert response.status_code == 200
            served_by.add(response.headers["X-Served-By"])
            if len(served_by) >= 4:
                break
        assert len(served_by) >= 4, served_by
    finally:
        engine.local().service_scale(f"{stack.STACK}_customers", 2)
        stack.wait_converged(services=["customers"], timeout=180, quiet=True)


# ------------------------------------------------------------------------------
# 3. A container dies
# ------------------------------------------------------------------------------
def test_killed_container_is_replaced_and_no_get_fails(deployed: str) -> None:
    # Tasks removed by an earlier scale-down may still be finishing their requests.
    def two_running() -> list[str] | None:
        found = running_containers("customers")
        return found if len(found) == 2 else None

    before = wait_until("2 running customers containers", two_running, timeout=60, interval=1)
    load = start_load(deployed, mix=GET_MIX)
    try:
        time.sleep(2)
        victim = before[0]
        engine.local().kill(victim)
        wait_until(
            "a second customers container beside the survivor",
            lambda: len(now := running_containers("customers")) == 2 and victim not in now,
            timeout=120,
            interval=1,
        )
        stack.wait_converged(services=["customers"], timeout=120, quiet=True)
        time.sleep(DNS_REFRESH)
    finally:
        report = load.stop()
    after = running_containers("customers")
    assert victim not in after
    assert len(after) == 2
    assert_no_failures(report)


# ------------------------------------------------------------------------------
# 6. Redis restarts with its data
# ------------------------------------------------------------------------------
def test_killed_redis_comes_back_with_every_entity(deployed: str, api: requests.Session) -> None:
    ids = [create_customer(api, deployed, f"Durable {n} {uuid.uuid4().hex[:6]}") for n in range(10)]
    # appendfsync everysec: give the last write its second.
    time.sleep(1.5)
    [victim] = running_containers("customers-redis")
    engine.local().kill(victim)
    wait_until(
        "a new customers-redis container",
        lambda: (now := running_containers("customers-redis")) and victim not in now,
        timeout=120,
        interval=1,
    )
    stack.wait_converged(services=["customers-redis"], timeout=120, quiet=True)
    missing = set(ids)

    def all_readable() -> bool:
        for id_ in list(missing):
            if api.get(f"{deployed}/api/customers/{id_}/", timeout=10).status_code == 200:
                missing.discard(id_)
        return not missing

    wait_until(
        "every customer readable after the Redis restart",
        all_readable,
        timeout=60,
        interval=0.5,
        explain=lambda: f"{len(missing)} of {len(ids)} customers lost",
    )
    assert victim not in running_containers("customers-redis")


# ------------------------------------------------------------------------------
# 7. Bad input never reaches a 5xx
# ------------------------------------------------------------------------------
def test_bad_input_gets_4xx_with_json_errors(deployed: str, api: requests.Session) -> None:
    customer = create_customer(api, deployed, "Bad input target")
    product = api.post(f"{deployed}/api/products/", json={"name": "Bad input widget", "unit_price": "1.00"}, timeout=10)
    assert product.status_code == 201
    product_id = product.json()["id"]
    json_headers = {"Content-Type": "application/json"}

    def invoice(customer_id: object, product_id: object, quantity: object) -> str:
        return json.dumps({"customer_id": customer_id, "product_id": product_id, "quantity": quantity})

    cases = [
        ("GET", "/api/customers/not-a-uuid/", None, {}),
        ("GET", f"/api/customers/{uuid.uuid4()}/", None, {}),
        ("GET", "/api/invoices/?customer=not-a-uuid", None, {}),
        ("GET", "/api/customers/?limit=abc&cursor=%%%", None, {}),
        ("POST", "/api/customers/", "{not json", json_headers),
        ("POST", "/api/customers/", json.dumps({"name": ""}), json_headers),
        ("POST", "/api/customers/", json.dumps([1, 2, 3]), json_headers),
        ("POST", "/api/customers/", "name=x", {"Content-Type": "text/plain"}),
        ("POST", "/api/customers/", "x" * (2 * 1024 * 1024), json_headers),
        ("POST", "/api/products/", json.dumps({"name": "Neg", "unit_price": "-1"}), json_headers),
        ("POST", "/api/products/", json.dumps({"name": "Huge", "unit_price": "1e400"}), json_headers),
        ("POST", "/api/invoices/", invoice(customer, product_id, -3), json_headers),
        ("POST", "/api/invoices/", invoice(customer, product_id, 10**30), json_headers),
        ("POST", "/api/invoices/", invoice(str(uuid.uuid4()), product_id, 1), json_headers),
        ("POST", "/api/invoices/", invoice("nope", None, "x"), json_headers),
        ("DELETE", "/api/invoices/", None, {}),
        ("PUT", f"/api/customers/{customer}/", json.dumps({"name": None}), json_headers),
        ("PATCH", "/api/customers/" + "a" * 5000 + "/", json.dumps({"name": "x"}), json_headers),
        ("GET", "/api/customers/" + "a" * 9000 + "/", None, {}),
        ("GET", "/api/nowhere/", None, {}),
        ("GET", "/metrics", None, {}),
    ]  # fmt: skip
    for method, path, body, headers in cases:
        response = api.request(method, deployed + path, data=body, headers=headers, timeout=15)
        label = f"{method} {path[:60]} -> {response.status_code} {response.text[:200]!r}"
        assert 400 <= response.status_code < 500, label
        assert "error" in response.json(), label


# ------------------------------------------------------------------------------
# 4. Rolling upgrade under load
# ------------------------------------------------------------------------------
def test_rolling_upgrade_to_v2_under_load_loses_nothing(deployed: str, v2_images: str) -> None:
    load = start_load(deployed)
    try:
        time.sleep(3)
        for service in ("customers", "invoices"):
            since = service_update(service, image=f"demo/{service}:{v2_images}", update_parallelism=1, update_delay=5)
            image = f"demo/{service}:{v2_images}"
            stack.wait_converged(services=[service], since=since, timeout=300, quiet=True, image=image)
        time.sleep(DNS_REFRESH)
    finally:
        report = load.stop()
    assert_no_failures(report)
    missing = report.missing_created(deployed)
    assert not missing, f"{len(missing)} acknowledged entities not readable: {missing[:5]}"
    assert report.versions["customers=v1"], report.versions
    assert report.versions["customers=v2"], report.versions
    for service in ("customers", "invoices"):
        assert running_task_images(service) == [f"demo/{service}:v2"] * 2
        assert versions_seen(deployed, f"/api/{service}/?limit=1") == {"v2"}


# ------------------------------------------------------------------------------
# 5. A broken release rolls itself back
# ------------------------------------------------------------------------------
def test_upgrade_to_unhealthy_image_rolls_back_without_failures(deployed: str, broken_image: str) -> None:
    before = running_task_images("customers")
    load = start_load(deployed)
    try:
        service_update("customers", image=f"demo/customers:{broken_image}")

        def rolled_back() -> bool:
            state = update_state("customers")
            assert state not in ("paused", "rollback_paused", "completed"), state
            return state == "rollback_completed"

        wait_until(
            "the update to roll back",
            rolled_back,
            timeout=300,
            interval=2,
            explain=lambda: f"state {update_state('customers')!r}",
        )
        stack.wait_converged(services=["customers"], timeout=180, quiet=True)
        time.sleep(DNS_REFRESH)
    finally:
        report = load.stop()
    assert_no_failures(report)
    assert running_task_images("customers") == before
    assert versions_seen(deployed, "/api/customers/?limit=1") == {before[0].rsplit(":", 1)[1]}
    failed = [t for t in stack.stack_tasks(service="customers") if t.image == f"demo/customers:{broken_image}"]
    assert failed, "the broken image never ran"


# ------------------------------------------------------------------------------
# 6. `make up` again after a rebuild deploys the new build
# ------------------------------------------------------------------------------
def test_deploying_again_rolls_services_whose_image_was_rebuilt_under_its_tag(
    deployed: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A rebuild without a registry keeps the tag; only the image id changes (here: one label more).
    context = tmp_path_factory.mktemp("rebuilt")
    (context / "Dockerfile").write_text(f"FROM demo/products:v1\nLABEL demo.rebuilt={uuid.uuid4().hex}\n")
    rebuilt = engine.local().build(
        context=context, dockerfile=context / "Dockerfile", tag="demo/products:v1", build_args={}, output=lambda _: None
    )
    assert rebuilt
    load = start_load(deployed, mix={"products.list": 1})
    try:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
        stack.deploy(stack.StackSettings(gateway_port=int(deployed.rsplit(":", 1)[1])))
        stack.wait_converged(services=["products"], since=since, timeout=300, quiet=True)
        time.sleep(DNS_REFRESH)
    finally:
        report = load.stop()
    assert_no_failures(report)
    images = {c.image_id for c in engine.local().containers({SERVICE_NAME_LABEL: "demo_products"}, status="running")}
    assert images == {rebuilt}
