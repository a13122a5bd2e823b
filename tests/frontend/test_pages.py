"""The frontend against the real system (gateway, services, Redis), driven over HTTP like a browser."""

import json
import re
import socket
import uuid

import pytest

from ops.local import LocalSystem
from tests.frontend.site import Browser, banners, field_errors, flashes, forms_of, text_of, title_of

HOST = socket.gethostname()

pytestmark = pytest.mark.integration


def make_customer(browser: Browser, name: str | None = None) -> dict:
    response = browser.api("POST", "/api/customers/", json={"name": name or f"Cust {uuid.uuid4().hex[:8]}",
                                                            "address": "1 Main St\nSpringfield"})  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()


def make_product(browser: Browser, name: str | None = None, price: str = "12.50") -> dict:
    response = browser.api("POST", "/api/products/", json={"name": name or f"Prod {uuid.uuid4().hex[:8]}",
                                                           "unit_price": price})  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize(
    ("path", "title", "heading"),
    [
        ("/", "Overview · Invoicing", "Overview"),
        ("/customers/", "Customers · Invoicing", "Customers"),
        ("/products/", "Products · Invoicing", "Products"),
        ("/invoices/", "Invoices · Invoicing", "Invoices"),
        ("/customers/new/", "New customer · Invoicing", "New customer"),
        ("/products/new/", "New product · Invoicing", "New product"),
    ],
)
def test_pages_render_with_title_and_heading(browser: Browser, path: str, title: str, heading: str) -> None:
    response = browser.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert title_of(response.text) == title
    assert f"<h1>{heading}</h1>" in response.text
    assert banners(response.text) == []


def test_footer_shows_which_container_and_version_served_each_api_call(browser: Browser) -> None:
    response = browser.get("/")
    footer = text_of(response.text.split('<footer class="site-footer">')[1])
    assert "API calls on this page (3)" in footer
    for path in ("/api/customers/?limit=5", "/api/products/?limit=5", "/api/invoices/?limit=5"):
        assert re.search(rf"GET {re.escape(path)} 200 {re.escape(HOST)} v\S+ \d+ ms", footer), footer
    assert f"Page rendered by frontend {HOST}" in footer


def test_request_id_reaches_the_apis(browser: Browser, frontend_system: LocalSystem) -> None:
    request_id = f"fe-test-{uuid.uuid4().hex}"
    response = browser.get("/customers/", headers={"X-Request-ID": request_id})
    assert response.headers["X-Request-ID"] == request_id
    log = [json.loads(line) for line in frontend_system.gateway_access_log.read_text().splitlines() if line[:1] == "{"]
    uris = {entry["uri"] for entry in log if entry["request_id"] == request_id}
    assert any(uri.startswith("/api/customers/") for uri in uris)


def test_create_customer_through_the_form(browser: Browser) -> None:
    page = browser.get("/customers/new/")
    (form,) = forms_of(page)
    assert "csrfmiddlewaretoken" in form.fields

    response = browser.submit(form, allow_redirects=False, name="Ada Lovelace", address="12 Analytical Way\nLondon")
    assert response.status_code == 302
    detail = browser.get(response.headers["Location"])
    assert detail.status_code == 200
    assert title_of(detail.text) == "Ada Lovelace · Invoicing"
    assert flashes(detail.text) == ["Customer “Ada Lovelace” was created."]
    assert "12 Analytical Way\nLondon" in detail.text
    assert "No invoices for this customer yet." in detail.text
    # The flash is shown once.
    assert flashes(browser.get(detail.url).text) == []


