"""What a user sees in a real browser: create data through the forms, totals, served-by, outages, phones."""

import signal
import socket
import uuid
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from ops.local import LocalSystem
from tests.browser.conftest import sign_in
from tests.chromium import screenshot
from tests.frontend.site import running_system

pytestmark = pytest.mark.browser

HOST = socket.gethostname()


def create_product(page: Page, name: str, price: str) -> None:
    page.goto("/products/new/")
    expect(page).to_have_title("New product · Invoicing")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Unit price").fill(price)
    page.get_by_role("button", name="Create product").click()
    expect(page.get_by_role("status")).to_have_text(f"Product “{name}” was created at {price}.")


def create_customer(page: Page, name: str, address: str) -> None:
    page.goto("/customers/new/")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Address").fill(address)
    page.get_by_role("button", name="Create customer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def test_customer_product_and_invoice_through_the_ui(page: Page, ui_system: LocalSystem) -> None:
    product = f"Espresso machine {uuid.uuid4().hex[:4]}"
    create_product(page, product, "12.50")
    create_product(page, f"Descaler {uuid.uuid4().hex[:4]}", "3.20")
    expect(page.get_by_role("cell", name=product, exact=True)).to_be_visible()
    screenshot(page, "products")

    create_customer(page, "Grace Hopper", "1 Compiler Lane\nArlington, VA")
    expect(page.get_by_role("status")).to_have_text("Customer “Grace Hopper” was created.")
    expect(page.get_by_text("No invoices for this customer yet.")).to_be_visible()

    page.get_by_label("Product").select_option(label=f"{product} — 12.50")
    page.get_by_label("Quantity").fill("3")
    page.get_by_role("button", name="Issue invoice").click()
    expect(page.get_by_role("status")).to_have_text(f"Invoice issued: 3 x {product} = 37.50.")
    invoices = page.locator("#invoices table")
    expect(invoices.locator("tbody td[data-label=Total]")).to_have_text(["37.50"])
    expect(invoices.locator("tfoot")).to_contain_text("37.50")

    page.get_by_label("Product").select_option(label=f"{product} — 12.50")
    page.get_by_label("Quantity").fill("1")
    page.get_by_role("button", name="Issue invoice").click()
    expect(invoices.locator("tbody td[data-label=Total]")).to_have_text(["12.50", "37.50"])
    expect(invoices.locator("tfoot")).to_contain_text("50.00")

    calls = page.locator("table.calls")
    expect(calls).to_contain_text("GET /api/customers/")
    expect(calls).to_contain_text("GET /api/invoices/?limit=20&customer=")
    expect(calls.locator("td.served-by").first).to_have_text(HOST)
    expect(page.locator(".rendered-by")).to_contain_text(f"Page rendered by frontend {HOST}")
    screenshot(page, "customer-detail")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    expect(page.get_by_role("link", name="Grace Hopper")).to_be_visible()
    screenshot(page, "customers")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices").click()
    expect(page).to_have_title("Invoices · Invoicing")
    expect(page.locator("tbody tr").first).to_contain_text("Grace Hopper")
    screenshot(page, "invoices")

    page.get_by_role("link", name="Invoicing", exact=True).click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    screenshot(page, "overview")


def test_double_click_on_issue_invoice_makes_one_invoice(page: Page, ui_system: LocalSystem) -> None:
    product = f"Kettle {uuid.uuid4().hex[:4]}"
    create_product(page, product, "20.00")
    create_customer(page, f"Double Clicker {uuid.uuid4().hex[:4]}", "3 Fast Road")
    customer_id = page.url.rstrip("/").split("/")[-1]
    page.get_by_label("Product").select_option(label=f"{product} — 20.00")
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Issue invoice").dblclick()
    expect(page.locator("#invoices tbody td[data-label=Total]")).to_have_text(["40.00"])
    page.reload()
    expect(page.locator("#invoices tbody tr")).to_have_count(1)
    api = requests.get(f"{ui_system.gateway_url}/api/invoices/?customer={customer_id}", timeout=10).json()
    assert len(api["results"]) == 1


def test_a_visitor_browses_and_signs_in_to_create(visitor_page: Page, ui_system: LocalSystem) -> None:
    page = visitor_page
    page.goto("/products/")
    page.get_by_role("link", name="New product").click()

    expect(page).to_have_title("Sign in · Invoicing")
    sign_in(page, ui_system)
    expect(page).to_have_title("New product · Invoicing")
    name = f"Session kettle {uuid.uuid4().hex[:4]}"
    page.get_by_label("Name").fill(name)
    page.get_by_label("Unit price").fill("3.00")
    page.get_by_role("button", name="Create product").click()
    expect(page.get_by_role("status")).to_have_text(f"Product “{name}” was created at 3.00.")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    page.goto("/customers/new/")
    expect(page).to_have_title("Sign in · Invoicing")


def test_form_errors_are_shown_next_to_the_field(page: Page) -> None:
    page.goto("/products/new/")
    page.get_by_label("Name").fill("Bad price")
    page.get_by_label("Unit price").fill("-5")
    page.get_by_role("button", name="Create product").click()
    expect(page.locator("#id_unit_price-error")).to_have_text("Ensure this value is greater than or equal to 0.")
    expect(page.get_by_label("Name")).to_have_value("Bad price")


def test_delete_asks_for_confirmation(page: Page) -> None:
    create_customer(page, "Short Lived", "Nowhere")
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete Short Lived?")
    page.get_by_role("button", name="Yes, delete").click()
    expect(page).to_have_title("Customers · Invoicing")
    expect(page.get_by_role("status")).to_have_text("The customer was deleted. Their invoices are kept.")


def test_not_found_page(page: Page) -> None:
    response = page.goto(f"/customers/{uuid.uuid4()}/")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")


@pytest.mark.parametrize("path", ["/customers/", "customer", "/products/", "/invoices/"])
def test_phone_width_has_no_sideways_scrolling(chromium: Browser, ui_system: LocalSystem, path: str) -> None:
    context = chromium.new_context(
        base_url=ui_system.gateway_url,
        viewport={"width": 375, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    try:
        if path == "customer":
            page.goto("/customers/")
            page.locator("td[data-label=Name] a").first.click()
            expect(page.locator("#new-invoice")).to_be_visible()
        else:
            page.goto(path)
        # Tables turn into stacked cards: no header row, every row fits the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        expect(page.locator("table.data thead").first).to_be_hidden()
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        box = page.locator("main table.data tbody tr").first.bounding_box()
        assert box is not None
        assert box["width"] <= 375
        name = "phone-" + ("customer-detail" if path == "customer" else path.strip("/"))
        screenshot(page, name)
    finally:
        context.close()


@pytest.fixture(scope="module")
def invoices_down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalSystem, str]]:
    with running_system(tmp_path_factory.mktemp("browser-invoices-down")) as system:
        customer = requests.post(
            f"{system.gateway_url}/api/customers/", json={"name": "Resilient Ltd", "address": "9 Fallback Road"},
            headers=system.credentials.api_headers(), timeout=10,
        ).json()  # fmt: skip
        invoices = system.child("invoices").process
        invoices.send_signal(signal.SIGTERM)
        invoices.wait(timeout=30)
        yield system, customer["id"]


def test_banner_when_invoices_is_down(chromium: Browser, invoices_down: tuple[LocalSystem, str]) -> None:
    system, customer_id = invoices_down
    context = chromium.new_context(base_url=system.gateway_url, viewport={"width": 1200, "height": 800})
    page = context.new_page()
    try:
        response = page.goto(f"/customers/{customer_id}/")
        assert response is not None
        assert response.status == 200
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Service unavailable. The invoices service is unavailable right now")
        expect(page.get_by_role("heading", level=1)).to_have_text("Resilient Ltd")
        expect(page.get_by_text("9 Fallback Road")).to_be_visible()
        expect(page.locator("tr.call-failed")).to_contain_text("502")
        screenshot(page, "error-banner")
    finally:
        context.close()
