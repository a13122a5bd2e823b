"""The deployed stack as a benchmark target (python -m bench --target swarm).

wrk runs in a one-off container that shares the network namespace of a gateway task on the engine
it is given (the single-node swarm's, or a cluster manager's): it reaches the gateway's internal
listener on 127.0.0.1:8081, which has no rate limit and is not published, and the services by
their names through Docker's DNS. Nothing of the stack changes for it: no port is published, no
network is made attachable, the public listener keeps its limit for everyone else. The client is
our own image (bench/wrk.Dockerfile: Debian's wrk on the python base), built once and kept.

Server CPU per request is read from the engines: the cgroup CPU time of every task container of
the gateway and the APIs, before and after each measured run (it includes what else runs in those
containers meanwhile, such as their healthchecks).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.seed import Dataset
from ops import bases
from ops.engine import Engine, EngineError, local
from ops.gateway_config import INTERNAL_PORT
from ops.services import API_SERVICES

BENCH_DIR = Path(__file__).resolve().parent
DOCKERFILE = BENCH_DIR / "wrk.Dockerfile"
IMAGE = "bench/wrk"
# Where the image keeps wrk.lua.
SCRIPT = "/bench/wrk.lua"
STACK = "demo"
# The servers on a request's path, whose tasks' CPU is counted (Redis is not, as in local mode).
MEASURED_SERVICES = ("gateway", *API_SERVICES)
SERVICE_PORT = 8000


class SwarmTargetError(RuntimeError):
    """The stack cannot be benchmarked: not deployed, no gateway task here, or the client cannot run."""


def deployed(stack: str = STACK, *, engine: Engine | None = None) -> bool:
    """A stack with a gateway service answers on this engine (a swarm manager)."""
    try:
        return (engine or local()).service(f"{stack}_gateway") is not None
    except EngineError:
        return False


def _python_base() -> str:
    """The python base the Django images were built on: the offline one when it is here, else the public one."""
    base = bases.BASES["python"]
    if bases.image_exists(base.offline):
        return base.offline
    chosen = bases.choose_bases(["python"], "auto", pull_timeout=20)["python"]
    if chosen is None:
        return base.public
    bases.build_offline_bases([chosen], force=False, mirror=None)
    return chosen.offline


def client_image(say: Callable[[str], None]) -> str:
    """bench/wrk:<digest of its inputs>, built on the local engine when missing."""
    base = _python_base()
    found = local().image(base)
    digest = hashlib.sha256((found.id if found else base).encode())
    for path in (DOCKERFILE, BENCH_DIR / "wrk.lua"):
        digest.update(path.read_bytes())
    ref = f"{IMAGE}:{digest.hexdigest()[:12]}"
    if local().image(ref) is None:
        say(f"building {ref} (Debian's wrk on {base})")
        local().build(
            context=BENCH_DIR, dockerfile=DOCKERFILE, tag=ref, build_args={"BASE_IMAGE": base}, output=lambda _: None
        )
    return ref


@dataclass
class SwarmTarget:
    """A deployed stack seen from inside one of its gateway tasks."""

    engine: Engine
    image: str
    gateway_container: str
    stack: str = STACK
    # Another engine of the swarm by node hostname (a cluster's workers); None: only `engine`'s containers.
    node_engine: Callable[[str], Engine] | None = None
    _engines: dict[str, Engine] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{INTERNAL_PORT}"

    @property
    def customers_direct(self) -> str:
        # Resolved once by wrk: one customers task, as local mode's direct scenario hits one process.
        return f"http://customers:{SERVICE_PORT}"

    def run(self, argv: Sequence[str], timeout: float) -> tuple[int, str, str]:
        """A command line in a throwaway container of the client image, in the gateway task's network."""
        del timeout  # the container ends with wrk, whose duration bounds it
        result = self.engine.run_to_end(
            self.image, list(argv), network=f"container:{self.gateway_container}", quiet=True
        )
        return result.returncode, result.stdout, result.stderr

    def discover(self) -> Dataset:
        """Ids of customers and products already there (the seed job's), read through the internal listener."""
        script = (
            "import json, sys, urllib.request\n"
            "ids = lambda path: [row['id'] for row in json.load(urllib.request.urlopen("
            "sys.argv[1] + path + '?limit=100', timeout=10))['results']]\n"
            "print(json.dumps([ids('/api/customers/'), ids('/api/products/')]))\n"
        )
        returncode, stdout, stderr = self.run(["python3", "-c", script, self.gateway], 60)
        if returncode != 0:
            raise SwarmTargetError(f"reading ids through the gateway failed: {stderr.strip() or stdout.strip()}")
        customers, products = json.loads(stdout.strip().splitlines()[-1])
        if not customers or not products:
            raise SwarmTargetError("the stack has no customers or no products (has its seed job run?)")
        return Dataset(customer_ids=customers, product_ids=products, hot_customer=customers[0])

    def _engine_of(self, node: str) -> Engine:
        if self.node_engine is None:
            return self.engine
        if node not in self._engines:
            self._engines[node] = self.node_engine(node)
        return self._engines[node]

    def task_containers(self) -> dict[str, list[tuple[str, str]]]:
        """Service -> (node, container id) of its running tasks."""
        names = [f"{self.stack}_{name}" for name in MEASURED_SERVICES]
        found: dict[str, list[tuple[str, str]]] = {name: [] for name in MEASURED_SERVICES}
        for task in self.engine.tasks(names, desired_state="running"):
            if task.running and task.container_id:
                found[task.service.removeprefix(f"{self.stack}_")].append((task.node, task.container_id))
        return found

    def pss_mb(self) -> dict[str, list[float]]:
        """API service -> unique memory (PSS, MB) of each running task: all its processes (gunicorn's
        master and workers), read inside the container, where they are the user's own processes."""
        tasks = self.task_containers()
        return {
            name: [_container_pss_mb(self._engine_of(node), container) for node, container in tasks[name]]
            for name in API_SERVICES
        }

    def cpu_seconds(self, containers: dict[str, list[tuple[str, str]]]) -> dict[str, float]:
        """Service -> CPU time its task containers' cgroups have used so far."""
        return {
            name: sum(self._engine_of(node).container_cpu_seconds(container) for node, container in tasks)
            for name, tasks in containers.items()
        }