@pytest.mark.parametrize(
    ("path", "values", "changed", "listing", "flash"),
    [
        (
            "/customers/new/",
            {"address": "1 Double Click Lane"},
            {"address": "2 Double Click Lane"},
            "/api/customers/?limit=100",
            "That form was already submitted: customer “{name}” exists once.",
        ),
        (
            "/products/new/",
            {"unit_price": "4.20"},
            {"unit_price": "4.30"},
            "/api/products/?limit=100",
            "That form was already submitted: product “{name}” exists once.",
        ),
    ],
)
def test_the_same_create_form_sent_twice_creates_one_entity(
    browser: Browser, path: str, values: dict, changed: dict, listing: str, flash: str
) -> None:
    (form,) = forms_of(browser.get(path))
    name = f"Twice {uuid.uuid4().hex[:8]}"
    # A refused submission renders the form again with the same key.
    (kept,) = forms_of(browser.submit(form, name="", **values))
    assert kept.fields["idempotency_key"] == form.fields["idempotency_key"]

    first = browser.submit(form, name=name, **values)
    again = browser.submit(form, name=name, **values)
    assert again.url == first.url
    assert flashes(again.text) == [flash.format(name=name)]
    # The same key with other values creates nothing and says why, above the form.
    refused = browser.submit(form, name=name, **changed)
    assert refused.status_code == 200
    assert "already used for a different" in text_of(refused.text)
    names = [entity["name"] for entity in browser.api("GET", listing).json()["results"]]
    assert names.count(name) == 1

    # A fresh render gets a fresh key.
    (fresh,) = forms_of(browser.get(path))
    assert fresh.fields["idempotency_key"] != form.fields["idempotency_key"]


def test_customer_form_errors_are_shown_next_to_the_field(browser: Browser) -> None:
    (form,) = forms_of(browser.get("/customers/new/"))
    missing = browser.submit(form, name="", address="Somewhere")
    assert missing.status_code == 200
    assert field_errors(missing.text) == {"name": ["This field is required."]}

    # Length is the API's rule: its 400 lands on the same field, and what was typed is kept.
    too_long = browser.submit(form, name="x" * 201, address="Somewhere")
    assert too_long.status_code == 200
    assert field_errors(too_long.text) == {"name": ["Ensure this field has no more than 200 characters."]}
    assert forms_of(too_long)[0].fields["address"] == "Somewhere"


def test_edit_customer(browser: Browser) -> None:
    customer = make_customer(browser, "Before Rename")
    page = browser.get(f"/customers/{customer['id']}/edit/")
    assert title_of(page.text) == "Edit Before Rename · Invoicing"
    (form,) = forms_of(page)
    assert form.fields["name"] == "Before Rename"

    response = browser.submit(form, name="After Rename")
    assert response.url.endswith(f"/customers/{customer['id']}/")
    assert "<h1>After Rename</h1>" in response.text
    assert flashes(response.text) == ["Customer “After Rename” was saved."]


def test_delete_customer_asks_first_and_needs_a_post(browser: Browser) -> None:
    customer = make_customer(browser, "To Be Deleted")
    confirm = browser.get(f"/customers/{customer['id']}/delete/")
    assert confirm.status_code == 200
    assert "<h1>Delete To Be Deleted?</h1>" in confirm.text
    assert browser.api("GET", f"/api/customers/{customer['id']}/").status_code == 200

    (form,) = [f for f in forms_of(confirm) if f.method == "post"]
    response = browser.submit(form)
    assert response.url.endswith("/customers/")
    assert flashes(response.text) == ["The customer was deleted. Their invoices are kept."]
    assert browser.api("GET", f"/api/customers/{customer['id']}/").status_code == 404
    gone = browser.get(f"/customers/{customer['id']}/")
    assert gone.status_code == 404
    assert "<h1>Page not found</h1>" in gone.text


