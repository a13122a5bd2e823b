"""A customer, a product and an invoice, created through the gateway like a user would."""

import uuid

import pytest

pytestmark = pytest.mark.integration


def test_customer_product_invoice_flow(gateway):
    customer = gateway.post("/api/customers/", json={"name": "Ada Lovelace", "address": "12 St James's Sq, London"})
    product = gateway.post("/api/products/", json={"name": "Analytical engine", "unit_price": "12.50"})
    assert customer.status_code == 201, customer.text
    assert product.status_code == 201, product.text
    customer_id, product_id = customer.json()["id"], product.json()["id"]

    invoice = gateway.post("/api/invoices/", json={"customer_id": customer_id, "product_id": product_id, "quantity": 2})

    assert invoice.status_code == 201, invoice.text
    body = invoice.json()
    assert body["customer_name"] == "Ada Lovelace"
    assert body["product_name"] == "Analytical engine"
    assert body["unit_price"] == "12.50"
    assert body["total"] == "25.00"
    assert gateway.get(f"/api/invoices/{body['id']}/").json() == body
    listed = gateway.get("/api/invoices/", params={"customer": customer_id}).json()
    assert [entry["id"] for entry in listed["results"]] == [body["id"]]


def test_invoice_for_unknown_customer_names_the_field(gateway):
    product = gateway.post("/api/products/", json={"name": "Gear", "unit_price": "1.00"}).json()

    response = gateway.post(
        "/api/invoices/", json={"customer_id": str(uuid.uuid4()), "product_id": product["id"], "quantity": 1}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "customer_id" in response.json()["error"]["fields"]


def test_request_id_travels_gateway_invoices_gateway_customers(gateway):
    customer = gateway.post("/api/customers/", json={"name": "Grace Hopper", "address": "Arlington"}).json()
    product = gateway.post("/api/products/", json={"name": "Compiler", "unit_price": "3.00"}).json()
    request_id = f"flow-{uuid.uuid4().hex}"

    response = gateway.post(
        "/api/invoices/",
        json={"customer_id": customer["id"], "product_id": product["id"], "quantity": 1},
        headers={"X-Request-ID": request_id},
    )

    assert response.status_code == 201, response.text
    assert response.raw.headers.getlist("X-Request-ID") == [request_id]
    # invoices looks customer and product up through the gateway: those calls
    # must carry the caller's id, so one id ties the three log lines together.
    seen = {(line["method"], line["uri"]) for line in gateway.log_lines_for(request_id, at_least=3)}
    assert ("POST", "/api/invoices/") in seen
    assert ("GET", f"/api/customers/{customer['id']}/") in seen
    assert ("GET", f"/api/products/{product['id']}/") in seen
