"""Invoices in process, validating against real customers and products services over HTTP."""

import json
import threading

import pytest
import requests

from tests.conftest import post_json
from tests.processes import WRITE

URL = "/api/invoices/"
MISSING = "00000000-0000-0000-0000-000000000000"


def issue(api, customer, product, quantity=3, **headers):
    return post_json(
        api, URL, {"customer_id": customer["id"], "product_id": product["id"], "quantity": quantity}, **headers
    )


def test_an_invoice_snapshots_customer_and_product_and_totals_exactly(api, customer, product):
    response = issue(api, customer, product, quantity=3)

    assert response.status_code == 201, response.content
    invoice = response.json()
    assert invoice["customer_name"] == "Ada Lovelace"
    assert invoice["customer_address"] == "12 Analytical Row"
    assert invoice["product_name"] == "Ceramic mug"
    assert invoice["unit_price"] == "0.10"
    assert invoice["total"] == "0.30"
    assert invoice["quantity"] == 3
    assert api.get(f"{URL}{invoice['id']}/").json() == invoice


def test_an_invoice_keeps_its_snapshot_after_customer_and_product_change(api, customer, product, use_live_services):
    invoice = issue(api, customer, product).json()
    requests.patch(
        f"{use_live_services['products'].url}/api/products/{product['id']}/",
        json={"unit_price": "99.00"},
        headers=WRITE,
        timeout=5,
    )
    requests.delete(f"{use_live_services['customers'].url}/api/customers/{customer['id']}/", headers=WRITE, timeout=5)

    again = api.get(f"{URL}{invoice['id']}/").json()

    assert again == invoice


def test_invoices_are_immutable(api, customer, product):
    invoice = issue(api, customer, product).json()

    for method in ("put", "patch", "delete"):
        response = getattr(api, method)(f"{URL}{invoice['id']}/", {"quantity": 9}, format="json")
        assert response.status_code == 405
    assert api.get(f"{URL}{invoice['id']}/").json() == invoice


@pytest.mark.parametrize("field", ["customer_id", "product_id"])
def test_unknown_customer_or_product_is_400_naming_it_and_writes_nothing(api, customer, product, raw_redis, field):
    body = {"customer_id": customer["id"], "product_id": product["id"], "quantity": 1, field: MISSING}

    response = post_json(api, URL, body)

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert raw_redis.dbsize() == 0


@pytest.mark.parametrize(
    ("quantity", "ok"),
    [(1, True), (1_000_000, True), (0, False), (-1, False), (1.5, False), (1.0, False), ("2", False),
     (10**30, False), (True, False), (None, False), ([], False)],
)  # fmt: skip
def test_quantity_must_be_a_sane_positive_integer(api, customer, product, raw_redis, quantity, ok):
    response = issue(api, customer, product, quantity=quantity)

    assert response.status_code == (201 if ok else 400)
    if not ok:
        assert "quantity" in response.json()["error"]["fields"]
        assert raw_redis.dbsize() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"customer_id": "not-a-uuid", "product_id": MISSING, "quantity": 1},
        {"customer_id": 12, "product_id": MISSING, "quantity": 1},
        {"product_id": MISSING, "quantity": 1},
        {"customer_id": MISSING, "product_id": MISSING, "quantity": 1, "total": "0.01"},
        {"customer_id": MISSING.replace("-", ""), "product_id": MISSING, "quantity": 1},
        {"customer_id": f"{{{MISSING}}}", "product_id": MISSING, "quantity": 1},
        {"customer_id": MISSING, "product_id": f"urn:uuid:{MISSING}", "quantity": 1},
    ],
)
def test_malformed_invoice_bodies_are_400_before_any_call(api, raw_redis, body):
    response = post_json(api, URL, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert raw_redis.dbsize() == 0


def test_list_by_customer_reads_only_that_customers_index(api, customer, product, use_live_services, raw_redis):
    other = requests.post(
        f"{use_live_services['customers'].url}/api/customers/",
        json={"name": "Other", "address": "x"},
        headers=WRITE,
        timeout=5,
    ).json()
    mine = [issue(api, customer, product, quantity=n).json()["id"] for n in range(1, 4)]
    for n in range(1, 21):
        issue(api, other, product, quantity=n)
    raw_redis.config_resetstat()

    body = api.get(f"{URL}?customer={customer['id']}").json()

    assert [row["id"] for row in body["results"]] == list(reversed(mine))
    hash_reads = raw_redis.info("commandstats").get("cmdstat_hgetall", {}).get("calls", 0)
    assert hash_reads == len(mine), "listing one customer's invoices must not read other invoices"


@pytest.mark.parametrize("customer_id", ["nope", MISSING.replace("-", ""), f"urn:uuid:{MISSING}"])
def test_list_filter_rejects_a_bad_customer_id(api, customer_id):
    response = api.get(URL, {"customer": customer_id})

    assert response.status_code == 400
    assert "customer" in response.json()["error"]["fields"]


@pytest.mark.parametrize("key", [None, "one-step-1"])
def test_an_invoice_write_is_one_script(api, customer, product, redis_server, key):
    """MONITOR shows one script call, and every write (the hash, both index entries and, with an
    Idempotency-Key, its claim) made by that script: one atomic step."""
    import redis as redis_lib

    # redis-py loads a script on its first call (EVALSHA, NOSCRIPT, SCRIPT LOAD, EVALSHA): done here.
    assert issue(api, customer, product).status_code == 201
    monitor_client = redis_lib.Redis.from_url(redis_server.url(), decode_responses=True)
    commands: list[tuple[str, str]] = []
    ready = threading.Event()

    def watch():
        with monitor_client.monitor() as monitor:
            ready.set()
            for event in monitor.listen():
                if event["db"] == 0:
                    commands.append((event["client_type"], event["command"].split()[0].upper()))
                if commands.count(("lua", "ZADD")) == 2:
                    return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    ready.wait(5)
    response = issue(api, customer, product, **({"Idempotency-Key": key} if key else {}))
    watcher.join(5)

    assert response.status_code == 201
    calls = [command for client, command in commands if client != "lua"]
    in_script = [command for client, command in commands if client == "lua"]
    assert calls.count("EVALSHA") + calls.count("EVAL") == 1
    assert not {"HSET", "ZADD", "SET", "MULTI", "EXEC"} & set(calls)
    assert in_script == (["GET", "SET"] if key else []) + ["HSET", "ZADD", "ZADD"]


def test_request_id_is_passed_on_to_customers(api, customer, product, use_live_services):
    request_id = "invoice-trace-7f3a"

    issue(api, customer, product, **{"X-Request-ID": request_id})

    log_lines = use_live_services["customers"].log.read_text().splitlines()
    entries = [json.loads(line) for line in log_lines if line.startswith("{")]
    assert any(e.get("request_id") == request_id and e.get("path", "").startswith("/api/customers/") for e in entries)