def test_customer_list_pages_with_the_api_cursor(browser: Browser) -> None:
    tag = uuid.uuid4().hex[:6]
    created = {make_customer(browser, f"Paged {tag} {n:02d}")["name"] for n in range(25)}
    seen: list[str] = []
    page = browser.get("/customers/")
    for _ in range(50):
        names = re.findall(r'<td data-label="Name"><a href="/customers/[0-9a-f-]+/">(.*?)</a>', page.text)
        assert len(names) <= 20
        seen.extend(names)
        next_link = re.search(r'<a class="button button-quiet" rel="next" href="(\?cursor=[^"]+)">Next page', page.text)
        if not next_link:
            break
        page = browser.get("/customers/" + next_link.group(1).replace("&amp;", "&"))
        assert page.status_code == 200
    assert created <= set(seen)
    assert len(seen) == len(set(seen)), "a customer appeared on two pages"
    # Newest first: the last one created is on the first page, above the first one created.
    ours = [name for name in seen if name.startswith(f"Paged {tag}")]
    assert ours == sorted(ours, reverse=True)


def test_products_create_edit_and_price_errors(browser: Browser) -> None:
    (form,) = forms_of(browser.get("/products/new/"))
    bad = browser.submit(form, name="Widget", unit_price="-1")
    assert field_errors(bad.text) == {"unit_price": ["Ensure this value is greater than or equal to 0."]}
    bad = browser.submit(form, name="Widget", unit_price="1.234")
    assert field_errors(bad.text) == {"unit_price": ["Ensure that there are no more than 2 decimal places."]}
    bad = browser.submit(form, name="Widget", unit_price="cheap")
    assert field_errors(bad.text) == {"unit_price": ["Enter a number."]}

    name = f"Widget {uuid.uuid4().hex[:6]}"
    listing = browser.submit(form, name=name, unit_price="12.5")
    assert listing.url.endswith("/products/")
    assert flashes(listing.text) == [f"Product “{name}” was created at 12.50."]
    row = re.search(rf"<td data-label=\"Name\">{name}</td>\s*<td[^>]*>(.*?)</td>", listing.text)
    assert row
    assert row.group(1) == "12.50"

    edit_link = re.search(rf'href="(/products/[0-9a-f-]+/edit/)" aria-label="Edit {name}"', listing.text).group(1)
    (edit_form,) = forms_of(browser.get(edit_link))
    assert edit_form.fields["unit_price"] == "12.50"
    saved = browser.submit(edit_form, unit_price="13.00")
    assert flashes(saved.text) == [f"Product “{name}” was saved."]
    assert f'<td data-label="Name">{name}</td>' in saved.text
    assert ">13.00</td>" in saved.text


def test_invoice_from_the_customer_page_with_total_and_no_double_submit(browser: Browser) -> None:
    customer = make_customer(browser)
    product = make_product(browser, price="12.50")
    page = browser.get(f"/customers/{customer['id']}/")
    form = next(f for f in forms_of(page) if f.action.endswith("/invoices/"))
    assert (product["id"], f"{product['name']} — 12.50") in form.options["product_id"]
    assert uuid.UUID(form.fields["idempotency_key"])

    first = browser.submit(form, product_id=product["id"], quantity="2")
    assert first.url.endswith(f"/customers/{customer['id']}/#invoices") or first.url.endswith(
        f"/customers/{customer['id']}/"
    )
    assert flashes(first.text) == [f"Invoice issued: 2 x {product['name']} = 25.00."]
    assert '<td data-label="Total" class="num total">25.00</td>' in first.text
    assert "Total of the invoices shown" in text_of(first.text)

    # The same rendered form sent again (double click, back + resubmit): still one invoice.
    again = browser.submit(form, product_id=product["id"], quantity="2")
    assert flashes(again.text) == ["That form was already submitted: invoice for 25.00 exists once."]
    invoices = browser.api("GET", f"/api/invoices/?customer={customer['id']}").json()["results"]
    assert len(invoices) == 1

    # A fresh render gets a fresh key and issues another invoice.
    fresh = next(f for f in forms_of(browser.get(f"/customers/{customer['id']}/")) if f.action.endswith("/invoices/"))
    assert fresh.fields["idempotency_key"] != form.fields["idempotency_key"]
    browser.submit(fresh, product_id=product["id"], quantity="1")
    assert len(browser.api("GET", f"/api/invoices/?customer={customer['id']}").json()["results"]) == 2

    listing = browser.get("/invoices/")
    assert text_of(listing.text).count(customer["name"]) == 2
    # Newest first: the 12.50 invoice is listed before the 25.00 one.
    totals = re.findall(
        r'data-label="Customer"><a href="/customers/'
        + customer["id"]
        + r'/">.*?data-label="Total" class="num total">([\d.]+)<',
        listing.text,
        re.DOTALL,
    )
    assert totals == ["12.50", "25.00"]


