"""Debian's Chromium driven by Playwright (no browser download), headless, against the live system."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from ops.local import LocalSystem


@pytest.fixture(scope="session")
def ui_system(local_system: LocalSystem) -> LocalSystem:
    return local_system


@pytest.fixture
def page(chromium: Browser, ui_system: LocalSystem) -> Iterator[Page]:
    context = chromium.new_context(base_url=ui_system.gateway_url, viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
