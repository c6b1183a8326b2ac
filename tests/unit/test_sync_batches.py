"""Batched commits (LocalStore.commit_pages) and deferred derived facts, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.unit.test_sync_support import KEY, Crash, FakeConnector, at, customer, order, rejected
from winback.connectors.base import Page, Resource
from winback.sync import LocalStore, sync_store
from winback.sync.derive import recompute_buyers, recompute_customers

RAW = {"id": "o9", "totalPriceSet": None}


async def _register(store: LocalStore) -> None:
    store.upsert_store(await FakeConnector().store_info())


def _facts(store: LocalStore) -> tuple[dict, dict]:
    customers = {r["id"]: (r["real_orders_count"], r["last_order_at"], r["real_amount_spent"])
                 for r in store.iter_rows(KEY, "customers")}
    buyers = {r["lower_email"]: (r["customer_id"], r["orders_count"], r["real_orders_count"], r["last_order_id"])
              for r in store.iter_rows(KEY, "buyers")}
    return customers, buyers


def _recomputed_from_scratch(store: LocalStore) -> tuple[dict, dict]:
    """The facts recomputed for every customer and email, whatever the store believes is pending."""
    with store.writing() as conn:
        ids = [r["id"] for r in store.iter_rows(KEY, "customers")]
        emails = {r["lower_email"] for r in store.iter_rows(KEY, "buyers")}
        emails |= {r["email"].lower() for r in store.iter_rows(KEY, "orders") if r["email"]}
        recompute_customers(conn, KEY, ids)
        recompute_buyers(conn, KEY, emails)
    return _facts(store)


async def test_a_batch_settles_quarantine_in_page_order(sync_db: LocalStore) -> None:
    await _register(sync_db)
    # rejected on the first page, read fine on the next: resolved at the end of the batch
    sync_db.commit_pages(KEY, Resource.ORDERS, [
        Page(records=[], rejected=[rejected(Resource.ORDERS, "o9", RAW)]),
        Page(records=[order("o9", updated=2)]),
    ], at(2))
    assert sync_db.count(KEY, "quarantine") == 0
    # read fine, then rejected on a later page of the same batch: it stays quarantined
    result = sync_db.commit_pages(KEY, Resource.ORDERS, [
        Page(records=[order("o8", updated=3)]),
        Page(records=[], rejected=[rejected(Resource.ORDERS, "o8", RAW)]),
    ], at(3))
    assert [q["record_id"] for q in sync_db.quarantined(KEY)] == ["o8"]
    assert (result.upserted, result.rejected, result.cursor) == (1, 1, at(3))
    assert sync_db.get_cursor(KEY, Resource.ORDERS) == at(3)


async def test_a_batch_equals_its_pages_committed_one_by_one(sync_db: LocalStore) -> None:
    await _register(sync_db)
    pages = [
        Page(records=[customer("c1"), customer("c2", email="Shared@example.com")]),
        Page(records=[customer("c1", updated=5, email="new@example.com")]),
    ]
    result = sync_db.commit_pages(KEY, Resource.CUSTOMERS, pages, at(5))
    assert (result.upserted, result.skipped) == (2, 1)  # c1's first copy is superseded in the batch
    [c1] = [r for r in sync_db.iter_rows(KEY, "customers") if r["id"] == "c1"]
    assert c1["email"] == "new@example.com"


async def test_deferred_facts_are_exact_once_recomputed(sync_db: LocalStore) -> None:
    await _register(sync_db)
    sync_db.commit_pages(KEY, Resource.CUSTOMERS, [Page(records=[customer("c1", email="a@example.com")])], at(0))
    sync_db.commit_pages(KEY, Resource.ORDERS, [
        Page(records=[order("o1", customer_id="c1", updated=1), order("o2", email="A@example.com", updated=2)]),
        Page(records=[order("o3", email="guest@example.com", updated=3)]),
    ], at(3), defer_derived=True)
    customers, buyers = _facts(sync_db)
    assert customers["c1"][0] == 0 and buyers == {}  # not yet: pending
    sync_db.recompute_derived(KEY)
    customers, buyers = _facts(sync_db)
    assert customers["c1"][:2] == (2, at(2))
    assert buyers["a@example.com"][:3] == ("c1", 2, 2)
    assert buyers["guest@example.com"][:3] == (None, 1, 1)
    assert (customers, buyers) == _recomputed_from_scratch(sync_db)


async def test_facts_left_pending_by_a_killed_sync_are_recomputed_by_the_next(sync_db: LocalStore) -> None:
    await _register(sync_db)
    # what a sync killed after one committed batch leaves behind: rows written, facts pending
    sync_db.commit_pages(KEY, Resource.ORDERS, [Page(records=[order("o1", email="k@example.com", updated=1)])],
                         at(1), defer_derived=True)
    assert _facts(sync_db)[1] == {}
    fake = FakeConnector()
    fake.put(order("o1", email="k@example.com", updated=1), order("o2", email="other@example.com", updated=2))
    await sync_store(fake, sync_db, resources=["orders"])
    buyers = _facts(sync_db)[1]
    assert set(buyers) == {"k@example.com", "other@example.com"}
    assert _facts(sync_db) == _recomputed_from_scratch(sync_db)


@pytest.mark.parametrize("crash_page", [1, 3])
async def test_a_failed_sync_leaves_exact_facts_for_what_it_committed(sync_db: LocalStore, crash_page: int) -> None:
    fake = FakeConnector(page_size=2)
    fake.put(customer("c1", email="a@example.com"))
    fake.put(*[order(f"o{i}", customer_id="c1" if i % 2 else None, email="a@example.com", updated=i)
               for i in range(8)])
    fake.crash_after = {Resource.ORDERS: crash_page}
    with pytest.raises(Crash):
        await sync_store(fake, sync_db)
    assert sync_db.count(KEY, "orders") == crash_page * 2
    customers, buyers = _facts(sync_db)
    assert customers["c1"][0] == crash_page * 2 and buyers["a@example.com"][1] == crash_page * 2
    assert (customers, buyers) == _recomputed_from_scratch(sync_db)
