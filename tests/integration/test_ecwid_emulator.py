"""The Ecwid emulator over real sockets: envelopes, filters, auth, limits, writes and faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal

import httpx
import pytest

from winback.emulator.ecwid import ALL_SCOPES, DEFAULT_SCOPES, EcwidEmulator, start_ecwid_emulator
from winback.emulator.ecwid.sample import tiny_world
from winback.emulator.server import EmulatorServer, FaultPlan

pytestmark = pytest.mark.integration

TOKEN = "secret_emulator_token"


@pytest.fixture
def running() -> Iterator[tuple[EmulatorServer, EcwidEmulator]]:
    server, app = start_ecwid_emulator(tiny_world(), scopes=ALL_SCOPES, requests_per_minute=10_000)
    try:
        yield server, app
    finally:
        server.stop()


@pytest.fixture
def client(running: tuple[EmulatorServer, EcwidEmulator]) -> Iterator[httpx.Client]:
    server, _ = running
    with httpx.Client(base_url=f"{server.url}/api/v3/1003", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


def _all(client: httpx.Client, path: str, **params: object) -> list[dict]:
    items: list[dict] = []
    offset = 0
    while True:
        body = client.get(path, params={**params, "offset": offset, "limit": 100}).json()
        items.extend(body["items"])
        offset += body["count"]
        if body["count"] == 0 or offset >= body["total"]:
            return items


def test_paging_totals_are_exact(client: httpx.Client, running) -> None:
    _, app = running
    first = client.get("/orders", params={"limit": 100}).json()
    assert first["total"] == len(app.state.orders)
    assert first["count"] == 100 and first["limit"] == 100 and first["offset"] == 0
    items = _all(client, "/orders")
    assert len(items) == first["total"] == len({o["id"] for o in items})
    assert client.get("/orders", params={"offset": first["total"]}).json()["items"] == []


def test_limit_over_100_is_clamped(client: httpx.Client) -> None:
    body = client.get("/customers", params={"limit": 500}).json()
    assert body["limit"] == 100 and body["count"] <= 100


def test_guest_buyers_have_the_basic_account_ecwid_creates(client: httpx.Client) -> None:
    """Ecwid creates an account for every buyer's email after an order: guests are customers, while
    their orders (placed without signing in) carry no customerId."""
    world = tiny_world()
    customers = _all(client, "/customers")
    orders = _all(client, "/orders")
    by_email = {c["email"].lower(): c for c in customers}
    assert len(by_email) == len(customers)
    assert {o["email"].lower() for o in orders} <= set(by_email)
    registered = {c.email.lower() for c in world.customers if c.registered}
    assert len(customers) == len(registered | {o["email"].lower() for o in orders})
    guests = [o for o in orders if "customerId" not in o]
    assert guests and all(o["email"] for o in guests)
    ids = {c["id"] for c in customers}
    assert all(o["customerId"] in ids for o in orders if "customerId" in o)
    for email in {o["email"].lower() for o in guests} - registered:
        first = min(o["createTimestamp"] for o in orders if o["email"].lower() == email)
        account = by_email[email]
        assert account["registered"] == datetime.fromtimestamp(first, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000")
        assert account["stats"]["numberOfOrders"] == sum(
            1 for o in orders if o["email"].lower() == email and o["paymentStatus"] != "CANCELLED")
    # Ecwid has no test-order flag, so test orders are not rendered.
    assert len(orders) == sum(1 for o in world.orders if not o.test)


def test_a_store_without_guest_accounts_lists_registered_customers_only() -> None:
    world = tiny_world()
    server, _ = start_ecwid_emulator(world, scopes=ALL_SCOPES, guest_accounts=False)
    try:
        with httpx.Client(base_url=f"{server.url}/api/v3/1003", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            assert len(_all(c, "/customers")) == sum(1 for w in world.customers if w.registered)
    finally:
        server.stop()


def test_refunded_amount_is_filled_only_for_ecwids_own_processor(client: httpx.Client) -> None:
    refunded = [o for o in _all(client, "/orders") if o["paymentStatus"] in ("REFUNDED", "PARTIALLY_REFUNDED")]
    assert refunded
    for o in refunded:
        assert sum(Decimal(str(r["amount"])) for r in o["refunds"]) > 0
    others = [o for o in refunded if Decimal(str(o["refundedAmount"])) == 0]
    own = [o for o in refunded if Decimal(str(o["refundedAmount"])) > 0]
    assert others and own
    assert all(Decimal(str(o["refundedAmount"])) == sum(Decimal(str(r["amount"])) for r in o["refunds"]) for o in own)


def test_incomplete_orders_are_hidden_unless_asked_for(client: httpx.Client, running) -> None:
    _, app = running
    total = client.get("/orders", params={"limit": 1}).json()["total"]
    abandoned = app.add_abandoned_checkout("left@example.com")
    assert client.get("/orders", params={"limit": 1}).json()["total"] == total
    assert client.get("/orders", params={"email": "left@example.com"}).json()["total"] == 0
    asked = client.get("/orders", params={"paymentStatus": "INCOMPLETE"}).json()
    assert [o["id"] for o in asked["items"]] == [abandoned]
    both = client.get("/orders", params={"paymentStatus": "PAID,INCOMPLETE", "limit": 1}).json()["total"]
    assert both == 1 + client.get("/orders", params={"paymentStatus": "PAID", "limit": 1}).json()["total"]


def test_customer_and_product_defaults(client: httpx.Client) -> None:
    """Customers: limit 10 and NAME_ASC unless asked; products: RELEVANCE (accepted, and the default)."""
    page = client.get("/customers").json()
    assert page["limit"] == 10 and page["count"] == 10 and page["total"] > 10
    names = [c["name"].casefold() for c in _all(client, "/customers")]
    assert names == sorted(names)
    assert [c["name"].casefold() for c in page["items"]] == names[:10]
    default = client.get("/products").json()
    assert default["limit"] == 100
    assert default["items"] == client.get("/products", params={"sortBy": "RELEVANCE"}).json()["items"]
    found = client.get("/products", params={"keyword": "Product 1"}).json()["items"]
    assert found and all("Product 1" in p["name"] for p in found)
    assert client.get("/customers", params={"sortBy": "SALES_VALUE_DESC"}).status_code == 200


@pytest.mark.parametrize("path", ["/customers", "/products", "/discount_coupons"])
def test_date_filters_outside_orders_take_unix_seconds_only(client: httpx.Client, path: str) -> None:
    assert client.get(path, params={"updatedFrom": 0}).status_code == 200
    refused = client.get(path, params={"updatedFrom": "2000-01-01"})
    assert refused.status_code == 400 and "updatedFrom" in refused.json()["errorMessage"]
    assert client.get(path, params={"createdTo": "2030-01-01 00:00:00"}).status_code == 400
    assert client.get("/orders", params={"createdTo": "2030-01-01 00:00:00"}).status_code == 200


def test_deleted_endpoints_list_deletions(client: httpx.Client, running) -> None:
    _, app = running
    assert client.get("/orders/deleted").json()["items"] == []
    order = app.state.snapshot("orders")[0]
    customer = app.state.snapshot("customers")[0]
    app.delete_record("orders", order["id"])
    app.delete_record("customers", customer["id"])
    deleted = client.get("/orders/deleted").json()
    assert deleted["total"] == 1
    [entry] = deleted["items"]
    assert (entry["id"], entry["orderId"]) == (order["internalId"], order["id"]) and entry["date"].endswith("+0000")
    assert client.get(f"/orders/{order['id']}").status_code == 404
    [gone] = client.get("/customers/deleted").json()["items"]
    assert gone["id"] == customer["id"]
    assert client.get("/customers/deleted", params={"from_date": 4_000_000_000}).json()["total"] == 0
    assert client.get("/customers/deleted", params={"from_date": "yesterday"}).status_code == 400
    product = app.state.snapshot("products")[0]
    app.delete_record("products", product["id"])
    [removed] = client.get("/products/deleted").json()["items"]
    assert set(removed) == {"id", "date"} and removed["id"] == product["id"]
    assert client.get(f"/products/{product['id']}").status_code == 404


def test_a_missing_record_answers_404_in_ecwids_words(client: httpx.Client) -> None:
    assert client.get("/orders/NOPE").json()["errorMessage"] == "Order #NOPE not found"
    assert client.get("/customers/5").json()["errorMessage"] == "Customer #5 not found"
    missing = client.get("/discount_coupons/NOPE")
    assert missing.status_code == 404 and missing.json()["errorMessage"] == "Coupon is not found"


def test_a_non_working_token_is_locked_out(running) -> None:
    server, app = running
    url = f"{server.url}/api/v3/1003/profile"
    statuses = [httpx.get(url, headers={"Authorization": "Bearer secret_wrong"}).status_code for _ in range(21)]
    assert statuses == [403] * 20 + [429]
    blocked = httpx.get(url, headers={"Authorization": "Bearer secret_wrong"})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    # Enough failures from one address block it for every token.
    app.lockout.address.limit = 25
    for n in range(5):
        httpx.get(url, headers={"Authorization": f"Bearer secret_other_{n}"})
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 429


def test_consent_and_amounts_render_as_documented(client: httpx.Client) -> None:
    world = tiny_world()
    by_email = {c["email"]: c for c in _all(client, "/customers")}
    for w in world.customers:
        if w.registered:
            assert by_email[w.email]["acceptMarketing"] is (w.consent == "SUBSCRIBED")
    raw = client.get("/orders", params={"limit": 5}).content
    parsed = json.loads(raw, parse_float=Decimal)
    assert all(isinstance(o["total"], (Decimal, int)) for o in parsed["items"])
    assert all(o["updateDate"].endswith(" +0000") for o in parsed["items"])


def test_updated_from_filters_and_touch_orders_bumps(client: httpx.Client, running) -> None:
    _, app = running
    newest = max(r.updated for r in app.state.orders.values())
    assert client.get("/orders", params={"updatedFrom": newest + 1}).json()["total"] == 0
    touched = app.touch_orders(0.1, seed=3)
    assert touched
    body = client.get("/orders", params={"updatedFrom": newest + 1, "limit": 100}).json()
    assert sorted(o["id"] for o in body["items"]) == sorted(touched)
    as_date = client.get("/orders", params={"updatedFrom": "2000-01-01"}).json()["total"]
    assert as_date == len(app.state.orders)
    assert client.get("/orders", params={"updatedFrom": "yesterday"}).status_code == 400


def test_customers_sort_by_updated(client: httpx.Client) -> None:
    items = _all(client, "/customers", sortBy="UPDATED_DATE_ASC")
    assert [c["updated"] for c in items] == sorted(c["updated"] for c in items)
    assert client.get("/customers", params={"sortBy": "NOPE"}).status_code == 400


def test_auth_errors(running) -> None:
    server, _ = running
    base = f"{server.url}/api/v3"
    wrong = httpx.get(f"{base}/1003/orders", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and "errorMessage" in wrong.json()
    assert httpx.get(f"{base}/1003/orders").status_code == 403
    assert httpx.get(f"{base}/1003/orders", params={"token": TOKEN}).status_code == 200
    unknown = httpx.get(f"{base}/999/orders", headers={"Authorization": f"Bearer {TOKEN}"})
    assert unknown.status_code == 404 and unknown.json()["errorMessage"]


def test_a_new_custom_apps_token_reaches_only_orders_and_products() -> None:
    """Ecwid's default custom-app scopes; customers and coupons answer 403 as Ecwid documents."""
    server, app = start_ecwid_emulator(tiny_world())
    try:
        assert app.scopes == DEFAULT_SCOPES
        h = {"Authorization": f"Bearer {TOKEN}"}
        for path in ("profile", "orders", "products"):
            assert httpx.get(f"{server.url}/api/v3/1003/{path}", headers=h).status_code == 200
        for path, scope in (("customers", "read_customers"), ("discount_coupons", "read_discount_coupons")):
            denied = httpx.get(f"{server.url}/api/v3/1003/{path}", headers=h)
            assert denied.status_code == 403
            assert denied.json()["errorMessage"] == f"Access token doesn't have {scope} scope"
        posted = httpx.post(f"{server.url}/api/v3/1003/discount_coupons", headers=h, json={"name": "X", "code": "X"})
        assert posted.status_code == 403 and "create_discount_coupons" in posted.json()["errorMessage"]
        assert app.writes()["discount_coupons"] == []
    finally:
        server.stop()


