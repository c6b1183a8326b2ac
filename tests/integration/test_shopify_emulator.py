"""The Shopify emulator over real sockets: pagination, search, cost, errors, bulk, mutations, faults."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from winback.emulator.generate import generate_world
from winback.emulator.server import EmulatorServer, FaultPlan
from winback.emulator.shopify import ALL_SCOPES, ShopifyEmulator, graphql_url, start_shopify_emulator
from winback.emulator.world import World

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(seed=7, customers=220, products=25)


class Shop:
    """A started emulator plus a small client for it."""

    def __init__(self, server: EmulatorServer, emulator: ShopifyEmulator) -> None:
        self.server, self.emulator = server, emulator
        self.url = graphql_url(server)
        self.http = httpx.Client(timeout=10)

    def post(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None,
             url: str | None = None) -> httpx.Response:
        headers = {"X-Shopify-Access-Token": token if token is not None else self.emulator.access_token}
        return self.http.post(url or self.url, headers=headers, json={"query": query, "variables": variables or {}})

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.post(query, variables)
        assert response.status_code == 200, response.text
        return response.json()

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.gql(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture
def start(world: World) -> Iterator[Any]:
    started: list[Shop] = []

    def _start(faults: FaultPlan | None = None, **knobs: Any) -> Shop:
        server, emulator = start_shopify_emulator(world, faults=faults, **knobs)
        shop = Shop(server, emulator)
        started.append(shop)
        return shop

    yield _start
    for shop in started:
        shop.http.close()
        shop.server.stop()


def _all(shop: Shop, field: str, selection: str, page_size: int = 100, **args: str) -> list[dict[str, Any]]:
    extra = "".join(f", {name}: {value}" for name, value in args.items())
    query = (f"query($after: String) {{ {field}(first: {page_size}, after: $after{extra}) "
             f"{{ pageInfo {{ hasNextPage endCursor }} nodes {{ {selection} }} }} }}")
    found, after = [], None
    while True:
        page = shop.data(query, {"after": after})[field]
        found.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


# --- reads -------------------------------------------------------------------------------------


def test_paging_through_customers_returns_every_customer_once(start: Any, world: World) -> None:
    shop = start(throttle=False)
    customers = _all(shop, "customers", "id state numberOfOrders amountSpent { amount currencyCode }")
    ids = [c["id"] for c in customers]
    assert len(ids) == len(world.customers) == len(set(ids))
    assert all(c["id"].startswith("gid://shopify/Customer/") for c in customers)
    registered = {f"gid://shopify/Customer/{7_000_000_000_000 + c.key}" for c in world.customers if c.registered}
    assert {c["id"] for c in customers if c["state"] == "DISABLED"} == set(ids) - registered
    assert all(isinstance(c["numberOfOrders"], str) and isinstance(c["amountSpent"]["amount"], str) for c in customers)


def test_orders_render_guests_refunds_and_deleted_products(start: Any, world: World) -> None:
    shop = start(throttle=False)
    orders = _all(shop, "orders", "id customer { id } email lineItems(first: 10) { nodes { quantity currentQuantity "
                  "product { id } variant { id } } }", page_size=25, sortKey="ID")
    assert len(orders) == len(world.orders)
    by_id = {o["id"]: o for o in orders}
    for w_order in world.orders:
        served = by_id[f"gid://shopify/Order/{5_000_000_000_000 + w_order.key}"]
        assert (served["customer"] is None) == (w_order.customer_key is None)
        for w_line, line in zip(w_order.lines, served["lineItems"]["nodes"], strict=False):
            assert line["currentQuantity"] == w_line.quantity - w_line.refunded_quantity
            assert (line["product"] is None) == (line["variant"] is None) == (w_line.product_key is None)


def test_orders_updated_at_filter_is_exact_and_sorted(start: Any, world: World) -> None:
    shop = start(throttle=False)
    moments = sorted(o.updated_at for o in world.orders)
    since = moments[len(moments) // 2]
    stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    orders = _all(shop, "orders", "id updatedAt", sortKey="UPDATED_AT", query=json.dumps(f"updated_at:>='{stamp}'"))
    expected = {o.key for o in world.orders if o.updated_at.replace(microsecond=0) >= since.replace(microsecond=0)}
    assert len(orders) == len(expected)
    stamps = [o["updatedAt"] for o in orders]
    assert stamps == sorted(stamps)
    unquoted = shop.data(f"{{ ordersCount(query: \"updated_at:<{stamp}\") {{ count }} }}")["ordersCount"]["count"]
    assert unquoted == len(world.orders) - len(expected)


def test_customer_updated_at_filter_matches_whole_days(start: Any, world: World) -> None:
    shop = start(throttle=False)
    customer = next(c for c in world.customers if c.updated_at.hour >= 1)
    later_that_day = customer.updated_at.replace(microsecond=0) + timedelta(seconds=1)
    stamp = later_that_day.strftime("%Y-%m-%dT%H:%M:%SZ")
    found = _all(shop, "customers", "id updatedAt", query=json.dumps(f"updated_at:>='{stamp}'"))
    ids = {c["id"] for c in found}
    assert f"gid://shopify/Customer/{7_000_000_000_000 + customer.key}" in ids
    assert len(ids) == sum(1 for c in world.customers if c.updated_at.date() >= later_that_day.date())
    assert any(c["updatedAt"] < stamp for c in found), "the whole-day quirk returns earlier updates of that day"


def test_sort_key_and_reverse(start: Any) -> None:
    shop = start(throttle=False)
    nodes = shop.data("{ customers(first: 50, sortKey: CREATED_AT, reverse: true) { nodes { createdAt } } }")
    stamps = [n["createdAt"] for n in nodes["customers"]["nodes"]]
    assert stamps == sorted(stamps, reverse=True) and len(stamps) == 50


def test_lookups_by_id_and_email(start: Any, world: World) -> None:
    shop = start()
    target = world.customers[4]
    data = shop.data(
        "query($email: String!, $id: ID!) { customerByIdentifier(identifier: {emailAddress: $email}) { id } "
        "missing: customerByIdentifier(identifier: {emailAddress: \"nobody@nowhere.example\"}) { id } "
        "customer(id: $id) { defaultEmailAddress { emailAddress } } }",
        {"email": target.email.upper(), "id": f"gid://shopify/Customer/{7_000_000_000_000 + target.key}"},
    )
    assert data["customerByIdentifier"]["id"].endswith(str(7_000_000_000_000 + target.key))
    assert data["missing"] is None
    assert data["customer"]["defaultEmailAddress"]["emailAddress"] == target.email


# --- cost, throttling and errors ---------------------------------------------------------------


def test_cost_extensions_and_throttling(start: Any) -> None:
    shop = start(bucket_size=60, restore_rate=1.0)
    query = "{ customers(first: 50) { nodes { id } } }"
    first = shop.gql(query)
    cost = first["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 52 and cost["actualQueryCost"] == 52
    assert cost["throttleStatus"]["maximumAvailable"] == 60
    second = shop.post(query)
    assert second.status_code == 200
    body = second.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 52


def test_throttled_status_knob_answers_429(start: Any) -> None:
    shop = start(bucket_size=60, restore_rate=1.0, throttled_status=429)
    shop.gql("{ customers(first: 50) { nodes { id } } }")
    response = shop.post("{ customers(first: 50) { nodes { id } } }")
    assert response.status_code == 429
    assert response.json()["errors"][0]["message"] == "Throttled"


def test_query_over_1000_points_is_refused(start: Any) -> None:
    shop = start()
    body = shop.gql("{ orders(first: 250) { nodes { id lineItems(first: 10) { nodes { id } } } } }")
    assert "data" not in body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["cost"] == 2 + 250 * (1 + 2 + 10)


def test_page_size_parse_and_validation_errors(start: Any) -> None:
    shop = start()
    too_big = shop.gql("{ customers(first: 251) { nodes { id } } }")
    assert too_big["errors"] and too_big["data"] is None
    parse_error = shop.gql("{ customers(first: 5) { nodes { id }")
    assert parse_error["errors"][0]["extensions"]["code"] == "PARSE_ERROR"
    invalid = shop.gql("{ customers(first: 5) { nodes { favouriteColour } } }")
    assert "favouriteColour" in invalid["errors"][0]["message"] and "data" not in invalid


def test_bad_token_frozen_locked_and_unknown_path(start: Any) -> None:
    shop = start()
    denied = shop.post("{ shop { name } }", token="shpat_wrong")
    assert denied.status_code == 401
    assert denied.json() == {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    assert shop.post("{ shop { name } }", url=shop.server.url + "/admin/api/2026-07/nothing.json").status_code == 404
    assert shop.post("{ shop { name } }", url=graphql_url(shop.server, "2025-10")).status_code == 200
    assert start(shop_state="frozen").post("{ shop { name } }").status_code == 402
    locked = start(shop_state="locked").post("{ shop { name } }")
    assert locked.status_code == 423 and "unavailable" in locked.json()["errors"]


def test_missing_scope_is_access_denied(start: Any) -> None:
    shop = start(scopes=("read_orders", "read_all_orders", "read_products"))
    body = shop.gql("{ customers(first: 5) { nodes { id } } }")
    error = body["errors"][0]
    assert error["extensions"]["code"] == "ACCESS_DENIED"
    assert error["extensions"]["requiredAccess"] == "`read_customers` access scope."
    assert error["path"] == ["customers"]
    assert body["data"] is None
    linked = shop.gql("{ orders(first: 2) { nodes { id customer { id } } } }")
    assert linked["errors"][0]["path"][-1] == "customer"


def test_orders_older_than_60_days_need_read_all_orders(start: Any, world: World) -> None:
    shop = start(scopes=("read_orders", "read_customers"), throttle=False)
    horizon = world.now - timedelta(days=60)
    recent = sum(1 for o in world.orders if o.created_at >= horizon)
    assert 0 < recent < len(world.orders)
    assert shop.data("{ ordersCount { count } }")["ordersCount"]["count"] == recent
    served = _all(shop, "orders", "createdAt")
    assert len(served) == recent
    old = next(o for o in world.orders if o.created_at < horizon)
    assert shop.data(f'{{ order(id: "gid://shopify/Order/{5_000_000_000_000 + old.key}") {{ id }} }}')["order"] is None


# --- bulk operations ---------------------------------------------------------------------------

BULK_ORDERS = '''{ orders(query: "financial_status:paid") { edges { node { id name
  totalPriceSet { shopMoney { amount } } lineItems { edges { node { id quantity } } } } } } }'''
RUN = "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } userErrors { field message code } } }"
POLL = "query($id: ID!) { bulkOperation(id: $id) { id status errorCode objectCount rootObjectCount fileSize url partialDataUrl type query completedAt } }"


def test_bulk_query_end_to_end(start: Any, world: World) -> None:
    shop = start()
    run = shop.data(RUN, {"q": BULK_ORDERS})["bulkOperationRunQuery"]
    assert run["userErrors"] == [] and run["bulkOperation"]["status"] == "CREATED"
    operation_id = run["bulkOperation"]["id"]
    seen = []
    for _ in range(10):
        operation = shop.data(POLL, {"id": operation_id})["bulkOperation"]
        seen.append(operation["status"])
        if operation["status"] == "COMPLETED":
            break
    assert seen[0] == "RUNNING" and seen[-1] == "COMPLETED"
    assert operation["type"] == "QUERY" and operation["errorCode"] is None
    with shop.http.stream("GET", operation["url"]) as response:
        assert response.status_code == 200
        raw = b"".join(response.iter_bytes())
    lines = [json.loads(line) for line in raw.decode().splitlines()]
    assert operation["objectCount"] == str(len(lines)) and operation["fileSize"] == str(len(raw))
    paid = [o for o in world.orders if o.financial_status == "PAID"]
    roots = [line for line in lines if "__parentId" not in line]
    assert operation["rootObjectCount"] == str(len(roots)) == str(len(paid))
    assert len(lines) - len(roots) == sum(len(o.lines) for o in paid)
    parent = None
    for line in lines:
        if "__parentId" in line:
            assert line["__parentId"] == parent and line["id"].startswith("gid://shopify/LineItem/")
        else:
            parent = line["id"]
            assert "lineItems" not in line and line["totalPriceSet"]["shopMoney"]["amount"]


def test_bulk_query_validation_and_concurrency(start: Any) -> None:
    shop = start(bulk_complete_after_s=60)
    nodes = shop.data(RUN, {"q": "{ customers { nodes { id } } }"})["bulkOperationRunQuery"]
    assert nodes["bulkOperation"] is None and nodes["userErrors"][0]["code"] == "INVALID"
    no_id = shop.data(RUN, {"q": "{ orders { edges { node { name lineItems { edges { node { id } } } } } } }"})
    assert "'id'" in no_id["bulkOperationRunQuery"]["userErrors"][0]["message"]
    for _ in range(5):
        ok = shop.data(RUN, {"q": "{ customers { edges { node { id } } } }"})["bulkOperationRunQuery"]
        assert ok["userErrors"] == []
    busy = shop.data(RUN, {"q": "{ customers { edges { node { id } } } }"})["bulkOperationRunQuery"]
    assert busy["bulkOperation"] is None and busy["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
    assert shop.http.get(shop.server.url + "/bulk/1.jsonl").status_code == 404


# --- mutations ---------------------------------------------------------------------------------

CREATE_DISCOUNT = """mutation($input: DiscountCodeBasicInput!) { discountCodeBasicCreate(basicCodeDiscount: $input) {
  codeDiscountNode { id codeDiscount { ... on DiscountCodeBasic { title status usageLimit appliesOncePerCustomer
    codes(first: 1) { nodes { code } }
    customerGets { value { ... on DiscountPercentage { percentage } } }
    context { ... on DiscountCustomers { customers { id } } } } } }
  userErrors { field message code } } }"""


def _discount(code: str, customer_id: str, percentage: float = 0.15) -> dict[str, Any]:
    return {"input": {
        "title": f"Come back {code}", "code": code, "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
        "appliesOncePerCustomer": True, "usageLimit": 1,
        "context": {"customers": {"add": [customer_id]}},
        "customerGets": {"value": {"percentage": percentage}, "items": {"all": True}},
        "combinesWith": {"orderDiscounts": False, "productDiscounts": False, "shippingDiscounts": True},
    }}


def test_discount_create_taken_and_lookup(start: Any, world: World) -> None:
    shop = start()
    customer_id = f"gid://shopify/Customer/{7_000_000_000_000 + world.customers[0].key}"
    created = shop.data(CREATE_DISCOUNT, _discount("WELCOME-BACK-1", customer_id))["discountCodeBasicCreate"]
    assert created["userErrors"] == []
    discount = created["codeDiscountNode"]["codeDiscount"]
    assert discount["status"] == "ACTIVE" and discount["customerGets"]["value"]["percentage"] == 0.15
    assert discount["context"]["customers"] == [{"id": customer_id}]
    taken = shop.data(CREATE_DISCOUNT, _discount("welcome-back-1", customer_id))["discountCodeBasicCreate"]
    assert taken["codeDiscountNode"] is None
    assert taken["userErrors"] == [{"field": ["basicCodeDiscount", "code"],
                                    "message": "Code must be unique. Please try a different code.", "code": "TAKEN"}]
    out_of_range = shop.data(CREATE_DISCOUNT, _discount("TOO-MUCH", customer_id, 15))["discountCodeBasicCreate"]
    assert out_of_range["userErrors"][0]["code"] == "VALUE_OUTSIDE_RANGE"
    found = shop.data('{ codeDiscountNodeByCode(code: "Welcome-Back-1") { id } none: codeDiscountNodeByCode(code: "NOPE") { id } }')
    assert found["codeDiscountNodeByCode"]["id"] == created["codeDiscountNode"]["id"] and found["none"] is None
    assert [node["id"] for node in shop.emulator.discount_codes] == [created["codeDiscountNode"]["id"]]


CREATE_CUSTOMER = """mutation($input: CustomerInput!) { customerCreate(input: $input) {
  customer { id state email updatedAt } userErrors { field message } } }"""
INVITE = """mutation($id: ID!) { customerSendAccountInviteEmail(customerId: $id) {
  customer { id state } userErrors { field message code } } }"""


def test_customer_create_and_email_taken(start: Any, world: World) -> None:
    shop = start()
    created = shop.data(CREATE_CUSTOMER, {"input": {"email": "New.Buyer@example.com", "firstName": "New"}})
    customer = created["customerCreate"]["customer"]
    assert created["customerCreate"]["userErrors"] == [] and customer["state"] == "DISABLED"
    taken = shop.data(CREATE_CUSTOMER, {"input": {"email": world.customers[1].email.upper()}})["customerCreate"]
    assert taken["customer"] is None
    assert taken["userErrors"] == [{"field": ["email"], "message": "Email has already been taken"}]
    lookup = shop.data('{ customerByIdentifier(identifier: {emailAddress: "new.buyer@EXAMPLE.com"}) { id } }')
    assert lookup["customerByIdentifier"]["id"] == customer["id"]
    assert [c["id"] for c in shop.emulator.customers_created] == [customer["id"]]


def test_invite_classic_versus_new_customer_accounts(start: Any) -> None:
    classic = start(customer_accounts="CLASSIC")
    created = classic.data(CREATE_CUSTOMER, {"input": {"email": "invitee@example.com"}})["customerCreate"]["customer"]
    invited = classic.data(INVITE, {"id": created["id"]})["customerSendAccountInviteEmail"]
    assert invited["userErrors"] == [] and invited["customer"]["state"] == "INVITED"
    assert classic.emulator.invites_sent[0]["customer_id"] == created["id"]
    modern = start()  # new shops get customer accounts only (legacy accounts closed February 2026)
    assert modern.data("{ shop { customerAccountsV2 { customerAccountsVersion } } }")["shop"] == {
        "customerAccountsV2": {"customerAccountsVersion": "NEW_CUSTOMER_ACCOUNTS"}}
    other = modern.data(CREATE_CUSTOMER, {"input": {"email": "invitee@example.com"}})["customerCreate"]["customer"]
    refused = modern.data(INVITE, {"id": other["id"]})["customerSendAccountInviteEmail"]
    assert refused["customer"] is None and refused["userErrors"][0]["code"] == "INVALID"
    assert modern.emulator.invites_sent == []


# --- hooks and faults --------------------------------------------------------------------------


def test_touch_orders_and_corrupt_record(start: Any, world: World) -> None:
    shop = start(throttle=False)
    touched = set(shop.emulator.touch_orders(0.1, seed=3))
    assert len(touched) == round(len(world.orders) * 0.1)
    newest = max(o.updated_at for o in world.orders).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = _all(shop, "orders", "id", query=json.dumps(f"updated_at:>'{newest}'"))
    assert {o["id"] for o in recent} == touched
    shop.emulator.corrupt_record("orders", 3)
    order = shop.data(f'{{ order(id: "gid://shopify/Order/{5_000_000_000_003}") {{ totalPriceSet {{ shopMoney {{ amount }} }} }} }}')
    assert order["order"]["totalPriceSet"]["shopMoney"]["amount"] == "12.3.4"


def test_faults_are_answered_in_shopify_shape(start: Any) -> None:
    shop = start(faults=FaultPlan(script=deque(["429", "500", "drop", None])))
    throttled = shop.post("{ shop { name } }")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2.0"
    assert "Exceeded 2 calls per second" in throttled.json()["errors"]
    failed = shop.post("{ shop { name } }")
    assert failed.status_code == 500 and failed.json() == {"errors": "Internal Server Error"}
    with pytest.raises(httpx.TransportError):
        shop.post("{ shop { name } }")
    assert shop.post("{ shop { name } }").json()["data"]["shop"]["name"]
    assert shop.server.faults.injected == {"429": 1, "500": 1, "drop": 1}


def test_all_scopes_are_granted_by_default(start: Any) -> None:
    shop = start()
    handles = [s["handle"] for s in shop.data("{ currentAppInstallation { accessScopes { handle } } }")
               ["currentAppInstallation"]["accessScopes"]]
    assert handles == list(ALL_SCOPES)


def test_deleting_records_leaves_destroy_events(start: Any) -> None:
    from winback.connectors.shopify.documents import DELETION_EVENTS

    shop = start()
    emulator = shop.emulator
    order = next(o for o in emulator.orders if o["customer"] is not None)
    owner = order["customer"]
    before = int(owner["numberOfOrders"])
    product = emulator.products[0]
    with pytest.raises(ValueError, match="orders"):
        emulator.delete_record("customers", owner["id"])
    emulator.delete_record("orders", order["id"])
    emulator.delete_record("products", product["_num"])

    assert shop.data("query($id: ID!) { order(id: $id) { id } }", {"id": order["id"]})["order"] is None
    assert int(owner["numberOfOrders"]) == before - 1
    assert all(line["product"] is not product for o in emulator.orders for line in o["_lines"])
    query = DELETION_EVENTS.text
    events = shop.data(query, {"first": 10, "query": "action:destroy AND subject_type:ORDER"})["events"]
    assert [(e["action"], e["subjectId"], e["subjectType"]) for e in events["nodes"]] == [
        ("destroy", order["id"], "ORDER")
    ]
    both = shop.data(query, {"first": 1, "query": "action:destroy"})["events"]
    assert both["pageInfo"]["hasNextPage"] and both["nodes"][0]["subjectType"] == "ORDER"
    rest = shop.data(query, {"first": 5, "after": both["pageInfo"]["endCursor"], "query": "action:destroy"})
    assert [e["subjectId"] for e in rest["events"]["nodes"]] == [product["id"]]
    later = shop.data(query, {"first": 5, "query": "action:destroy AND created_at:>='2999-01-01T00:00:00Z'"})
    assert later["events"]["nodes"] == []


def test_a_long_export_stays_running_without_holding_the_polls(start: Any, monkeypatch: Any) -> None:
    """A large shop's export is counted on its own thread: each poll answers at once with RUNNING
    (it used to walk the whole shop inside the poll that made it due, so every other request
    waited), and the export completes once the count is done."""
    import threading
    import time

    from winback.emulator.shopify.bulk import BulkOperations

    release = threading.Event()
    original = BulkOperations._lines

    def slow_lines(self: BulkOperations, operation: dict[str, Any]) -> Any:
        assert release.wait(30)
        yield from original(self, operation)

    monkeypatch.setattr(BulkOperations, "_lines", slow_lines)
    shop = start()
    operation_id = shop.data(RUN, {"q": BULK_ORDERS})["bulkOperationRunQuery"]["bulkOperation"]["id"]
    statuses = []
    for _ in range(4):
        began = time.monotonic()
        statuses.append(shop.data(POLL, {"id": operation_id})["bulkOperation"]["status"])
        assert time.monotonic() - began < 5
    assert statuses[-1] == "RUNNING" and "COMPLETED" not in statuses
    release.set()
    for _ in range(50):
        operation = shop.data(POLL, {"id": operation_id})["bulkOperation"]
        if operation["status"] == "COMPLETED":
            break
        time.sleep(0.05)
    assert operation["status"] == "COMPLETED" and int(operation["objectCount"]) > 0


def test_an_export_that_breaks_ends_failed_not_running(start: Any, monkeypatch: Any) -> None:
    from winback.emulator.shopify.bulk import BulkOperations

    def broken_lines(self: BulkOperations, operation: dict[str, Any]) -> Any:
        raise RuntimeError("bulk execution failed: boom")
        yield  # a generator, as the real one

    monkeypatch.setattr(BulkOperations, "_lines", broken_lines)
    shop = start()
    operation_id = shop.data(RUN, {"q": BULK_ORDERS})["bulkOperationRunQuery"]["bulkOperation"]["id"]
    for _ in range(10):
        operation = shop.data(POLL, {"id": operation_id})["bulkOperation"]
        if operation["status"] not in ("CREATED", "RUNNING"):
            break
    assert operation["status"] == "FAILED" and operation["errorCode"] == "INTERNAL_SERVER_ERROR"