# Run in a task container by its own python: the sum of every process's Pss but its own.
_PSS_SCRIPT = (
    "import glob, os\n"
    "own = f'/proc/{os.getpid()}/smaps_rollup'\n"
    "kb = 0\n"
    "for path in glob.glob('/proc/[0-9]*/smaps_rollup'):\n"
    "    if path != own:\n"
    "        try:\n"
    "            kb += sum(int(line.split()[1]) for line in open(path) if line.startswith('Pss:'))\n"
    "        except OSError:\n"
    "            pass\n"
    "print(kb)\n"
)


def _container_pss_mb(engine: Engine, container: str) -> float:
    result = engine.exec(container, ["python", "-c", _PSS_SCRIPT])
    if result.returncode != 0:
        raise SwarmTargetError(f"reading memory in {container[:12]} failed: {result.stderr.strip()}")
    return round(int(result.stdout.strip()) / 1024, 1)


def connect(
    *,
    engine: Engine | None = None,
    node_engine: Callable[[str], Engine] | None = None,
    stack: str = STACK,
    say: Callable[[str], None],
) -> SwarmTarget:
    """The deployed stack `stack` on `engine` (default: the local one), ready to be measured."""
    engine = engine or local()
    if not deployed(stack, engine=engine):
        raise SwarmTargetError(f"no stack {stack} with a gateway on {engine!r}")
    own_node = engine.own_node_id()
    gateways = [
        task
        for task in engine.tasks([f"{stack}_gateway"], desired_state="running")
        if task.running and task.node_id == own_node and task.container_id
    ]
    if not gateways:
        raise SwarmTargetError(f"no running gateway task on this engine's node ({engine!r})")
    image = client_image(say)
    if engine.base_url is not None and engine.image(image) is None:
        say(f"copying {image} to {engine!r}")
        local().image_copy(image, engine)
    return SwarmTarget(engine, image, gateways[0].container_id, stack=stack, node_engine=node_engine)
