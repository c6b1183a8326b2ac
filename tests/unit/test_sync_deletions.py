"""Applying platform deletions to the local store (SQLite and PostgreSQL, fixture ``sync_db``)."""

from __future__ import annotations

from tests.unit.test_sync_support import KEY, FakeConnector, at, customer, order, product
from winback.connectors.base import Deletion, DeletionPage, Page, Resource
from winback.sync import LocalStore
from winback.sync.deletions import cursor_name


async def _seed(store: LocalStore) -> None:
    store.upsert_store(await FakeConnector().store_info())
    store.commit_page(KEY, Resource.CUSTOMERS, Page(records=[customer("c1"), customer("c2")]), at(0))
    store.commit_page(KEY, Resource.ORDERS, Page(records=[
        order("o1", customer_id="c1", created=-300, updated=1),
        order("o2", customer_id="c1", created=-100, updated=2),
        order("g1", email="guest@example.com", created=-50, updated=3),
    ]), at(3))
    store.commit_page(KEY, Resource.PRODUCTS, Page(records=[product("p1"), product("p2")]), None)


def _gone(resource: Resource, record_id: str, minutes: float) -> Deletion:
    return Deletion(resource=resource, record_id=record_id, deleted_at=at(minutes))


def _rows(store: LocalStore, resource: str) -> dict[str, dict]:
    return {row.get("id") or row["lower_email"]: row for row in store.iter_rows(KEY, resource)}


async def test_a_deleted_order_goes_and_the_facts_follow(sync_db: LocalStore) -> None:
    await _seed(sync_db)
    before = _rows(sync_db, "customers")["c1"]
    assert before["real_orders_count"] == 2

    result = sync_db.commit_deletions(KEY, Resource.ORDERS, DeletionPage([_gone(Resource.ORDERS, "o2", 10)]), at(10))

    assert result.removed == 1 and result.cursor == at(10)
    assert set(_rows(sync_db, "orders")) == {"o1", "g1"}
    after = _rows(sync_db, "customers")["c1"]
    assert after["real_orders_count"] == 1 and after["last_order_at"] < before["last_order_at"]
    buyer = _rows(sync_db, "buyers")["c1@example.com"]
    assert buyer["last_order_id"] == "o1" and buyer["orders_count"] == 1
    assert sync_db.get_cursor(KEY, cursor_name(Resource.ORDERS)) == at(10)
    assert [(t["resource"], t["record_id"], t["deleted_at"]) for t in sync_db.deleted(KEY)] == [
        ("orders", "o2", at(10))
    ]


async def test_the_last_order_of_a_guest_removes_the_buyer(sync_db: LocalStore) -> None:
    await _seed(sync_db)
    sync_db.commit_deletions(KEY, Resource.ORDERS, DeletionPage([_gone(Resource.ORDERS, "g1", 10)]), at(10))
    assert "guest@example.com" not in _rows(sync_db, "buyers")


async def test_customers_and_products_go_and_unknown_ids_only_leave_a_tombstone(sync_db: LocalStore) -> None:
    await _seed(sync_db)
    customers = DeletionPage([_gone(Resource.CUSTOMERS, "c2", 5), _gone(Resource.CUSTOMERS, "never-seen", 6)])
    assert sync_db.commit_deletions(KEY, Resource.CUSTOMERS, customers, at(6)).removed == 1
    assert sync_db.commit_deletions(
        KEY, Resource.PRODUCTS, DeletionPage([_gone(Resource.PRODUCTS, "p1", 7)]), at(7)
    ).removed == 1
    assert set(_rows(sync_db, "customers")) == {"c1"}
    assert set(_rows(sync_db, "products")) == {"p2"}
    assert {t["record_id"] for t in sync_db.deleted(KEY, Resource.CUSTOMERS)} == {"c2", "never-seen"}


async def test_applying_the_same_page_again_changes_nothing_and_the_cursor_never_goes_back(sync_db: LocalStore) -> None:
    await _seed(sync_db)
    page = DeletionPage([_gone(Resource.ORDERS, "o1", 10)])
    sync_db.commit_deletions(KEY, Resource.ORDERS, page, at(10))
    again = sync_db.commit_deletions(KEY, Resource.ORDERS, page, at(4))
    assert again.removed == 0 and again.cursor == at(10)
    assert set(_rows(sync_db, "orders")) == {"o2", "g1"}
    assert len(sync_db.deleted(KEY)) == 1


async def test_a_stale_copy_cannot_bring_a_deleted_record_back_but_a_newer_one_can(sync_db: LocalStore) -> None:
    await _seed(sync_db)
    sync_db.commit_deletions(KEY, Resource.ORDERS, DeletionPage([_gone(Resource.ORDERS, "o2", 10)]), at(10))

    stale = sync_db.commit_page(KEY, Resource.ORDERS, Page(records=[order("o2", customer_id="c1", updated=2)]), at(2))
    assert (stale.upserted, stale.skipped) == (0, 1)
    assert "o2" not in _rows(sync_db, "orders")
    assert _rows(sync_db, "customers")["c1"]["real_orders_count"] == 1

    newer = sync_db.commit_page(KEY, Resource.ORDERS, Page(records=[order("o2", customer_id="c1", updated=20)]), at(20))
    assert newer.upserted == 1
    assert _rows(sync_db, "customers")["c1"]["real_orders_count"] == 2
    assert sync_db.deleted(KEY) == []


async def test_an_empty_page_of_skipped_entries_keeps_the_cursor(sync_db: LocalStore) -> None:
    await _seed(sync_db)
    result = sync_db.commit_deletions(KEY, Resource.PRODUCTS, DeletionPage([], None, skipped=2), None)
    assert result.removed == 0 and result.cursor is None
    assert {c["resource"]: c["records_seen"] for c in sync_db.cursors(KEY)}[cursor_name(Resource.PRODUCTS)] == 2


async def test_a_deleted_record_settles_its_quarantine_row(sync_db: LocalStore) -> None:
    """Review (minor): a record the platform deleted cannot come back valid, so its quarantine row
    must not stay open forever in ``winback status``; other quarantine rows stay."""
    from tests.unit.test_sync_support import rejected

    await _seed(sync_db)
    bad = [rejected(Resource.ORDERS, "o9", {"id": "o9"}), rejected(Resource.ORDERS, "o8", {"id": "o8"})]
    sync_db.commit_page(KEY, Resource.ORDERS, Page(records=[], rejected=bad), at(3))
    assert {q["record_id"] for q in sync_db.quarantined(KEY)} == {"o9", "o8"}

    sync_db.commit_deletions(KEY, Resource.ORDERS, DeletionPage([_gone(Resource.ORDERS, "o9", 10)]), at(10))

    assert {q["record_id"] for q in sync_db.quarantined(KEY)} == {"o8"}
    assert {q["record_id"] for q in sync_db.quarantined(KEY, include_resolved=True) if q["resolved"]} == {"o9"}
