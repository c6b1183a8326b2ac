"""The sync engine end to end: real connectors over real sockets to the emulators, into real SQLite
and PostgreSQL. The local store must end up holding exactly what the emulator serves."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.integration import sync_compare as compare
from winback.connectors.base import Resource
from winback.connectors.registry import load_connector_class
from winback.model import Customer, Order
from winback.emulator.ecwid import ALL_SCOPES, start_ecwid_emulator
from winback.emulator.generate import generate_world
from winback.emulator.server import EmulatorServer, FaultPlan
from winback.emulator.shopify import start_shopify_emulator
from winback.emulator.world import World
from winback.sync import LocalStore, SyncReport, open_store, sync_store

pytestmark = pytest.mark.integration

PLATFORMS = ("shopify", "ecwid")
FAULT_KINDS = ("429", "500", "502", "503", "504", "timeout", "drop", "malformed")


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(7, customers=400, products=40)


@pytest.fixture
def store(sync_db: LocalStore) -> LocalStore:
    """Opened on SQLite and on PostgreSQL, closed after the test (``sync_db`` of tests/conftest.py)."""
    return sync_db


@dataclass
class Emulated:
    """One running emulator plus what the test needs to drive and check it."""

    platform: str
    server: EmulatorServer
    app: Any
    settings: dict[str, Any]

    def expected(self, *, skip_orders: tuple[str, ...] = ()) -> compare.Fingerprints:
        if self.platform == "shopify":
            return compare.shopify_fingerprints(self.app, skip_orders=skip_orders)
        return compare.ecwid_fingerprints(self.app.state, skip_orders=skip_orders)

    def raw_orders(self) -> list[compare.RawOrder]:
        if self.platform == "shopify":
            return compare.shopify_raw_orders(self.app)
        return compare.ecwid_raw_orders(self.app.state)

    def order_ids(self) -> list[str]:
        return sorted(self.expected()["orders"])

    async def sync(self, store: LocalStore, **options: Any) -> SyncReport:
        # A fresh connector per run, so the report's request count is this run's alone.
        async with load_connector_class(self.platform).from_settings(self.settings) as connector:
            return await sync_store(connector, store, **options)

    def corrupt_order(self, order_id: str) -> Any:
        """Corrupt one order's total; returns what :meth:`fix_order` needs to undo it."""
        if self.platform == "shopify":
            record = next(r for r in self.app.orders if r["id"] == order_id)
            original = record["totalPriceSet"]
            self.app.corrupt_record("orders", record["_num"])
            return original
        original = self.app.state.order_by_public_id(order_id).body["total"]
        self.app.corrupt_record("orders", order_id)
        return original

    def fix_order(self, order_id: str, original: Any) -> None:
        """The merchant edits the order: its total is readable again and ``updated_at`` moves on.

        The emulators have no hook for this, so it goes through their state the way their own
        write paths do (under the lock, bumping the updated time).
        """
        if self.platform == "shopify":
            state = self.app.state
            with state.lock:
                record = next(r for r in state.orders.by_num.values() if r["id"] == order_id)
                record["totalPriceSet"] = original
                state.touch(record, state.orders)
            return
        state = self.app.state
        with state.lock:
            record = state.order_by_public_id(order_id)
            when = state.tick()
            record.body["total"] = original
            record.updated = int(when.timestamp())
            record.body["updateTimestamp"] = record.updated
            record.body["updateDate"] = when.strftime("%Y-%m-%d %H:%M:%S +0000")

    def stop(self) -> None:
        self.server.stop()


