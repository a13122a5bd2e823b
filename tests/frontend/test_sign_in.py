"""Anyone may browse; creating, editing and deleting need the operator's sign-in, and the frontend
never sends the API token on behalf of an anonymous visitor."""

import pytest

from ops.local import LocalSystem
from tests.frontend.site import Browser, field_errors, forms_of, text_of
from tests.frontend.test_pages import make_customer, make_product

pytestmark = pytest.mark.integration

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def write_lines(system: LocalSystem) -> list[dict]:
    """The gateway's access-log lines of API writes, on either listener."""
    from tests.integration.conftest import Gateway

    return [
        line for line in Gateway(system).access_log() if line["method"] in WRITES and line["uri"].startswith("/api/")
    ]


def write_pages(customer: dict, product: dict) -> list[str]:
    return [
        "/customers/new/",
        f"/customers/{customer['id']}/edit/",
        f"/customers/{customer['id']}/delete/",
        "/products/new/",
        f"/products/{product['id']}/edit/",
    ]


def test_an_anonymous_visitor_browses_and_is_sent_to_sign_in_for_every_write_page(visitor: Browser) -> None:
    customer, product = make_customer(visitor), make_product(visitor)

    for path in ("/", "/customers/", f"/customers/{customer['id']}/", "/products/", "/invoices/"):
        page = visitor.get(path)
        assert page.status_code == 200, path
        assert "Sign in" in text_of(page.text)
    assert "Sign in to issue an invoice." in text_of(visitor.get(f"/customers/{customer['id']}/").text)

    for path in write_pages(customer, product):
        response = visitor.get(path, allow_redirects=False)
        assert response.status_code == 302, path
        assert response.headers["Location"] == f"/sign-in/?next={path}", path


def test_an_anonymous_post_to_any_write_page_writes_nothing_and_sends_no_token(
    visitor: Browser, frontend_system: LocalSystem
) -> None:
    customer, product = make_customer(visitor), make_product(visitor)
    # A real CSRF token, as a forged form on another site could not have, to show that sign-in,
    # not CSRF, is what stops the write.
    csrf = forms_of(visitor.get("/sign-in/"))[0].fields["csrfmiddlewaretoken"]
    writes_before = len(write_lines(frontend_system))
    posts = {
        **{path: {"name": "Mallory", "address": "x", "unit_price": "0.01"} for path in write_pages(customer, product)},
        f"/customers/{customer['id']}/invoices/": {"product_id": product["id"], "quantity": "1"},
    }

    for path, data in posts.items():
        response = visitor.session.post(
            visitor.base_url + path, data={**data, "csrfmiddlewaretoken": csrf}, allow_redirects=False, timeout=20
        )
        assert response.status_code == 302, (path, response.status_code)
        assert response.headers["Location"].startswith("/sign-in/"), path

    assert write_lines(frontend_system)[writes_before:] == []
    assert visitor.api("GET", f"/api/customers/{customer['id']}/").json()["name"] == customer["name"]
    assert visitor.api("GET", f"/api/products/{product['id']}/").json()["name"] == product["name"]
    assert visitor.api("GET", f"/api/invoices/?customer={customer['id']}").json()["results"] == []


def test_a_wrong_password_is_refused_and_the_right_one_lets_the_operator_write(visitor: Browser) -> None:
    assert visitor.credentials is not None
    page = visitor.get("/customers/new/")  # via the redirect: the sign-in form, with next=
    form = next(form for form in forms_of(page) if "password" in form.fields)
    assert form.fields["next"] == "/customers/new/"

    refused = visitor.submit(form, username=visitor.credentials.operator_username, password="wrong")
    assert refused.status_code == 200
    assert "Please enter a correct username and password" in text_of(refused.text)
    assert "Signed in as" not in refused.text

    form = next(form for form in forms_of(refused) if "password" in form.fields)
    signed_in = visitor.submit(
        form, username=visitor.credentials.operator_username, password=visitor.credentials.operator_password
    )
    assert signed_in.url.endswith("/customers/new/")
    assert f"Signed in as {visitor.credentials.operator_username}" in text_of(signed_in.text)
    (customer_form,) = (form for form in forms_of(signed_in) if "address" in form.fields)
    created = visitor.submit(customer_form, name="Signed Writer", address="1 Operator Way")
    assert created.status_code == 200
    assert field_errors(created.text) == {}
    assert "Customer “Signed Writer” was created." in text_of(created.text)


def test_signing_out_ends_the_right_to_write(browser: Browser) -> None:
    home = browser.get("/")
    (sign_out,) = (form for form in forms_of(home, sign_out=True) if form.action.endswith("/sign-out/"))

    out = browser.submit(sign_out)

    assert "Signed in as" not in out.text
    response = browser.get("/products/new/", allow_redirects=False)
    assert (response.status_code, response.headers["Location"]) == (302, "/sign-in/?next=/products/new/")
