"""Acceptance: a 20k-order emulated store, read through each connector with faults switched on,
ends with exactly the emulator's records (no loss, no duplicate, same values)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from winback.connectors.ecwid import EcwidConnector, EcwidSettings
from winback.connectors.retry import RetryPolicy
from winback.connectors.registry import load_connector_class
from winback.emulator.ecwid import ALL_SCOPES, start_ecwid_emulator
from winback.emulator.generate import generate_world
from winback.emulator.server import FaultPlan
from winback.emulator.shopify import start_shopify_emulator

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ORDERS = 20_000
FAULT_KINDS = ("429", "500", "502", "503", "504", "timeout", "drop", "malformed")


@pytest.fixture(scope="module")
def world():
    return generate_world(2026, customers=8_700, orders=ORDERS, products=150)


def _faults(seed: int) -> FaultPlan:
    return FaultPlan(rate=0.05, kinds=FAULT_KINDS, seed=seed, timeout_s=2.0)


async def _drain(stream):
    records, rejected = [], []
    async for page in stream:
        records.extend(page.records)
        rejected.extend(page.rejected)
    return records, rejected


def _money(bag: dict) -> Decimal:
    return Decimal(bag["shopMoney"]["amount"])


@pytest.mark.parametrize("bulk_threshold", [None, 0], ids=["paged", "bulk"])
async def test_shopify_20k_orders_with_faults_equal_emulator(world, bulk_threshold) -> None:
    # The bulk path (what the connector uses for a full read of a store this size) runs under a
    # Shopify Plus-sized bucket, so the throttle is enforced. The paged path needs ~1,250 queries of
    # up to 1,000 points each; under any real bucket that is minutes of waiting, so it runs
    # unthrottled here (pacing has its own tests) to prove paging itself loses nothing under faults.
    server, shop = start_shopify_emulator(
        world,
        faults=_faults(11),
        throttle=bulk_threshold is not None,
        bucket_size=20_000,
        restore_rate=1_000,
        bulk_complete_after_s=0.2,
    )
    try:
        connector_class = load_connector_class("shopify")
        settings = {
            "shop": shop.shop_domain,
            "access_token": shop.access_token,
            "base_url": server.url,
            "bulk_threshold": bulk_threshold,
            "timeout_s": 1.5,
            "connect_timeout_s": 1.5,
            "max_attempts": 10,
            "retry_base_delay_s": 0.01,
            "bulk_poll_interval_s": 0.05,
        }
        async with connector_class.from_settings(settings) as connector:
            orders, rejected_orders = await _drain(connector.orders(None, full=True))
            customers, rejected_customers = await _drain(connector.customers(None))
            products, rejected_products = await _drain(connector.products())
    finally:
        server.stop()

    assert rejected_orders == rejected_customers == rejected_products == []
    assert server.faults.total_injected() > 0, "the fault plan injected nothing: the test proves nothing"

    expected_orders = {o["id"]: o for o in shop.orders}
    assert len(expected_orders) == ORDERS
    assert len(orders) == len({o.id for o in orders}) == ORDERS
    for order in orders:
        raw = expected_orders[order.id]
        assert order.total.amount == _money(raw["totalPriceSet"])
        assert order.updated_at.isoformat().replace("+00:00", "Z") == raw["updatedAt"]
        assert order.customer_id == (raw["customer"]["id"] if raw["customer"] else None)
        assert order.test == raw["test"]
        assert [line.id for line in order.line_items] == [line["id"] for line in raw["_lines"]]
        assert [line.current_quantity for line in order.line_items] == [
            line["currentQuantity"] for line in raw["_lines"]
        ]

    expected_customers = {c["id"]: c for c in shop.customers}
    assert len(customers) == len({c.id for c in customers}) == len(expected_customers)
    for customer in customers:
        assert customer.email == expected_customers[customer.id]["email"]
    assert {p.id for p in products} == {p["id"] for p in shop.products}
    assert len(products) == len(shop.products)


async def test_ecwid_20k_orders_with_faults_equal_emulator(world) -> None:
    server, app = start_ecwid_emulator(
        world, scopes=ALL_SCOPES, faults=_faults(12), requests_per_minute=6_000, fault_retry_after=0.05
    )
    try:
        settings = EcwidSettings(
            store_id=str(app.store_id),
            token=app.token,
            base_url=f"{server.url}/api/v3",
            requests_per_minute=6_000,
            timeout_s=1.5,
        )
        retry = RetryPolicy(attempts=10, base_delay=0.01, max_delay=0.2)
        async with EcwidConnector(settings, retry=retry) as connector:
            orders, rejected_orders = await _drain(connector.orders(None, full=True))
            customers, rejected_customers = await _drain(connector.customers(None))
            products, rejected_products = await _drain(connector.products())
    finally:
        server.stop()

    assert rejected_orders == rejected_customers == rejected_products == []
    assert server.faults.total_injected() > 0, "the fault plan injected nothing: the test proves nothing"

    expected_orders = {o["id"]: o for o in app.state.snapshot("orders")}
    assert len(orders) == len({o.id for o in orders}) == len(expected_orders)
    # Ecwid has no test-order flag, so the emulator does not render test orders.
    assert len(expected_orders) == ORDERS - sum(1 for o in world.orders if o.test)
    for order in orders:
        raw = expected_orders[order.id]
        assert order.total.amount == Decimal(str(raw["total"]))
        assert int(order.updated_at.timestamp()) == raw["updateTimestamp"]
        assert order.customer_id == (str(raw["customerId"]) if "customerId" in raw else None)
        assert [line.quantity for line in order.line_items] == [item["quantity"] for item in raw["items"]]

    expected_customers = {str(c["id"]): c for c in app.state.snapshot("customers")}
    assert len(customers) == len({c.id for c in customers}) == len(expected_customers)
    for customer in customers:
        assert customer.email == expected_customers[customer.id]["email"]
    assert {p.id for p in products} == {str(p["id"]) for p in app.state.snapshot("products")}
