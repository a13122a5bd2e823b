"""A dependency that is down, unreachable or too slow becomes a banner on a page that still works."""

import signal
import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from ops.local import LocalSystem
from tests.frontend.site import Browser, banners, field_errors, forms_of, text_of, title_of
from tests.processes import TEST_CREDENTIALS, Gunicorn, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def invoices_down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalSystem, dict, dict]]:
    """A system of its own whose invoices process has been stopped (by its PID)."""
    from tests.frontend.site import running_system

    with running_system(tmp_path_factory.mktemp("invoices-down")) as system:
        browser = Browser(system.gateway_url, system.credentials)
        customer = browser.api("POST", "/api/customers/", json={"name": "Still Here", "address": "2 Side St"}).json()
        product = browser.api("POST", "/api/products/", json={"name": "Gadget", "unit_price": "4.00"}).json()
        invoices = system.child("invoices").process
        invoices.send_signal(signal.SIGTERM)
        invoices.wait(timeout=30)
        yield system, customer, product


def test_customer_page_still_shows_the_customer_when_invoices_is_down(invoices_down) -> None:
    system, customer, _product = invoices_down
    page = Browser(system.gateway_url).get(f"/customers/{customer['id']}/")
    assert page.status_code == 200
    assert title_of(page.text) == "Still Here · Invoicing"
    assert "2 Side St" in page.text
    (banner,) = banners(page.text)
    assert banner.startswith("Service unavailable. The invoices service is unavailable right now")
    assert "Invoices cannot be shown right now." in page.text
    footer = text_of(page.text.split('<footer class="site-footer">')[1])
    assert f"GET /api/invoices/?limit=20&customer={customer['id']} 502" in footer


def test_invoice_form_keeps_its_input_when_invoices_is_down(invoices_down) -> None:
    system, customer, product = invoices_down
    browser = Browser(system.gateway_url, system.credentials)
    browser.sign_in()
    form = next(f for f in forms_of(browser.get(f"/customers/{customer['id']}/")) if f.action.endswith("/invoices/"))
    response = browser.submit(form, product_id=product["id"], quantity="7")
    assert response.status_code == 200
    assert any("invoices service" in banner for banner in banners(response.text))
    kept = next(f for f in forms_of(response) if f.action.endswith("/invoices/"))
    assert kept.fields["quantity"] == "7"
    assert kept.fields["product_id"] == product["id"]
    # Same key on the retry: once invoices is back, resubmitting cannot issue two invoices.
    assert kept.fields["idempotency_key"] == form.fields["idempotency_key"]


@pytest.mark.parametrize("path", ["/", "/invoices/"])
def test_other_pages_show_the_banner_and_the_rest(invoices_down, path: str) -> None:
    system, _customer, _product = invoices_down
    page = Browser(system.gateway_url).get(path)
    assert page.status_code == 200
    assert len(banners(page.text)) == 1
    if path == "/":
        assert "Still Here" in page.text
        assert "Gadget" in page.text


@pytest.fixture(scope="module")
def frontend_alone_unreachable() -> Iterator[Gunicorn]:
    """A frontend whose API_URL is a closed port: every API call is refused."""
    closed_port = free_port()
    frontend = Gunicorn("frontend", {"API_URL": f"http://127.0.0.1:{closed_port}", "WEB_CONCURRENCY": "1"})
    frontend.start()
    yield frontend
    frontend.stop()


@pytest.mark.parametrize("path", ["/", "/customers/", "/products/", "/invoices/", "/customers/new/"])
def test_every_page_renders_with_a_banner_when_the_gateway_is_unreachable(frontend_alone_unreachable, path) -> None:
    browser = Browser(frontend_alone_unreachable.url, TEST_CREDENTIALS)
    browser.sign_in()
    page = browser.get(path)
    assert page.status_code == 200
    assert "<h1>" in page.text
    for banner in banners(page.text):
        assert "cannot be reached" in banner


def test_unreachable_service_is_named_in_the_footer_and_form_input_is_kept(frontend_alone_unreachable) -> None:
    browser = Browser(frontend_alone_unreachable.url, TEST_CREDENTIALS)
    browser.sign_in()
    page = browser.get("/")
    assert {b.split(". ")[1] for b in banners(page.text)} == {
        "The customers service cannot be reached",
        "The products service cannot be reached",
        "The invoices service cannot be reached",
    }
    assert "GET /api/customers/?limit=5 unreachable" in text_of(page.text)

    (form,) = forms_of(browser.get("/customers/new/"))
    response = browser.submit(form, name="Kept Name", address="Kept Address")
    assert response.status_code == 200
    assert forms_of(response)[0].fields["name"] == "Kept Name"
    assert field_errors(response.text) == {}
    (banner,) = banners(response.text)
    assert banner.startswith("Service unavailable. The customers service cannot be reached.")


def test_a_service_that_never_answers_times_out_into_a_banner() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # accepts connections (kernel backlog) and never answers
    frontend = Gunicorn(
        "frontend",
        {
            "API_URL": f"http://127.0.0.1:{silent.getsockname()[1]}",
            "HTTP_READ_TIMEOUT": "0.5",
            "WEB_CONCURRENCY": "1",
        },
    )
    frontend.start()
    try:
        started = time.monotonic()
        page = Browser(frontend.url).get(f"/customers/{uuid.uuid4()}/")
        elapsed = time.monotonic() - started
    finally:
        frontend.stop()
        silent.close()
    assert page.status_code == 200
    assert "The customers service did not answer within 0.5 seconds." in banners(page.text)[0]
    # Three calls (customer, invoices, products), each bounded by the read timeout.
    assert elapsed < 5
