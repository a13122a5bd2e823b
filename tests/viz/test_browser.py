"""The board in Debian's Chromium while the test service scales up and rolls to a new version.

Screenshots go to artifacts/screenshots/viz-*.png. The freshness printed is the time from
the engine marking a new task running (its own status timestamp) to the card saying so in
the page, plus the time from `docker service scale` returning to the new cards appearing.
"""

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from ops import engine
from tests.chromium import screenshot
from tests.viz.conftest import ServiceUnderTest, service_tasks, viz_state

pytestmark = [pytest.mark.browser, pytest.mark.swarm]


@pytest.fixture
def page(chromium: Browser, swarm_viz) -> Iterator[Page]:
    context = chromium.new_context(base_url=swarm_viz.url, viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def cards(page: Page, service: str, *, state: str | None = None):
    selector = f'article.task:not(.ended)[data-service="{service}"]'
    return page.locator(selector + (f".state-{state}" if state else ""))


def running_since(service: ServiceUnderTest, task_id: str) -> float:
    """When the engine marked the task running, as a Unix time."""
    [task] = [task for task in service.ps() if task.id == task_id]
    assert task.timestamp is not None
    return task.timestamp.timestamp()


def test_board_follows_a_scale_up_and_a_rolling_update(page: Page, swarm_viz, test_service: ServiceUnderTest) -> None:
    test_service.wait_running(2)
    page.goto("/")
    expect(page).to_have_title("Swarm · viz")
    expect(cards(page, test_service.name, state="running")).to_have_count(2)
    known = {task["id"] for task in service_tasks(viz_state(swarm_viz), test_service.name)}

    test_service.scale(4)
    scaled_at = time.monotonic()
    expect(cards(page, test_service.name)).to_have_count(4)
    appeared = time.monotonic() - scaled_at
    expect(cards(page, test_service.name, state="running")).to_have_count(4)
    shown_running_at = time.time()
    running = time.monotonic() - scaled_at
    new = [task["id"] for task in service_tasks(viz_state(swarm_viz), test_service.name) if task["id"] not in known]
    lag = shown_running_at - max(running_since(test_service, task_id) for task_id in new)
    screenshot(page, "viz-scaled-up")
    print(
        f"\nscale 2->4: new cards in the page {appeared:.2f}s after `docker service scale` returned, "
        f"all running {running:.2f}s after; page showed 'running' {lag:.2f}s after the engine recorded it"
    )
    assert appeared < 5
    assert lag < 3

    # One task moves to v2 (update-parallelism 1, update-delay 30s): old and new side by side.
    engine.local().service_update(test_service.name, image=test_service.images["v2"])
    new_version = test_service.images["v2"].rsplit(":", 1)[1]
    expect(
        page.locator(f'article.task.state-running[data-service="{test_service.name}"] .version', has_text=new_version)
    ).to_have_count(1, timeout=60_000)  # a new container's first healthcheck; slow on a busy machine
    time.sleep(1.5)
    path = screenshot(page, "viz-rolling-update")
    versions = set(
        page.locator(f'article.task:not(.ended)[data-service="{test_service.name}"] .version').all_inner_texts()
    )
    assert versions == {test_service.images["v1"].rsplit(":", 1)[1], new_version}
    colours = {
        page.locator(f'article.task:not(.ended)[data-service="{test_service.name}"]', has_text=v).first.evaluate(
            "el => getComputedStyle(el).borderLeftColor"
        )
        for v in versions
    }
    assert len(colours) == 2, "old and new versions must have different colours"
    print(f"screenshots: {path.parent}")
