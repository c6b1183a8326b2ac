"""sync_store with an in-memory connector: resumable, idempotent, cursor-driven."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.test_sync_support import KEY, Crash, FakeConnector, at, customer, order, product, rejected
from winback import errors
from winback.connectors.base import Resource
from winback.model import Customer, Order, Product
from winback.sync import LocalStore, SyncProgress, sync_store
from winback.sync.rows import DERIVED_FIELDS

MODELS = {"customers": Customer, "orders": Order, "products": Product}


def _source() -> FakeConnector:
    fake = FakeConnector(page_size=3)
    fake.put(*[customer(f"c{i}", updated=i) for i in range(10)])
    fake.put(
        *[
            order(f"o{i:02}", updated=i, customer_id=f"c{i % 10}" if i % 3 else None, email=f"c{i % 10}@example.com")
            for i in range(20)
        ]
    )
    fake.put(*[product(f"p{i}", updated=i) for i in range(5)])
    return fake


def assert_store_equals_source(store: LocalStore, fake: FakeConnector) -> None:
    for resource, cls in MODELS.items():
        stored = [
            cls.model_validate({k: v for k, v in row.items() if k not in DERIVED_FIELDS[resource]})
            for row in store.iter_rows(KEY, resource)
        ]
        expected = sorted(fake.data[Resource(resource)].values(), key=lambda r: r.id)
        assert stored == expected, resource


async def test_first_sync_copies_everything_and_reports(sync_db: LocalStore) -> None:
    fake = _source()
    events: list[SyncProgress] = []
    report = await sync_store(fake, sync_db, progress=events.append)

    assert_store_equals_source(sync_db, fake)
    assert fake.reads == [(Resource.CUSTOMERS, None), (Resource.ORDERS, None), (Resource.PRODUCTS, None)]
    assert report.store_key == KEY
    assert [report.resources[r].pages for r in Resource] == [4, 7, 2]
    assert report.pages == 13 and report.upserted == 35 and report.rejected == 0
    assert report.requests == fake.requests_sent == 14
    assert report.resources[Resource.ORDERS].cursor_after == at(19)
    assert report.newest_cursor == at(19)
    assert report.duration > 0 and report.finished_at is not None
    assert [e.records for e in events if e.resource is Resource.CUSTOMERS] == [3, 6, 9, 10]
    info = sync_db.get_store(KEY)
    assert info["name"] == "Shop One" and info["last_sync_finished"] == report.finished_at
    assert info["last_error"] is None


async def test_resync_is_idempotent_and_reads_from_cursor_minus_overlap(sync_db: LocalStore) -> None:
    fake = _source()
    await sync_store(fake, sync_db)
    before = {r: list(sync_db.iter_rows(KEY, r)) for r in ("customers", "orders", "products", "buyers")}
    fake.reads.clear()

    report = await sync_store(fake, sync_db, overlap=timedelta(minutes=2))

    assert fake.reads == [
        (Resource.CUSTOMERS, at(9) - timedelta(minutes=2)),
        (Resource.ORDERS, at(19) - timedelta(minutes=2)),
        (Resource.PRODUCTS, None),
    ]
    # the overlap re-read the newest three of each; nothing changed, nothing duplicated
    assert report.resources[Resource.CUSTOMERS].upserted == 3
    assert report.resources[Resource.ORDERS].upserted == 3
    assert {r: list(sync_db.iter_rows(KEY, r)) for r in before} == before
    assert sync_db.get_cursor(KEY, Resource.ORDERS) == at(19)


async def test_changes_since_last_run_arrive(sync_db: LocalStore) -> None:
    fake = _source()
    await sync_store(fake, sync_db)
    fake.put(customer("c3", updated=30, first_name="Renamed"), customer("c99", updated=31))
    fake.put(order("o05", updated=40, customer_id="c5", cancelled_at=at(40)), order("o99", updated=41, email="new@x.test"))
    report = await sync_store(fake, sync_db)
    assert report.resources[Resource.CUSTOMERS].since == at(9) - timedelta(minutes=10)
    assert_store_equals_source(sync_db, fake)
    assert sync_db.get_cursor(KEY, Resource.CUSTOMERS) == at(31)
    assert sync_db.get_cursor(KEY, Resource.ORDERS) == at(41)


@pytest.mark.parametrize("crash_page", [0, 1, 4])
async def test_crash_then_resume_loses_nothing_and_duplicates_nothing(sync_db: LocalStore, crash_page: int) -> None:
    fake = _source()
    fake.crash_after = {Resource.ORDERS: crash_page}
    with pytest.raises(Crash):
        await sync_store(fake, sync_db)
    committed = sync_db.count(KEY, "orders")
    assert committed == min(crash_page * 3, 20)
    cursor = sync_db.get_cursor(KEY, Resource.ORDERS)
    assert cursor == (at(crash_page * 3 - 1) if crash_page else None)
    info = sync_db.get_store(KEY)
    assert "connection lost" in info["last_error"]

    # while we were down, an already-synced order changed and a new one arrived
    fake.put(order("o00", updated=50, email="c0@example.com", total="99.00"), order("o50", updated=51, email="z@x.test"))
    fake.crash_after = {}
    await sync_store(fake, sync_db)
    assert_store_equals_source(sync_db, fake)
    assert sync_db.count(KEY, "orders") == 21
    assert sync_db.get_store(KEY)["last_error"] is None
    assert sync_db.get_cursor(KEY, Resource.ORDERS) == at(51)


async def test_full_resync_reads_everything_and_keeps_the_cursor(sync_db: LocalStore) -> None:
    fake = _source()
    await sync_store(fake, sync_db)
    fake.reads.clear()
    report = await sync_store(fake, sync_db, full=True, resources=["orders"])
    assert fake.reads == [(Resource.ORDERS, None)]
    assert report.resources[Resource.ORDERS].upserted == 20
    assert sync_db.get_cursor(KEY, Resource.ORDERS) == at(19)


async def test_rejected_records_are_quarantined_and_the_sync_goes_on(sync_db: LocalStore) -> None:
    fake = _source()
    raw = {"id": "gid://fake/Order/77", "totalPriceSet": None, "email": "x@y.test"}
    fake.extra_rejected = {Resource.ORDERS: [rejected(Resource.ORDERS, "o77", raw)]}
    report = await sync_store(fake, sync_db)
    assert report.rejected == 1
    assert sync_db.count(KEY, "orders") == 20
    [q] = sync_db.quarantined(KEY)
    assert (q["resource"], q["record_id"], q["raw"]) == ("orders", "o77", raw)


async def test_derived_facts_after_sync(sync_db: LocalStore) -> None:
    fake = FakeConnector()
    fake.put(customer("c1", email="a@example.com"))
    fake.put(
        order("o1", customer_id="c1", updated=1),
        order("o2", email="A@example.com", updated=2),
        order("o3", customer_id="c1", updated=3, test=True),
        order("o4", email="guest@example.com", updated=4),
    )
    await sync_store(fake, sync_db)
    [c1] = sync_db.iter_rows(KEY, "customers")
    assert (c1["real_orders_count"], c1["last_order_at"]) == (2, at(2))
    buyers = {b["lower_email"]: b for b in sync_db.iter_rows(KEY, "buyers")}
    assert buyers["guest@example.com"]["customer_id"] is None
    assert buyers["a@example.com"]["customer_id"] == "c1"


async def test_connector_error_is_recorded_and_raised(sync_db: LocalStore) -> None:
    fake = _source()
    await sync_store(fake, sync_db)
    fake.fail_store_info = True
    with pytest.raises(errors.AuthenticationError):
        await sync_store(fake, sync_db)
    assert sync_db.get_store(KEY)["last_error"] == "fake shop1 rejected the token"


async def test_error_before_the_store_is_known_is_raised(sync_db: LocalStore) -> None:
    fake = _source()
    fake.fail_store_info = True
    with pytest.raises(errors.AuthenticationError):
        await sync_store(fake, sync_db)
    assert sync_db.list_stores() == []


async def test_a_deletion_feed_out_of_reach_is_a_partial_sync(sync_db: LocalStore) -> None:
    """Review item 11: a 403 on a deletion feed, after the resource's records were committed,
    marks that resource unreachable and the sync goes on, instead of failing the whole run."""
    from collections.abc import AsyncIterator
    from datetime import datetime

    from winback.connectors.base import DeletionPage

    class NoDeletedCustomers(FakeConnector):
        deletion_resources = frozenset({Resource.CUSTOMERS})

        async def deletions(self, resource: Resource, deleted_since: datetime | None = None) -> AsyncIterator[DeletionPage]:
            raise errors.MissingScopeError("no customers scope: ask Ecwid", store=self.store_label)
            yield DeletionPage([])  # pragma: no cover

    fake = NoDeletedCustomers(page_size=3)
    fake.put(customer("c1", updated=1), order("o1", updated=2, customer_id="c1"), product("p1", updated=3))
    report = await sync_store(fake, sync_db)

    assert report.unreachable == {Resource.CUSTOMERS: "no customers scope: ask Ecwid"}
    assert report.resources[Resource.CUSTOMERS].upserted == 1
    assert report.resources[Resource.PRODUCTS].upserted == 1 and report.finished_at is not None
    assert {row["id"] for row in sync_db.iter_rows(KEY, "products")} == {"p1"}


async def test_a_partial_sync_stays_visible_as_the_stores_last_error(sync_db: LocalStore) -> None:
    """Review item 10: a sync missing a resource must not look whole: the store's last_error says
    which resource was unreachable and why; the next whole sync clears it."""
    from collections.abc import AsyncIterator
    from datetime import datetime

    from winback.connectors.base import Page

    class NoCustomers(FakeConnector):
        blocked = True

        def customers(self, updated_since: datetime | None = None) -> AsyncIterator[Page[Customer]]:
            if self.blocked:
                raise errors.MissingScopeError("no customers scope: ask Ecwid", store=self.store_label)
            return super().customers(updated_since)

    fake = NoCustomers()
    fake.put(customer("c1", updated=1), product("p1", updated=3))
    await sync_store(fake, sync_db)
    assert sync_db.get_store(KEY)["last_error"] == "partial: customers unreachable (no customers scope: ask Ecwid)"
    fake.blocked = False
    await sync_store(fake, sync_db)
    assert sync_db.get_store(KEY)["last_error"] is None


async def test_young_collections_are_rarer_during_a_sync_and_restored_after(sync_db: LocalStore) -> None:
    import gc

    from winback.sync.gc_pause import SYNC_GC_GEN0_THRESHOLD

    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    await sync_store(_source(), sync_db, progress=lambda _: seen.append(gc.get_threshold()))

    assert seen and all(t == (max(before[0], SYNC_GC_GEN0_THRESHOLD), *before[1:]) for t in seen)
    assert gc.get_threshold() == before
    assert not gc.get_freeze_count()


async def test_collection_turned_off_by_the_application_stays_off(sync_db: LocalStore) -> None:
    import gc

    before = gc.get_threshold()
    gc.set_threshold(0)
    try:
        seen: list[int] = []
        await sync_store(_source(), sync_db, progress=lambda _: seen.append(gc.get_threshold()[0]))
        assert seen and set(seen) == {0}
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)
