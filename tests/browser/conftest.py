"""Debian's Chromium driven by Playwright (no browser download), headless, against the live system."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from ops.local import LocalSystem


@pytest.fixture(scope="session")
def ui_system(local_system: LocalSystem) -> LocalSystem:
    return local_system


@pytest.fixture
def visitor_page(chromium: Browser, ui_system: LocalSystem) -> Iterator[Page]:
    """An anonymous visitor's tab."""
    context = chromium.new_context(base_url=ui_system.gateway_url, viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def sign_in(page: Page, system: LocalSystem) -> None:
    """Fill in the sign-in form the page shows, as the operator."""
    page.get_by_label("Username").fill(system.credentials.operator_username)
    page.get_by_label("Password").fill(system.credentials.operator_password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {system.credentials.operator_username}")).to_be_visible()


@pytest.fixture
def page(visitor_page: Page, ui_system: LocalSystem) -> Page:
    """The operator's tab, signed in through the sign-in page."""
    visitor_page.goto("/sign-in/")
    sign_in(visitor_page, ui_system)
    return visitor_page