def start(platform: str, world: World, *, faults: FaultPlan | None = None, shop_domain: str | None = None,
          store_id: int | None = None, bulk: bool = False, page_size: int = 50) -> Emulated:
    """Shopify reads orders page by page unless ``bulk`` (then a bulk export serves full reads)."""
    if platform == "shopify":
        knobs: dict[str, Any] = {"bucket_size": 200_000, "restore_rate": 20_000, "bulk_complete_after_s": 0.2}
        if shop_domain:
            knobs["shop_domain"] = shop_domain
        server, shop = start_shopify_emulator(world, faults=faults, **knobs)
        settings = {
            "shop": shop.shop_domain, "access_token": shop.access_token, "base_url": server.url,
            "page_size": page_size, "timeout_s": 1.0, "connect_timeout_s": 1.0, "max_attempts": 12,
            "retry_base_delay_s": 0.01, "bulk_threshold": 0 if bulk else None, "bulk_poll_interval_s": 0.05,
        }
        return Emulated(platform, server, shop, settings)
    server, app = start_ecwid_emulator(
        world, scopes=ALL_SCOPES, faults=faults, requests_per_minute=60_000, fault_retry_after=0.05,
        **({"store_id": store_id} if store_id else {}),
    )
    settings = {
        "store_id": str(app.store_id), "token": app.token, "base_url": f"{server.url}/api/v3",
        "requests_per_minute": 60_000, "page_size": min(page_size, 100), "timeout_s": 1.0, "connect_timeout_s": 1.0,
        "retry_attempts": 12, "retry_base_delay_s": 0.01, "retry_max_delay_s": 0.2,
    }
    return Emulated(platform, server, app, settings)


@pytest.fixture(params=PLATFORMS)
def emulated(request, world: World) -> Iterator[Emulated]:
    running = start(request.param, world)
    try:
        yield running
    finally:
        running.stop()


async def assert_equal(store: LocalStore, key: str, emulated: Emulated, **skip: Any) -> compare.Stored:
    stored = compare.assert_store_equals(store, key, emulated.expected(**skip))
    if not skip:
        compare.assert_rows_equal_models(stored, await compare.read_models(emulated.platform, emulated.settings))
    return stored


async def test_full_then_incremental_sync_equals_emulator(emulated: Emulated, store: LocalStore) -> None:
    full = await emulated.sync(store)
    key = full.store_key
    assert full.rejected == 0
    stored = await assert_equal(store, key, emulated)
    assert compare.assert_derived_facts(stored, emulated.raw_orders()) > 0, "no customer whose newest order is not real"
    total_orders = len(stored.rows["orders"])

    touched = emulated.app.touch_orders(0.05, seed=3)
    assert 0.04 * total_orders <= len(touched) <= 0.06 * total_orders
    incremental = await emulated.sync(store)

    orders = incremental.resources[Resource.ORDERS]
    # Only about the touched share is read again (plus the overlap window's few records).
    assert len(touched) <= orders.upserted <= len(touched) + 0.02 * total_orders
    assert incremental.upserted < full.upserted / 4
    assert incremental.pages < full.pages / 4
    assert incremental.requests is not None and full.requests is not None
    # Each sync also asks each deletion feed once (one request per resource when nothing was deleted).
    feeds = len(Resource)
    assert incremental.requests - feeds < (full.requests - feeds) / 4
    stored = await assert_equal(store, key, emulated)
    newest = max(row["updated_at"] for row in stored.rows["orders"].values())
    assert {rid for rid, row in stored.rows["orders"].items() if row["updated_at"] == newest} == set(touched)
    assert store.get_cursor(key, "orders") == newest


async def test_a_sync_leaves_no_page_to_the_garbage_collector(emulated: Emulated, store: LocalStore) -> None:
    """Every page of a sync, its response and its records, is freed by reference counting: the
    sync raises the collector's threshold on the strength of this (``winback.sync.gc_pause``).
    Before the responses' cycle was broken, a full read left each response with its body in the
    collector's hands."""
    await emulated.sync(store)  # statements compiled and caches filled, as in any later sync
    gc.collect()
    gc.disable()
    try:
        report = await emulated.sync(store, full=True)
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = Counter(
            kind for found in gc.garbage
            for kind in ("response", "request", "order", "customer")
            if isinstance(found, {"response": httpx.Response, "request": httpx.Request, "order": Order,
                                  "customer": Customer}[kind])
        )
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert report.pages > 10 and report.upserted > 400
    assert not left, f"left in reference cycles: {dict(left)}"



@pytest.mark.parametrize(("platform", "bulk"), [("shopify", False), ("shopify", True), ("ecwid", False)],
                         ids=["shopify-paged", "shopify-bulk", "ecwid"])
