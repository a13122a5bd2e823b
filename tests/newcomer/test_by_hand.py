"""The by-hand recipe in swarm-stack.yml's header, run literally, deploys a healthy stack.

The recipe is read from the file (so the test follows it when it changes) and run with bash in
a copy of the committed tree, the way a user runs it from a fresh clone. The one step skipped is
`docker swarm init` when the engine already is in a swarm, as its own comment says.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ops import engine, stack
from tests.processes import REPO_ROOT, docker_unusable

pytestmark = [pytest.mark.newcomer, pytest.mark.timeout(1800)]

STACK_FILE = REPO_ROOT / "swarm-stack.yml"
# The fixed names the recipe gives its secrets (ops.stack names its own after their values).
RECIPE_SECRETS = ["demo_secret_key", "demo_api_token", "demo_operator_password", "demo_redis_password"]


def recipe() -> list[str]:
    """The recipe's command lines, as written in the header: from "By hand" to the deploy."""
    header = [line.removeprefix("#").rstrip() for line in STACK_FILE.read_text().splitlines() if line.startswith("#")]
    start = next(i for i, line in enumerate(header) if line.startswith(" By hand")) + 1
    lines: list[str] = []
    for line in header[start:]:
        lines.append(line.strip())
        if line.strip().startswith("docker stack deploy"):
            return lines
    raise AssertionError("the header's recipe has no `docker stack deploy` line")


def clear_engine() -> None:
    """No stack and none of the recipe's secrets: what a fresh engine has."""
    stack.remove(stack.STACK, volumes=False, timeout=300)
    for name in RECIPE_SECRETS:
        if engine.local().secret_exists(name):
            assert engine.local().secret_remove(name), f"secret {name} is still in use"


@pytest.fixture
def checkout() -> Iterator[Path]:
    """The committed tree, as a fresh clone has it."""
    if reason := docker_unusable():
        pytest.skip(reason)
    with tempfile.TemporaryDirectory(prefix="by-hand-") as directory:
        archive = subprocess.run(["git", "archive", "HEAD"], cwd=REPO_ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", directory], input=archive.stdout, check=True)
        yield Path(directory)


def test_the_recipe_in_the_stack_file_deploys_a_healthy_stack(checkout: Path) -> None:
    # The images the recipe expects (make images: the default tag and registry).
    subprocess.run(["make", "images"], cwd=REPO_ROOT, check=True, timeout=1500)
    clear_engine()
    lines = recipe()
    in_swarm = engine.local().swarm_state() == "active"
    script = [line for line in lines if not (in_swarm and line.startswith("docker swarm init"))]
    assert len(script) >= len(lines) - 1
    print("\n$ " + "\n$ ".join(script), flush=True)

    try:
        subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(script)], cwd=checkout, check=True, timeout=300)
        stack.wait_converged(timeout=600)
        token = (checkout / ".run" / "secrets" / "api_token").read_text().strip()
        base = f"http://127.0.0.1:{stack.published_port() or 80}"
        anonymous = requests.post(f"{base}/api/products/", json={"name": "By hand", "unit_price": "1.00"}, timeout=30)
        written = requests.post(
            f"{base}/api/products/",
            json={"name": "By hand", "unit_price": "1.00"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        page = requests.get(f"{base}/", timeout=30)

        assert anonymous.status_code == 401, anonymous.text
        assert written.status_code == 201, written.text
        assert page.status_code == 200
    finally:
        clear_engine()
