"""The Shopify connector against the Shopify emulator over real sockets."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from winback import errors
from winback.connectors.base import InviteMode
from winback.connectors.shopify import ShopifyConnector
from winback.emulator.generate import generate_world
from winback.emulator.server import FaultPlan
from winback.emulator.shopify.app import start_shopify_emulator
from winback.model import DiscountCodeSpec, DiscountKind, NewCustomer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world():
    return generate_world(seed=11, customers=120, products=25)


@pytest.fixture
def shop(world):
    server, emulator = start_shopify_emulator(world, restore_rate=1000.0, bucket_size=2000.0, bulk_complete_after_s=0.1)
    yield server, emulator
    server.stop()


def _connector(server, emulator, **settings: Any) -> ShopifyConnector:
    values = {
        "shop": emulator.shop_domain,
        "access_token": emulator.access_token,
        "base_url": server.url,
        "retry_base_delay_s": 0.01,
        "bulk_poll_interval_s": 0.05,
        "bulk_poll_max_interval_s": 0.2,
    }
    values.update(settings)
    return ShopifyConnector.from_settings(values)


async def _all(iterator):
    records, rejected = [], []
    async for page in iterator:
        records.extend(page.records)
        rejected.extend(page.rejected)
    return records, rejected


def _expected_orders(emulator) -> dict[str, dict[str, Any]]:
    return {
        o["id"]: {
            "name": o["name"],
            "email": o["email"],
            "customer_id": o["customer"]["id"] if o.get("customer") else None,
            "total": Decimal(o["totalPriceSet"]["shopMoney"]["amount"]),
            "lines": sorted(li["id"] for li in o["_lines"]),
            "updated": o["updatedAt"],
        }
        for o in emulator.orders
    }


def _actual_orders(orders) -> dict[str, dict[str, Any]]:
    return {
        o.id: {
            "name": o.name,
            "email": o.email,
            "customer_id": o.customer_id,
            "total": o.total.amount,
            "lines": sorted(li.id for li in o.line_items),
            "updated": o.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for o in orders
    }


async def test_full_read_equals_the_emulator(shop) -> None:
    server, emulator = shop
    async with _connector(server, emulator) as c:
        customers, rejected_c = await _all(c.customers())
        orders, rejected_o = await _all(c.orders())
        products, rejected_p = await _all(c.products())
        store = await c.store_info()
    assert rejected_c == rejected_o == rejected_p == []
    assert store.name == emulator.world.store_name and store.currency == emulator.world.currency
    assert {x.id: (x.email, x.orders_count) for x in customers} == {
        x["id"]: (x["defaultEmailAddress"]["emailAddress"] if x.get("defaultEmailAddress") else None, int(x["numberOfOrders"]))
        for x in emulator.customers
    }
    assert len(customers) == len(emulator.customers)
    assert _actual_orders(orders) == _expected_orders(emulator)
    assert any(o.customer_id is None for o in orders)  # customer: null orders survive
    assert {p.id: (p.title, p.price.amount) for p in products} == {
        p["id"]: (p["title"], Decimal(p["priceRangeV2"]["minVariantPrice"]["amount"])) for p in emulator.products
    }
    # oldest first: the read follows sortKey UPDATED_AT
    updated = [o.updated_at for o in orders]
    assert updated == sorted(updated)


async def test_incremental_read_after_touch(shop) -> None:
    server, emulator = shop
    async with _connector(server, emulator) as c:
        orders, _ = await _all(c.orders())
        newest = max(o.updated_at for o in orders)
        touched = set(emulator.touch_orders(0.1, seed=3))
        changed, _ = await _all(c.orders(newest))
    since = newest
    assert touched
    assert touched <= {o.id for o in changed}
    assert all(o.updated_at >= since for o in changed)
    expected = _expected_orders(emulator)
    assert _actual_orders(changed) == {k: expected[k] for k in {o.id for o in changed}}


async def test_read_with_faults_returns_exactly_the_emulator_records(shop) -> None:
    server, emulator = shop
    server.faults = FaultPlan(rate=0.1, seed=5, timeout_s=2.5)
    async with _connector(server, emulator, max_attempts=10, timeout_s=1.2, connect_timeout_s=1.2) as c:
        customers, _ = await _all(c.customers())
        orders, _ = await _all(c.orders())
    assert server.faults.total_injected() > 0
    assert sorted(x.id for x in customers) == sorted(x["id"] for x in emulator.customers)
    assert _actual_orders(orders) == _expected_orders(emulator)


async def test_bulk_export_equals_the_emulator(shop) -> None:
    server, emulator = shop
    async with _connector(server, emulator, bulk_threshold=0, page_size=50) as c:
        orders, rejected = await _all(c.orders(full=True))
    assert rejected == []
    assert _actual_orders(orders) == _expected_orders(emulator)


async def test_bulk_export_with_faults(shop) -> None:
    server, emulator = shop
    server.faults = FaultPlan(rate=0.15, seed=9, timeout_s=2.5)
    async with _connector(server, emulator, bulk_threshold=0, max_attempts=10, timeout_s=1.2) as c:
        orders, _ = await _all(c.orders(full=True))
    assert _actual_orders(orders) == _expected_orders(emulator)


async def test_a_corrupt_record_is_quarantined(shop) -> None:
    server, emulator = shop
    bad = emulator.corrupt_record("orders", 3)
    async with _connector(server, emulator) as c:
        orders, rejected = await _all(c.orders())
    assert [r.record_id for r in rejected] == [bad["id"]]
    assert len(orders) == len(emulator.orders) - 1


async def test_discount_codes_end_to_end(shop) -> None:
    server, emulator = shop
    customer = emulator.customers[0]["id"]
    spec = DiscountCodeSpec(
        code="WINBACK-IT-1", title="Welcome back", kind=DiscountKind.PERCENTAGE, value=Decimal("15"),
        starts_at=datetime(2026, 1, 1, tzinfo=timezone.utc), ends_at=datetime(2026, 12, 31, tzinfo=timezone.utc),
        usage_limit=1, customer_id=customer,
    )
    async with _connector(server, emulator) as c:
        assert await c.find_discount_code(spec.code) is None
        created = await c.create_discount_code(spec)
        with pytest.raises(errors.DiscountCodeTakenError):
            await c.create_discount_code(spec)
        found = await c.find_discount_code(spec.code)
        fixed = await c.create_discount_code(spec.model_copy(update={"code": "WINBACK-IT-2", "kind": DiscountKind.FIXED_AMOUNT, "value": Decimal("5.00"), "customer_id": None}))
    assert created.kind == DiscountKind.PERCENTAGE and created.value == Decimal("15")
    assert created.customer_ids == (customer,)
    assert found is not None and found.id == created.id
    assert fixed.kind == DiscountKind.FIXED_AMOUNT and fixed.value == Decimal("5.00")
    assert len(emulator.discount_codes) == 2


async def test_customer_create_and_invite_end_to_end(world) -> None:
    server, emulator = start_shopify_emulator(world, customer_accounts="CLASSIC")  # a legacy shop
    try:
        async with _connector(server, emulator) as c:
            assert (await c.capabilities()).invite_mode == InviteMode.SEND_INVITE
            created = await c.create_customer(NewCustomer(email="new.buyer@example.com", first_name="New"))
            with pytest.raises(errors.CustomerExistsError):
                await c.create_customer(NewCustomer(email="new.buyer@example.com"))
            found = await c.find_customer_by_email("new.buyer@example.com")
            await c.send_account_invite(created.id)
    finally:
        server.stop()
    assert found is not None and found.id == created.id
    assert len(emulator.customers_created) == 1
    assert len(emulator.invites_sent) == 1


async def test_new_customer_accounts_need_no_invite(world) -> None:
    server, emulator = start_shopify_emulator(world)  # customer accounts: the default for every new shop
    try:
        async with _connector(server, emulator) as c:
            assert (await c.capabilities()).invite_mode == InviteMode.NOT_NEEDED
            with pytest.raises(errors.NotSupportedError):
                await c.send_account_invite(emulator.customers[0]["id"])
    finally:
        server.stop()


async def test_guest_buyers_of_a_customer_accounts_shop_are_told_how_to_sign_in(world, tmp_path) -> None:
    """With customer accounts there is nothing to create or invite: recent guests (DISABLED
    customers) get the sign-in email once, with the shop's /account link."""
    from winback.rules.auto_create_accounts import AutoCreateAccounts
    from winback.rules.base import RuleContext, Step
    from winback.rules.executor import stored_facts
    from winback.sync import open_store, store_key, sync_store

    server, emulator = start_shopify_emulator(world)
    store = open_store(f"sqlite:///{tmp_path / 'shop.db'}")
    try:
        async with _connector(server, emulator) as c:
            await sync_store(c, store)
            capabilities = await c.capabilities()
        facts = stored_facts(store, store_key("shopify", emulator.shop_domain))
        context = RuleContext(store=store, facts=facts, now=world.now, capabilities=capabilities)
        actions = list(AutoCreateAccounts({"since_days": 90}).plan(context))
    finally:
        store.close()
        server.stop()
    emailed = [a for a in actions if a.steps]
    assert emailed and {a.steps for a in emailed} == {(Step.SEND_EMAIL,)}
    disabled = {c["id"] for c in emulator.customers if c["state"] == "DISABLED"}
    assert all(a.customer_id in disabled for a in emailed)
    assert all(a.payload["email"]["context"]["sign_in_url"] == f"https://{emulator.shop_domain}/account" for a in emailed)
    assert emulator.invites_sent == [] and emulator.customers_created == []


