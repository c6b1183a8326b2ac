"""Shopify reads: pagination, exact incremental filtering, translation, quarantine, bulk JSONL."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.unit.shopify_fakes import (
    SHOP,
    FakeShopify,
    Sleeps,
    connector,
    customer_node,
    line_node,
    money,
    order_node,
    page,
)
from winback import errors
from winback.connectors.base import Resource
from winback.model import AccountState, ConsentState, FinancialStatus, ProductStatus


async def _collect(iterator):
    return [p async for p in iterator]


# --- customers ---------------------------------------------------------------------------------


async def test_customers_paginate_with_cursor_and_updated_at_sort(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("CustomersPage", page("customers", [customer_node(1), customer_node(2)], next_cursor="c2"))
    fake.add("CustomersPage", page("customers", [customer_node(3)], next_cursor="c3"))
    fake.add("CustomersPage", page("customers", [customer_node(4, updated="2026-03-02T00:00:00Z")]))
    async with connector(page_size=2) as c:
        pages = await _collect(c.customers())
    assert [[r.id for r in p.records] for p in pages] == [
        ["gid://shopify/Customer/1", "gid://shopify/Customer/2"],
        ["gid://shopify/Customer/3"],
        ["gid://shopify/Customer/4"],
    ]
    assert [v["after"] for _, v, _ in fake.requests] == [None, "c2", "c3"]
    assert all(v["first"] == 2 and v["query"] is None for _, v, _ in fake.requests)
    assert pages[2].newest_updated_at == datetime(2026, 3, 2, tzinfo=timezone.utc)


async def test_customers_since_quotes_the_date_and_filters_exactly(httpx_mock) -> None:
    since = datetime(2026, 3, 1, 12, 30, tzinfo=timezone.utc)
    fake = FakeShopify(httpx_mock)
    # Shopify's customer search matches whole days: it returns the morning's records too.
    fake.add(
        "CustomersPage",
        page("customers", [
            customer_node(1, updated="2026-03-01T08:00:00Z"),
            customer_node(2, updated="2026-03-01T12:30:00Z"),
            customer_node(3, updated="2026-03-01T18:00:00Z"),
        ]),
    )
    async with connector() as c:
        pages = await _collect(c.customers(since))
    assert fake.requests[0][1]["query"] == "updated_at:>='2026-03-01T12:30:00Z'"
    assert fake.requests[0][1]["first"] <= 250
    assert [r.id for r in pages[0].records] == ["gid://shopify/Customer/2", "gid://shopify/Customer/3"]
    assert pages[0].newest_updated_at == datetime(2026, 3, 1, 18, tzinfo=timezone.utc)


async def test_customer_translation_guest_consent_and_protected_data(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add(
        "CustomersPage",
        page("customers", [
            customer_node(1),
            customer_node(2, state="DISABLED", firstName=None, lastName=None, defaultEmailAddress=None),
            customer_node(3, defaultEmailAddress={"emailAddress": "p@example.com", "marketingState": "PENDING", "marketingUpdatedAt": None}),
            customer_node(4, defaultEmailAddress={"emailAddress": "u@example.com", "marketingState": "UNSUBSCRIBED", "marketingUpdatedAt": "2025-05-05T00:00:00Z"}),
            customer_node(5, defaultEmailAddress={"emailAddress": "i@example.com", "marketingState": "INVALID", "marketingUpdatedAt": None}),
            customer_node(6, state="INVITED", defaultEmailAddress=None, emailMarketingConsent={"marketingState": "REDACTED", "consentUpdatedAt": None}),
            customer_node(7, state="DECLINED", defaultEmailAddress=None, emailMarketingConsent={"marketingState": "NOT_SUBSCRIBED", "consentUpdatedAt": None}),
        ]),
    )
    async with connector() as c:
        (p,) = await _collect(c.customers())
    by_id = {r.id.rsplit("/", 1)[1]: r for r in p.records}
    assert p.rejected == []
    first = by_id["1"]
    assert first.email == "buyer1@example.com" and first.account == AccountState.ENABLED
    assert first.consent.state == ConsentState.SUBSCRIBED
    assert first.consent.updated_at == datetime(2025, 2, 1, tzinfo=timezone.utc)
    assert first.orders_count == 3 and first.amount_spent.amount == Decimal("120.50")
    assert first.store_id == SHOP and first.platform == "shopify" and first.tags == ("vip",)
    guest = by_id["2"]
    assert guest.account == AccountState.GUEST and guest.email is None and guest.consent.state == ConsentState.UNKNOWN
    assert by_id["3"].consent.state == ConsentState.NOT_SUBSCRIBED
    assert by_id["4"].consent.state == ConsentState.UNSUBSCRIBED
    assert by_id["5"].consent.state == ConsentState.UNKNOWN
    assert by_id["6"].consent.state == ConsentState.UNKNOWN and by_id["6"].account == AccountState.INVITED
    assert by_id["7"].consent.state == ConsentState.NOT_SUBSCRIBED and by_id["7"].account == AccountState.DECLINED


async def test_a_malformed_node_is_quarantined_and_the_page_goes_on(httpx_mock, caplog) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add(
        "CustomersPage",
        page("customers", [
            customer_node(1),
            customer_node(2, amountSpent={"amount": "12,50", "currencyCode": "EUR"}),
            customer_node(3, updatedAt=None),
            customer_node(4, numberOfOrders="many"),
            customer_node(5),
        ]),
    )
    async with connector() as c:
        (p,) = await _collect(c.customers())
    assert [r.id for r in p.records] == ["gid://shopify/Customer/1", "gid://shopify/Customer/5"]
    assert [r.record_id for r in p.rejected] == [f"gid://shopify/Customer/{n}" for n in (2, 3, 4)]
    assert all(r.resource == Resource.CUSTOMERS for r in p.rejected)
    assert p.rejected[0].raw["amountSpent"]["amount"] == "12,50"
    assert "decimal" in p.rejected[0].reason
    assert "updatedAt" in p.rejected[1].reason
    assert "could not translate customers" in caplog.text


# --- orders ------------------------------------------------------------------------------------


async def test_orders_translate_money_lines_and_guests(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add(
        "OrdersPage",
        page("orders", [
            order_node(1),
            order_node(2, customer=None, email="walkin@example.com", displayFinancialStatus=None,
                       lines=[line_node(9, product=None, variant=None, sku=None)]),
            order_node(3, cancelledAt="2026-02-01T00:00:00Z", test=True, displayFinancialStatus="REFUNDED"),
        ]),
    )
    async with connector(order_line_items=10) as c:
        (p,) = await _collect(c.orders())
    variables = fake.requests[0][1]
    assert variables["lineItems"] == 10 and 1 <= variables["first"] <= 16
    first, guest, cancelled = p.records
    assert first.customer_id == "gid://shopify/Customer/1" and first.financial_status == FinancialStatus.PAID
    assert first.total.amount == Decimal("20.00") and first.total.currency == "EUR"
    assert first.current_total.amount == Decimal("10.00") and first.refunded.amount == Decimal("10.00")
    (line,) = first.line_items
    assert line.quantity == 2 and line.current_quantity == 1 and line.unit_price.amount == Decimal("10.00")
    assert line.product_id == "gid://shopify/Product/1" and line.variant_id == "gid://shopify/ProductVariant/1"
    assert guest.customer_id is None and guest.is_guest and guest.email == "walkin@example.com"
    assert guest.financial_status == FinancialStatus.UNKNOWN
    assert guest.line_items[0].product_id is None and guest.line_items[0].sku is None
    assert cancelled.is_cancelled and cancelled.test and not cancelled.counts_as_purchase


async def test_orders_with_more_lines_fetch_the_rest(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("OrdersPage", page("orders", [order_node(1, lines=[line_node(1), line_node(2)], more_lines_cursor="l2"), order_node(2)]))
    fake.add("OrderLineItems", {"order": {"id": "gid://shopify/Order/1", "lineItems": {"nodes": [line_node(3), line_node(4)], "pageInfo": {"hasNextPage": True, "endCursor": "l4"}}}})
    fake.add("OrderLineItems", {"order": {"id": "gid://shopify/Order/1", "lineItems": {"nodes": [line_node(5)], "pageInfo": {"hasNextPage": False, "endCursor": "l5"}}}})
    async with connector(order_line_items=2) as c:
        (p,) = await _collect(c.orders())
    assert [li.id.rsplit("/", 1)[1] for li in p.records[0].line_items] == ["1", "2", "3", "4", "5"]
    assert len(p.records[1].line_items) == 1
    assert [v.get("after") for n, v, _ in fake.requests if n == "OrderLineItems"] == ["l2", "l4"]


async def test_orders_since_is_a_query_filter_and_exact(httpx_mock) -> None:
    since = datetime(2026, 3, 1, 10, tzinfo=timezone.utc)
    fake = FakeShopify(httpx_mock)
    fake.add("OrdersPage", page("orders", [order_node(1, updated="2026-03-01T09:59:59Z"), order_node(2, updated="2026-03-01T10:00:00Z")]))
    async with connector() as c:
        (p,) = await _collect(c.orders(since))
    assert fake.requests[0][1]["query"] == "updated_at:>='2026-03-01T10:00:00Z'"
    assert [r.id for r in p.records] == ["gid://shopify/Order/2"]


async def test_full_read_below_the_threshold_pages_normally(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("OrdersCount", {"ordersCount": {"count": 3, "precision": "EXACT"}})
    fake.add("OrdersPage", page("orders", [order_node(1)]))
    async with connector(bulk_threshold=100) as c:
        (p,) = await _collect(c.orders(full=True))
    assert fake.requests[0][1]["limit"] == 100
    assert [r.id for r in p.records] == ["gid://shopify/Order/1"]


# --- products ----------------------------------------------------------------------------------


async def test_products_translate_status_url_image_and_price(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    product = {
        "id": "gid://shopify/Product/1", "title": "Mug", "handle": "mug", "status": "ACTIVE",
        "onlineStoreUrl": None, "createdAt": "2025-01-01T00:00:00Z", "updatedAt": "2025-06-01T00:00:00Z",
        "featuredMedia": {"preview": {"image": {"url": "https://cdn.shopify.com/mug.png"}}},
        "priceRangeV2": {"minVariantPrice": {"amount": "9.90", "currencyCode": "EUR"}},
    }
    fake.add("ProductsPage", page("products", [
        product,
        {**product, "id": "gid://shopify/Product/2", "status": "ARCHIVED", "featuredMedia": None, "onlineStoreUrl": "https://acme.example/products/x"},
        {**product, "id": "gid://shopify/Product/3", "status": "UNLISTED"},
    ]))
    async with connector() as c:
        (p,) = await _collect(c.products())
    mug, archived, unlisted = p.records
    assert mug.url == "https://acme.myshopify.com/products/mug" and mug.image_url == "https://cdn.shopify.com/mug.png"
    assert mug.price.amount == Decimal("9.90") and mug.is_active
    assert archived.status == ProductStatus.ARCHIVED and archived.image_url is None
    assert archived.url == "https://acme.example/products/x"
    assert not unlisted.is_active


# --- bulk --------------------------------------------------------------------------------------

DOWNLOAD = "https://storage.googleapis.com/shopify-bulk/ops/1.jsonl?X-Goog-Signature=abc"


def _jsonl(rows) -> bytes:
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


def _bulk_rows(orders: int, lines_per_order: int = 2):
    rows = []
    for n in range(1, orders + 1):
        order = order_node(n, updated=f"2026-03-0{1 + n % 5}T00:00:00Z")
        del order["lineItems"]
        rows.append(order)
        for k in range(lines_per_order):
            rows.append({**line_node(n * 100 + k), "__parentId": order["id"]})
    return rows


def _script_bulk(fake: FakeShopify, *, object_count: int, url: str | None = DOWNLOAD) -> None:
    fake.add("BulkOperationRunQuery", {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [{"field": None, "message": "A bulk query operation for this app and shop is already in progress", "code": "OPERATION_IN_PROGRESS"}]}})
    fake.add("BulkOperationRunQuery", {"bulkOperationRunQuery": {"bulkOperation": {"id": "gid://shopify/BulkOperation/1", "status": "CREATED"}, "userErrors": []}})
    fake.add("BulkOperationStatus", {"bulkOperation": {"id": "gid://shopify/BulkOperation/1", "status": "RUNNING", "errorCode": None, "objectCount": "10", "rootObjectCount": "3", "fileSize": None, "url": None, "partialDataUrl": None}})
    fake.add("BulkOperationStatus", {"bulkOperation": {"id": "gid://shopify/BulkOperation/1", "status": "COMPLETED", "errorCode": None, "objectCount": str(object_count), "rootObjectCount": "3", "fileSize": "1234", "url": url, "partialDataUrl": None}})


async def test_bulk_export_reassembles_children_by_parent_id(httpx_mock) -> None:
    sleeps = Sleeps()
    rows = _bulk_rows(5, lines_per_order=3)
    fake = FakeShopify(httpx_mock)
    _script_bulk(fake, object_count=len(rows))
    httpx_mock.add_response(url=DOWNLOAD, content=_jsonl(rows))
    since = datetime(2026, 3, 1, tzinfo=timezone.utc)
    async with connector(sleeps, bulk_threshold=0, page_size=2) as c:
        pages = await _collect(c.orders(since, full=True))
    assert [len(p.records) for p in pages] == [2, 2, 1]
    orders = [o for p in pages for o in p.records]
    assert [o.id for o in orders] == [f"gid://shopify/Order/{n}" for n in range(1, 6)]
    assert all(len(o.line_items) == 3 for o in orders)
    assert orders[0].line_items[0].id == "gid://shopify/LineItem/100"
    run = [v for n, v, _ in fake.requests if n == "BulkOperationRunQuery"][0]
    assert "updated_at:>='2026-03-01T00:00:00Z'" in run["query"] and "edges" in run["query"]
    assert "OrdersCount" not in fake.names()  # threshold 0 = always bulk
    download = httpx_mock.get_requests(url=DOWNLOAD)[0]
    assert "X-Shopify-Access-Token" not in download.headers
    assert sleeps  # waited on OPERATION_IN_PROGRESS and while RUNNING


async def test_bulk_download_resumes_after_a_truncated_body(httpx_mock) -> None:
    rows = _bulk_rows(3)
    body = _jsonl(rows)
    fake = FakeShopify(httpx_mock)
    _script_bulk(fake, object_count=len(rows))
    httpx_mock.add_response(url=DOWNLOAD, content=body[: len(body) // 2])
    httpx_mock.add_response(url=DOWNLOAD, content=body)
    async with connector(bulk_threshold=0) as c:
        pages = await _collect(c.orders(full=True))
    orders = [o for p in pages for o in p.records]
    assert [o.id for o in orders] == [f"gid://shopify/Order/{n}" for n in (1, 2, 3)]
    assert all(len(o.line_items) == 2 for o in orders)


async def test_bulk_with_no_objects_yields_nothing(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    _script_bulk(fake, object_count=0, url=None)
    async with connector(bulk_threshold=0) as c:
        assert await _collect(c.orders(full=True)) == []


async def test_bulk_uses_count_threshold(httpx_mock) -> None:
    rows = _bulk_rows(1)
    fake = FakeShopify(httpx_mock)
    fake.add("OrdersCount", {"ordersCount": {"count": 10, "precision": "AT_LEAST"}})
    _script_bulk(fake, object_count=len(rows))
    httpx_mock.add_response(url=DOWNLOAD, content=_jsonl(rows))
    async with connector(bulk_threshold=10) as c:
        pages = await _collect(c.orders(full=True))
    assert len(pages[0].records) == 1


@pytest.mark.parametrize(("status", "code", "error"), [("FAILED", "TIMEOUT", errors.QueryError), ("FAILED", "ACCESS_DENIED", errors.MissingScopeError), ("EXPIRED", None, errors.QueryError), ("CANCELED", None, errors.QueryError)])
async def test_bulk_failure_raises_with_error_code(httpx_mock, status, code, error) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("BulkOperationRunQuery", {"bulkOperationRunQuery": {"bulkOperation": {"id": "gid://shopify/BulkOperation/2", "status": "CREATED"}, "userErrors": []}})
    fake.add("BulkOperationStatus", {"bulkOperation": {"id": "gid://shopify/BulkOperation/2", "status": status, "errorCode": code, "objectCount": "0", "rootObjectCount": "0", "fileSize": None, "url": None, "partialDataUrl": None}})
    with pytest.raises(error) as raised:
        async with connector(bulk_threshold=0) as c:
            await _collect(c.orders(full=True))
    assert status in str(raised.value) and SHOP in str(raised.value)