def test_missing_scope_and_suspended_store() -> None:
    server, _ = start_ecwid_emulator(tiny_world(), scopes={"read_orders"})
    try:
        h = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(f"{server.url}/api/v3/1003/orders", headers=h).status_code == 200
        denied = httpx.get(f"{server.url}/api/v3/1003/customers", headers=h)
        assert denied.status_code == 403 and "read_customers" in denied.json()["errorMessage"]
    finally:
        server.stop()
    server, _ = start_ecwid_emulator(tiny_world(), scopes=ALL_SCOPES, store_state="suspended")
    try:
        r = httpx.get(f"{server.url}/api/v3/1003/profile", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 402
    finally:
        server.stop()


def test_rate_limit_answers_429_with_retry_after() -> None:
    server, _ = start_ecwid_emulator(tiny_world(), scopes=ALL_SCOPES, requests_per_minute=3)
    try:
        h = {"Authorization": f"Bearer {TOKEN}"}
        statuses = [httpx.get(f"{server.url}/api/v3/1003/profile", headers=h) for _ in range(5)]
        assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429]
        assert int(statuses[3].headers["Retry-After"]) >= 1
        assert statuses[3].json()["errorMessage"]
    finally:
        server.stop()


def test_coupon_create_duplicate_and_lookup(client: httpx.Client) -> None:
    created = client.post("/discount_coupons", json={
        "name": "Welcome back", "code": "BACK-10", "discountType": "PERCENT", "status": "ACTIVE",
        "discount": 10, "launchDate": "2026-01-31 12:00:00 +0000", "usesLimit": "ONCEPERCUSTOMER",
    })
    assert created.status_code == 200
    body = created.json()
    assert body["code"] == "BACK-10" and isinstance(body["id"], int)
    dup = client.post("/discount_coupons", json={"name": "x", "code": "back-10"})
    assert dup.status_code == 409 and dup.json()["errorMessage"]
    assert client.get(f"/discount_coupons/{body['id']}").json()["code"] == "BACK-10"
    assert client.get("/discount_coupons/BACK-10").json()["usesLimit"] == "ONCEPERCUSTOMER"
    found = client.get("/discount_coupons", params={"code": "BACK"}).json()
    assert [c["id"] for c in found["items"]] == [body["id"]]
    assert client.get("/discount_coupons/NOPE").status_code == 404
    bad = client.post("/discount_coupons", json={"name": "x", "code": "Y", "usesLimit": "TWICE"})
    assert bad.status_code == 400