async def test_bad_token_and_missing_scope(world) -> None:
    server, emulator = start_shopify_emulator(world, scopes=("read_customers", "read_orders", "read_products"))
    try:
        async with _connector(server, emulator, access_token="shpat_wrong_token_123") as c:
            with pytest.raises(errors.AuthenticationError, match=emulator.shop_domain):
                await c.store_info()
        async with _connector(server, emulator) as c:
            report = await c.check_access()
        assert {"write_discounts", "read_all_orders", "write_customers"} <= report.missing
    finally:
        server.stop()


async def test_capabilities_name_the_needs_the_installation_cannot_reach(world) -> None:
    """The scopes come with the shop (one request): a missing write_discounts makes both discount
    needs unreachable with the 2026 remedy, so `plan` holds the discount rules instead of failing
    at the first write; read_discounts is implied by write_discounts, as on Shopify."""
    from winback.connectors.base import Need
    from winback.emulator.shopify import ALL_SCOPES

    server, emulator = start_shopify_emulator(world, scopes=[s for s in ALL_SCOPES if s != "write_discounts"])
    try:
        async with _connector(server, emulator) as c:
            capabilities = await c.capabilities()
    finally:
        server.stop()
    assert set(capabilities.unreachable) == {Need.CREATE_DISCOUNT_CODES.value}
    why = capabilities.unreachable[Need.CREATE_DISCOUNT_CODES.value]
    assert emulator.shop_domain in why and "write_discounts" in why and "Dev Dashboard" in why

    server, emulator = start_shopify_emulator(world, scopes=["read_orders", "read_all_orders", "write_discounts"])
    try:
        async with _connector(server, emulator) as c:
            assert set((await c.capabilities()).unreachable) == {
                Need.READ_CUSTOMERS.value, Need.CREATE_CUSTOMERS.value, Need.READ_PRODUCTS.value}
    finally:
        server.stop()

    server, emulator = start_shopify_emulator(world)
    try:
        async with _connector(server, emulator) as c:
            assert (await c.capabilities()).unreachable == {}
    finally:
        server.stop()