def test_invoice_errors_are_shown_next_to_the_fields(browser: Browser) -> None:
    customer = make_customer(browser)
    product = make_product(browser)
    form = next(f for f in forms_of(browser.get(f"/customers/{customer['id']}/")) if f.action.endswith("/invoices/"))

    zero = browser.submit(form, product_id=product["id"], quantity="0")
    assert zero.status_code == 200
    assert field_errors(zero.text) == {"quantity": ["Ensure this value is greater than or equal to 1."]}
    no_product = browser.submit(form, product_id="", quantity="1")
    assert field_errors(no_product.text) == {"product_id": ["This field is required."]}
    unknown = browser.submit(form, product_id=str(uuid.uuid4()), quantity="1")
    assert list(field_errors(unknown.text)) == ["product_id"]
    assert browser.api("GET", f"/api/invoices/?customer={customer['id']}").json()["results"] == []


def test_invoice_detail(browser: Browser) -> None:
    customer = make_customer(browser, "Detail Person")
    product = make_product(browser, "Detail Thing", "3.30")
    invoice = browser.api(
        "POST", "/api/invoices/", json={"customer_id": customer["id"], "product_id": product["id"], "quantity": 3}
    ).json()
    page = browser.get(f"/invoices/{invoice['id']}/")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "To Detail Person 1 Main St Springfield Product Detail Thing Quantity 3 Unit price 3.30 Total 9.90" in text


def test_unknown_pages_are_html_404s(browser: Browser) -> None:
    for path in ("/nope/", f"/customers/{uuid.uuid4()}/", f"/invoices/{uuid.uuid4()}/", "/customers/?cursor=garbage"):
        response = browser.get(path)
        assert response.status_code == 404, path
        assert response.headers["Content-Type"].startswith("text/html")
        assert title_of(response.text) == "Page not found · Invoicing"


def test_a_form_without_csrf_token_is_refused(browser: Browser) -> None:
    response = browser.session.post(browser.base_url + "/customers/new/", data={"name": "x", "address": "y"},
                                    timeout=10)  # fmt: skip
    assert response.status_code == 403
    assert "This form has expired" in response.text


def test_get_never_changes_anything(browser: Browser) -> None:
    customer = make_customer(browser)
    # The invoice form's target, reached by GET (e.g. after signing in), only leads back to the form.
    response = browser.get(f"/customers/{customer['id']}/invoices/", allow_redirects=False)
    assert (response.status_code, response.headers["Location"]) == (302, f"/customers/{customer['id']}/")
    browser.get(f"/customers/{customer['id']}/delete/")
    assert browser.api("GET", f"/api/customers/{customer['id']}/").status_code == 200
    assert browser.api("GET", f"/api/invoices/?customer={customer['id']}").json()["results"] == []


def test_stylesheet_is_served_by_the_app(browser: Browser) -> None:
    response = browser.get("/static/frontend/style.css")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert "@media (max-width: 40rem)" in response.text


def test_health_endpoints_on_the_process_but_not_through_the_gateway(
    browser: Browser, frontend_system: LocalSystem
) -> None:
    direct = Browser(f"http://127.0.0.1:{frontend_system.ports.frontend}")
    assert direct.get("/healthz").json() == {"status": "ok"}
    assert direct.get("/readyz").status_code == 200
    assert "http_requests" in direct.get("/metrics").text or direct.get("/metrics").status_code == 200
    for path in ("/healthz", "/readyz", "/metrics"):
        assert browser.get(path).status_code == 404