async def test_sync_with_faults_ends_equal_to_emulator(platform: str, bulk: bool, world: World,
                                                       store: LocalStore) -> None:
    faults = FaultPlan(rate=0.1, kinds=FAULT_KINDS, seed=5, timeout_s=0.3)
    emulated = start(platform, world, faults=faults, bulk=bulk)
    try:
        report = await emulated.sync(store)
        injected = faults.total_injected()
        faults.rate = 0.0  # the reference read below is not under test
        assert injected > 0, "the fault plan injected nothing: the test proves nothing"
        assert report.rejected == 0
        await assert_equal(store, report.store_key, emulated)
    finally:
        emulated.stop()


async def test_corrupted_order_is_quarantined_and_resolved_once_fixed(emulated: Emulated, store: LocalStore) -> None:
    ids = emulated.order_ids()
    bad = ids[len(ids) // 2]
    original = emulated.corrupt_order(bad)

    report = await emulated.sync(store)
    key = report.store_key
    assert report.rejected == 1
    quarantined = store.quarantined(key)
    assert [(q["resource"], q["record_id"]) for q in quarantined] == [("orders", bad)]
    raw, reason = quarantined[0]["raw"], quarantined[0]["reason"]
    assert str(raw["id"]) == bad
    corrupt_total = raw["totalPriceSet"]["shopMoney"]["amount"] if emulated.platform == "shopify" else raw["total"]
    assert corrupt_total in ("12.3.4", "12,5.x")
    assert "total" in reason.lower() or "amount" in reason.lower() or "decimal" in reason.lower(), reason
    # Every other record, including the bad order's page neighbours, landed.
    stored = compare.assert_store_equals(store, key, emulated.expected(skip_orders=(bad,)))
    position = ids.index(bad)
    assert {ids[position - 1], ids[position + 1]} <= set(stored.rows["orders"])
    assert store.count(key, "quarantine") == 1

    emulated.fix_order(bad, original)
    fixed = await emulated.sync(store)
    assert fixed.rejected == 0
    assert store.quarantined(key) == []
    assert store.count(key, "quarantine") == 0
    resolved = store.quarantined(key, include_resolved=True)
    assert [(q["record_id"], q["resolved"]) for q in resolved] == [(bad, True)]
    stored = await assert_equal(store, key, emulated)
    assert stored.rows["orders"][bad]["total"]["amount"] == Decimal(str(
        original["shopMoney"]["amount"] if emulated.platform == "shopify" else original
    ))


async def test_one_database_holds_several_stores_without_mixing(sync_db_url: str) -> None:
    """Two Shopify shops whose record ids coincide (same id scheme, different data) and an Ecwid
    store share one database; each store's rows stay exactly its own."""
    first, second = generate_world(8, customers=150, products=20), generate_world(9, customers=120, products=25)
    running = [
        start("shopify", first, shop_domain="first-shop.myshopify.com", page_size=250),
        start("shopify", second, shop_domain="second-shop.myshopify.com", page_size=250),
        start("ecwid", second, store_id=2024, page_size=100),
    ]
    store = open_store(sync_db_url)
    try:
        keys = [(await emulated.sync(store)).store_key for emulated in running]
        assert len(set(keys)) == 3
        for key, emulated in zip(keys, running, strict=True):
            compare.assert_store_equals(store, key, emulated.expected())
        shared = set(compare.read_store(store, keys[0]).rows["orders"]) & set(
            compare.read_store(store, keys[1]).rows["orders"]
        )
        assert shared, "the two shops share no order ids: the test proves nothing"
        totals = {key: sum(store.count(key, r) for r in compare.RESOURCES) for key in keys}
        with store.engine.connect() as conn:
            in_tables = sum(conn.execute(text(f"SELECT COUNT(*) FROM {r}")).scalar_one() for r in compare.RESOURCES)
        assert in_tables == sum(totals.values())
        # Touching one store and syncing it changes nothing in the others.
        before = {key: compare.read_store(store, key).fingerprints() for key in keys}
        running[1].app.touch_orders(0.05, seed=9)
        await running[1].sync(store)
        after = {key: compare.read_store(store, key).fingerprints() for key in keys}
        assert after[keys[0]] == before[keys[0]] and after[keys[2]] == before[keys[2]]
        assert after[keys[1]] != before[keys[1]]
        compare.assert_store_equals(store, keys[1], running[1].expected())
    finally:
        store.close()
        for emulated in running:
            emulated.stop()
