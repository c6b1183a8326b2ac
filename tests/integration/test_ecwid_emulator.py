"""The Ecwid emulator over real sockets: envelopes, filters, auth, limits, writes and faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from winback.emulator.ecwid import EcwidEmulator, start_ecwid_emulator
from winback.emulator.ecwid.sample import tiny_world
from winback.emulator.server import EmulatorServer, FaultPlan

pytestmark = pytest.mark.integration

TOKEN = "secret_emulator_token"


@pytest.fixture
def running() -> Iterator[tuple[EmulatorServer, EcwidEmulator]]:
    server, app = start_ecwid_emulator(tiny_world(), requests_per_minute=10_000)
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


def test_guests_are_not_customers_and_their_orders_have_no_customer_id(client: httpx.Client) -> None:
    world = tiny_world()
    customers = _all(client, "/customers")
    assert len(customers) == sum(1 for c in world.customers if c.registered)
    orders = _all(client, "/orders")
    registered_ids = {c["id"] for c in customers}
    guests = [o for o in orders if "customerId" not in o]
    assert guests and all(o["email"] for o in guests)
    assert all(o["customerId"] in registered_ids for o in orders if "customerId" in o)
    # Ecwid has no test-order flag, so test orders are not rendered.
    assert len(orders) == sum(1 for o in world.orders if not o.test)


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


def test_missing_scope_and_suspended_store() -> None:
    server, _ = start_ecwid_emulator(tiny_world(), scopes={"read_orders"})
    try:
        h = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(f"{server.url}/api/v3/1003/orders", headers=h).status_code == 200
        denied = httpx.get(f"{server.url}/api/v3/1003/customers", headers=h)
        assert denied.status_code == 403 and "read_customers" in denied.json()["errorMessage"]
    finally:
        server.stop()
    server, _ = start_ecwid_emulator(tiny_world(), store_state="suspended")
    try:
        r = httpx.get(f"{server.url}/api/v3/1003/profile", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 402
    finally:
        server.stop()


def test_rate_limit_answers_429_with_retry_after() -> None:
    server, _ = start_ecwid_emulator(tiny_world(), requests_per_minute=3)
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
    server, _ = start_ecwid_emulator(tiny_world(), faults=plan, fault_retry_after=0)
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