def test_customer_create_and_duplicate(client: httpx.Client) -> None:
    created = client.post("/customers", json={
        "email": "new@example.com", "billingPerson": {"name": "New Buyer", "firstName": "New", "lastName": "Buyer"},
    })
    assert created.status_code == 200
    cid = created.json()["id"]
    fetched = client.get(f"/customers/{cid}").json()
    assert fetched["email"] == "new@example.com" and fetched["billingPerson"]["firstName"] == "New"
    assert client.get("/customers", params={"email": "new@example.com"}).json()["total"] == 1
    assert client.post("/customers", json={"email": "NEW@example.com"}).status_code == 409


def test_corrupt_record_is_visible(client: httpx.Client, running) -> None:
    _, app = running
    some = next(iter(app.state.orders.values())).body["id"]
    app.corrupt_record("orders", some)
    assert client.get(f"/orders/{some}").json()["total"] == "12,5.x"


def test_scripted_fault_is_answered_in_ecwid_shape() -> None:
    from collections import deque

    plan = FaultPlan(script=deque(["503", "429", None]))
    server, _ = start_ecwid_emulator(tiny_world(), scopes=ALL_SCOPES, faults=plan, fault_retry_after=0)
    try:
        h = {"Authorization": f"Bearer {TOKEN}"}
        first = httpx.get(f"{server.url}/api/v3/1003/profile", headers=h)
        second = httpx.get(f"{server.url}/api/v3/1003/profile", headers=h)
        third = httpx.get(f"{server.url}/api/v3/1003/profile", headers=h)
        assert first.status_code == 503 and "errorMessage" in first.json()
        assert second.status_code == 429 and second.headers["Retry-After"] == "0"
        assert third.status_code == 200
        assert plan.injected == {"503": 1, "429": 1}
    finally:
        server.stop()


