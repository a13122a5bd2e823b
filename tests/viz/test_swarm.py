"""viz against this machine's swarm: its picture agrees with `docker service ps` and follows changes within seconds."""

import time

import pytest
import requests

from common.waiting import wait_until
from ops import engine
from tests.viz.conftest import ServiceUnderTest, service_tasks, viz_state

pytestmark = pytest.mark.swarm


def _ps_view(service: ServiceUnderTest) -> set[tuple[str, int, str, str]]:
    view = set()
    for task in service.ps():
        view.add((task.id, task.slot, task.node, task.state))
    return view


def _viz_view(state: dict, service: ServiceUnderTest) -> set[tuple[str, int, str, str]]:
    return {
        (task["id"], task["slot"], task["hostname"], task["state"])
        for task in service_tasks(state, service.name)
        if task["desired_state"] == "running"
    }


def test_state_matches_docker_service_ps(swarm_viz, test_service: ServiceUnderTest) -> None:
    test_service.wait_running(2)
    time.sleep(1)

    state = viz_state(swarm_viz)

    assert _viz_view(state, test_service) == _ps_view(test_service)
    tasks = service_tasks(state, test_service.name)
    assert all(task["image"] == test_service.images["v1"] for task in tasks)
    assert all(task["version"] == test_service.images["v1"].rsplit(":", 1)[1] for task in tasks)
    assert all(task["container_id"] for task in tasks)
    (service,) = [s for s in state["services"] if s["name"] == test_service.name]
    assert service == {**service, "replicas": 2, "mode": "replicated", "image": test_service.images["v1"]}
    manager = next(node for node in state["nodes"] if node["role"] == "manager")
    assert manager["state"] == "ready"
    assert state["generated_at"].endswith("Z")

    # Without JavaScript the same picture is rendered by the server and refreshed by the browser.
    page = requests.get(f"{swarm_viz.url}/", timeout=5)
    assert page.status_code == 200
    assert '<noscript><meta http-equiv="refresh"' in page.text
    assert all(f'data-task-id="{task["id"]}"' in page.text for task in tasks)


def test_local_tasks_carry_their_container_health(swarm_viz, test_service: ServiceUnderTest) -> None:
    def all_healthy() -> bool:
        tasks = service_tasks(viz_state(swarm_viz), test_service.name)
        return len(tasks) >= 2 and all(task["health"] == "healthy" for task in tasks)

    wait_until("viz reporting the test tasks healthy", all_healthy, timeout=20, interval=0.05)


def test_scaled_up_tasks_appear_within_seconds(swarm_viz, test_service: ServiceUnderTest) -> None:
    known = {task["id"] for task in service_tasks(viz_state(swarm_viz), test_service.name)}
    test_service.scale(4)
    scaled_at = time.monotonic()

    def four_tasks() -> bool:
        return len(service_tasks(viz_state(swarm_viz), test_service.name)) == 4

    wait_until("4 tasks in viz's picture", four_tasks, timeout=5, interval=0.05)
    seen_after = time.monotonic() - scaled_at
    new = {task["id"] for task in service_tasks(viz_state(swarm_viz), test_service.name)} - known
    print(f"\nviz showed the 2 new tasks {seen_after:.2f}s after `docker service scale` returned")
    assert len(new) == 2

    test_service.wait_running(4)
    time.sleep(1)
    assert _viz_view(viz_state(swarm_viz), test_service) == _ps_view(test_service)


def test_a_killed_container_is_seen_failing_and_replaced(swarm_viz, test_service: ServiceUnderTest) -> None:
    test_service.wait_running(4)
    local = [task for task in service_tasks(viz_state(swarm_viz), test_service.name) if task["state"] == "running"]
    victim = local[0]
    engine.local().kill(victim["container_id"])
    killed_at = time.monotonic()

    def victim_ended() -> bool:
        every = service_tasks(viz_state(swarm_viz), test_service.name, active_only=False)
        return any(task["id"] == victim["id"] and task["state"] in {"failed", "shutdown", "complete"} for task in every)

    wait_until("the killed task shown as ended", victim_ended, timeout=5, interval=0.05)
    print(f"\nviz showed the killed task ended {time.monotonic() - killed_at:.2f}s after `docker kill`")

    def slot_refilled() -> bool:
        tasks = service_tasks(viz_state(swarm_viz), test_service.name)
        return any(task["slot"] == victim["slot"] and task["id"] != victim["id"] for task in tasks)

    wait_until(f"a new task in slot {victim['slot']}", slot_refilled, timeout=20, interval=0.05)
