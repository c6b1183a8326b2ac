"""Deferred derived facts (``commit_pages(defer_derived=True)`` then ``recompute_derived``) end
exactly where committing page by page and recomputing at once ends, on SQLite and PostgreSQL,
though the deferred batches record the customers and buyers they touched without widening them
(the recompute widens them on the final state)."""

from __future__ import annotations

from sqlalchemy import select

from tests.unit.test_sync_support import customer, eur, order
from winback.connectors.base import Page, Resource
from winback.model import FinancialStatus, Store
from winback.sync import LocalStore, tables
from winback.sync.tables import store_key

NOW, DEFERRED = store_key("fake", "now"), store_key("fake", "deferred")
FIRST_SYNC = [
    (Resource.CUSTOMERS, [customer("c5", email="z@x.io"), customer("c6", email="w@x.io")]),
]
BATCHES = [
    (Resource.CUSTOMERS, [customer("c1", email="a@x.io"), customer("c2", email="b@x.io"), customer("c3", email="c@x.io")]),
    # only the recompute's widening finds c5 (through the email) and c6's buyer w@x.io (through c6)
    (Resource.ORDERS, [order("o7", email="Z@x.io", total="70"), order("o8", customer_id="c6", email="y@x.io", total="80")]),
    (Resource.ORDERS, [
        order("o1", customer_id="c1", email="a@x.io", total="10"),
        order("o2", email="B@x.io", total="20"),  # a guest order: counts for c2 through the email
        order("o3", customer_id="c3", email="other@x.io", total="30"),  # c3's order under another email
        order("o4", email="new@x.io", total="40"),
    ]),
    (Resource.CUSTOMERS, [customer("c2", email="d@x.io", updated=1), customer("c4", email="new@x.io", updated=1)]),
    (Resource.ORDERS, [
        order("o1", customer_id="c2", email="a@x.io", total="11", updated=2),  # moves from c1 to c2
        order("o2", email="d@x.io", total="21", updated=2),
        order("o5", customer_id="c1", email="a@x.io", total="50", updated=2,
              financial_status=FinancialStatus.REFUNDED, refunded=eur("50")),
    ]),
    (Resource.CUSTOMERS, [customer("c1", email="other@x.io", updated=3)]),  # now owns o3's email
    (Resource.ORDERS, [order("o6", email="other@x.io", total="60", updated=4), order("o3", customer_id="c3",
                       email="other@x.io", total="30", updated=4, refunded=eur("5"))]),
]


def _facts(store: LocalStore, key: str) -> tuple[dict, dict]:
    c, b = tables.customers, tables.buyers
    with store.reading() as conn:
        customers = {row.id: tuple(row) for row in conn.execute(
            select(c.c.id, c.c.first_order_at, c.c.last_order_at, c.c.real_orders_count, c.c.real_amount_spent)
            .where(c.c.store_key == key))}
        buyers = {row.lower_email: tuple(row) for row in conn.execute(
            select(*(column for column in b.columns if column.name != "store_key")).where(b.c.store_key == key))}
    return customers, buyers


def test_deferred_recompute_ends_where_page_by_page_ends(sync_db: LocalStore) -> None:
    for key in (NOW, DEFERRED):
        sync_db.upsert_store(Store(platform="fake", store_id=key.split(":")[1], name=key, currency="EUR"))
    for batches in (FIRST_SYNC, BATCHES):
        for resource, records in batches:
            sync_db.commit_page(NOW, resource, Page(records=records), None)
            sync_db.commit_pages(DEFERRED, resource, [Page(records=records[:2]), Page(records=records[2:])], None,
                                 defer_derived=True)
        sync_db.recompute_derived(DEFERRED)

    now, deferred = _facts(sync_db, NOW), _facts(sync_db, DEFERRED)
    assert deferred == now
    customers, buyers = now
    assert {cid: facts[3] for cid, facts in customers.items()} == {"c1": 1, "c2": 2, "c3": 1, "c4": 1, "c5": 1, "c6": 1}
    assert set(buyers) == {"a@x.io", "c@x.io", "d@x.io", "other@x.io", "new@x.io", "z@x.io", "w@x.io", "y@x.io"}
    assert buyers["w@x.io"][4:6] == (1, 1)  # orders_count, real_orders_count: c6's order under y@x.io
    with sync_db.reading() as conn:
        assert conn.execute(select(tables.derived_pending)).all() == []


def _pending(store: LocalStore, key: str) -> list[tuple[str, str]]:
    p = tables.derived_pending
    with store.reading() as conn:
        return [tuple(row) for row in conn.execute(select(p.c.kind, p.c.value).where(p.c.store_key == key))]


def test_a_first_sync_marks_the_whole_store_and_a_killed_one_is_finished_by_the_next(sync_db: LocalStore) -> None:
    """A first sync (the store held nothing) records one whole-store mark, not a row per customer
    and email; killed before its recompute, it leaves the mark, later batches add nothing to it,
    and the next recompute makes every customer and buyer exact, resetting facts settled in
    between by non-deferred commits."""
    for key in (NOW, DEFERRED):
        sync_db.upsert_store(Store(platform="fake", store_id=key.split(":")[1], name=key, currency="EUR"))

    def both(resource: Resource, records: list, *, defer: bool) -> None:
        sync_db.commit_page(NOW, resource, Page(records=records), None)
        sync_db.commit_pages(DEFERRED, resource, [Page(records=records)], None, defer_derived=defer)

    for resource, records in BATCHES[:3]:  # the first sync, killed before its recompute
        both(resource, records, defer=True)
    assert _pending(sync_db, DEFERRED) == [("store", "*")]
    for resource, records in BATCHES[3:5]:  # pages settled at once (c2 now has o1 and o2)
        both(resource, records, defer=False)
    for resource, records in [*BATCHES[5:], (Resource.ORDERS, [  # the next sync, deferred again
        order("o1", customer_id="c4", email="new@x.io", total="11", updated=5),
        order("o2", email="new@x.io", total="21", updated=5),
    ])]:
        both(resource, records, defer=True)
    assert _pending(sync_db, DEFERRED) == [("store", "*")]
    sync_db.recompute_derived(DEFERRED)

    now, deferred = _facts(sync_db, NOW), _facts(sync_db, DEFERRED)
    assert deferred == now
    customers, buyers = now
    assert customers["c2"][1:4] == (None, None, 0)  # its orders moved to c4 after it was settled
    assert customers["c4"][3] == 3
    assert "d@x.io" not in buyers
    assert _pending(sync_db, DEFERRED) == []


def test_a_store_holding_records_is_marked_by_customer_and_email(sync_db: LocalStore) -> None:
    sync_db.upsert_store(Store(platform="fake", store_id="deferred", name=DEFERRED, currency="EUR"))
    sync_db.commit_page(DEFERRED, Resource.CUSTOMERS, Page(records=[customer("c1", email="a@x.io")]), None)
    sync_db.commit_pages(DEFERRED, Resource.ORDERS, [Page(records=[order("o1", customer_id="c1", email="b@x.io")])],
                         None, defer_derived=True)
    assert sorted(_pending(sync_db, DEFERRED)) == [("buyer", "b@x.io"), ("customer", "c1")]