def test_response_fields_narrow_the_answer(client: httpx.Client) -> None:
    full = client.get("/orders", params={"limit": 5}).json()
    narrow = client.get("/orders", params={"limit": 5, "responseFields": "total,count,items(id,total,items(sku))"})
    assert narrow.status_code == 200
    body = narrow.json()
    assert set(body) == {"total", "count"} | {"items"}
    assert body["total"] == full["total"] and body["count"] == full["count"]
    assert [o["id"] for o in body["items"]] == [o["id"] for o in full["items"]]
    for order, whole in zip(body["items"], full["items"], strict=True):
        assert set(order) <= {"id", "total", "items"}
        assert order["total"] == whole["total"]
        assert order["items"] == [{"sku": line["sku"]} for line in whole["items"] if "sku" in line]
    assert len(narrow.content) < len(client.get("/orders", params={"limit": 5}).content) / 3


def test_response_fields_apply_to_customers_and_single_reads(client: httpx.Client) -> None:
    customers = client.get("/customers", params={"responseFields": "items(id,email)"}).json()
    assert set(customers) == {"items"} and all(set(c) <= {"id", "email"} for c in customers["items"])
    one = customers["items"][0]["id"]
    assert client.get(f"/customers/{one}", params={"responseFields": "id"}).json() == {"id": one}


def test_malformed_response_fields_are_refused_with_a_400(client: httpx.Client) -> None:
    answer = client.get("/orders", params={"responseFields": "items(id"})
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "INVALID_PARAMETER"
    assert "responseFields" in answer.json()["errorMessage"]
