"""The derived facts the store keeps equal facts computed in Python from their definitions (see
:mod:`winback.sync.derive`), on SQLite and PostgreSQL, after every way the store changes: a first
sync recomputed as a whole store, an incremental deferred sync, pages settled at once, platform
deletions and redactions.

The store is random but seeded: customers sharing an email, guest accounts, guest orders, orders
under another email than their customer's or none, case variants of one email, orders moving
between customers, cancelled, test and refunded orders, and many orders at the same minute (the
tie on ``ordered_at`` is broken by the larger id). Ids and emails are ASCII and compared
byte-wise, as the test databases' C collation does.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, select

from tests.unit.test_sync_support import KEY, FakeConnector, at, customer, eur, order
from winback.connectors.base import Deletion, DeletionPage, Page, Resource
from winback.model import AccountState, Customer, FinancialStatus, Order
from winback.sync import LocalStore, tables

EMAILS = [f"b{n:02d}@x.io" for n in range(24)]
CustomerFacts = tuple[datetime | None, datetime | None, int, Decimal]


def _email(rng: random.Random) -> str:
    email = rng.choice(EMAILS)
    return email.upper() if rng.random() < 0.15 else email


def _customer(rng: random.Random, n: int, updated: float) -> Customer:
    account = AccountState.GUEST if rng.random() < 0.2 else AccountState.ENABLED
    return customer(f"c{n:03d}", email=_email(rng), updated=updated, account=account)


def _order(rng: random.Random, n: int, customers: int, updated: float) -> Order:
    customer_id = f"c{rng.randrange(customers):03d}" if rng.random() < 0.7 else None
    email = None if customer_id and rng.random() < 0.2 else _email(rng)
    kind = rng.random()
    extra: dict[str, Any] = {}
    if kind < 0.08:
        extra["cancelled_at"] = at(updated)
    elif kind < 0.14:
        extra["test"] = True
    elif kind < 0.2:
        extra.update(financial_status=FinancialStatus.REFUNDED, refunded=eur("10"))
    elif kind < 0.3:
        extra.update(financial_status=FinancialStatus.PARTIALLY_REFUNDED, refunded=eur("2.5"))
    total = f"{rng.randrange(1, 90)}.{rng.randrange(100):02d}"
    return order(f"o{n:04d}", customer_id=customer_id, email=email, total=total,
                 created=rng.randrange(-40, 0) * 60.0, updated=updated, lines=0, **extra)


def _rows(conn: Connection, table: Any) -> list[Any]:
    return list(conn.execute(select(table).where(table.c.store_key == KEY)))


def _expected(conn: Connection) -> tuple[dict[str, CustomerFacts], dict[str, tuple]]:
    """Both kinds of facts, from the stored orders and customers and the definitions alone."""
    orders, customers = _rows(conn, tables.orders), _rows(conn, tables.customers)
    facts: dict[str, CustomerFacts] = {}
    for c in customers:
        guest_orders = c.lower_email is not None
        real = [o for o in orders if o.counts_as_purchase and (
            o.customer_id == c.id or (guest_orders and o.customer_id is None and o.lower_email == c.lower_email))]
        times = [o.ordered_at for o in real]
        spent = sum((o.net_total for o in real), Decimal(0))
        facts[c.id] = (min(times, default=None), max(times, default=None), len(real), spent)
    email_of = {c.id: c.lower_email for c in customers}
    by_email: dict[str, dict[str, Any]] = defaultdict(dict)
    for o in orders:
        for e in {o.lower_email, email_of.get(o.customer_id) if o.customer_id else None} - {None}:
            by_email[e][o.id] = o
    buyers = {}
    for e, found in by_email.items():
        newest_first = sorted(found.values(), key=lambda o: (o.ordered_at, o.id), reverse=True)
        real = [o for o in newest_first if o.counts_as_purchase]
        owners = [c for c in customers if c.lower_email == e]
        emails = [o.email for o in newest_first if o.email is not None]
        buyers[e] = (
            newest_first[0].email or max(emails, default=e),
            min((c.id for c in owners), default=None),
            all(c.is_guest for c in owners),
            len(newest_first), len(real), sum((o.net_total for o in real), Decimal(0)),
            real[-1].ordered_at if real else None, real[0].ordered_at if real else None,
            real[0].id if real else None,
        )
    return facts, buyers


def _stored(conn: Connection) -> tuple[dict[str, CustomerFacts], dict[str, tuple]]:
    customers = {row.id: (row.first_order_at, row.last_order_at, row.real_orders_count, row.real_amount_spent)
                 for row in _rows(conn, tables.customers)}
    buyers = {row.lower_email: (row.email, row.customer_id, row.is_guest, row.orders_count, row.real_orders_count,
                                row.real_amount_spent, row.first_order_at, row.last_order_at, row.last_order_id)
              for row in _rows(conn, tables.buyers)}
    return customers, buyers


def _assert_exact(store: LocalStore) -> None:
    with store.reading() as conn:
        expected, stored = _expected(conn), _stored(conn)
        assert conn.execute(select(tables.derived_pending)).all() == []
    assert stored[0] == expected[0]
    assert stored[1] == expected[1]


def _pages(records: list[Any], size: int = 7) -> list[Page[Any]]:
    return [Page(records=records[start : start + size]) for start in range(0, len(records), size)]


@pytest.mark.parametrize("seed", [1, 2])
async def test_derived_facts_are_exact_after_every_kind_of_change(sync_db: LocalStore, seed: int) -> None:
    rng = random.Random(seed)
    sync_db.upsert_store(await FakeConnector().store_info())
    customers = [_customer(rng, n, 0) for n in range(30)]
    orders = [_order(rng, n, 34, 0) for n in range(120)]  # some name a customer the store never gets

    # a first sync: deferred, recorded as the whole store
    sync_db.commit_pages(KEY, Resource.CUSTOMERS, _pages(customers), None, defer_derived=True)
    sync_db.commit_pages(KEY, Resource.ORDERS, _pages(orders), None, defer_derived=True)
    sync_db.recompute_derived(KEY)
    _assert_exact(sync_db)
    with sync_db.reading() as conn:
        assert any(row.real_orders_count > 1 for row in _rows(conn, tables.customers))
        assert any(row.orders_count > row.real_orders_count > 0 for row in _rows(conn, tables.buyers))

    # an incremental sync: changed and new orders and customers, deferred, recorded by key
    changed = [_order(rng, rng.randrange(120), 34, 1) for _ in range(40)]
    changed += [_order(rng, n, 34, 1) for n in range(120, 140)]
    sync_db.commit_pages(KEY, Resource.ORDERS, _pages(changed), None, defer_derived=True)
    moved = [_customer(rng, rng.randrange(34), 2) for _ in range(12)]
    sync_db.commit_pages(KEY, Resource.CUSTOMERS, _pages(moved), None, defer_derived=True)
    with sync_db.reading() as conn:
        assert ("store", "*") not in {(row.kind, row.value) for row in _rows(conn, tables.derived_pending)}
    sync_db.recompute_derived(KEY)
    _assert_exact(sync_db)

    # pages settled at once
    for batch in ([_customer(rng, rng.randrange(34), 3) for _ in range(6)],
                  [_order(rng, rng.randrange(140), 34, 3) for _ in range(15)]):
        resource = Resource.CUSTOMERS if isinstance(batch[0], Customer) else Resource.ORDERS
        sync_db.commit_page(KEY, resource, Page(records=batch), None)
        _assert_exact(sync_db)

    # deletions on the platform, then redactions
    gone = [Deletion(Resource.ORDERS, f"o{n:04d}", at(10)) for n in rng.sample(range(140), 15)]
    gone += [Deletion(Resource.CUSTOMERS, f"c{n:03d}", at(10)) for n in rng.sample(range(34), 4)]
    sync_db.commit_deletions(KEY, Resource.ORDERS, DeletionPage(gone), at(10))
    _assert_exact(sync_db)
    with sync_db.reading() as conn:
        stored = _rows(conn, tables.customers)
    sync_db.redact_customer(KEY, stored[0].id)
    sync_db.redact_customer(KEY, None, email=next(row.email for row in stored[1:] if row.email))
    _assert_exact(sync_db)

    # the next syncs read the forgotten people's orders again (scrubbed as they are written)
    with sync_db.reading() as conn:
        forgotten = {row.id for row in _rows(conn, tables.customers) if row.redacted}
        theirs = [row.id for row in _rows(conn, tables.orders) if row.customer_id in forgotten or row.email is None]
    assert forgotten and theirs
    again = [_order(rng, int(oid[1:]), 34, 12) for oid in theirs[:10]]
    again += [_order(rng, rng.randrange(140), 34, 12) for _ in range(10)]
    sync_db.commit_pages(KEY, Resource.ORDERS, _pages(again[:10]), None, defer_derived=True)
    sync_db.recompute_derived(KEY)
    _assert_exact(sync_db)
    sync_db.commit_page(KEY, Resource.ORDERS, Page(records=again[10:]), None)
    _assert_exact(sync_db)


@pytest.mark.parametrize("defer", [False, True])
async def test_each_fact_changing_alone_is_written(sync_db: LocalStore, defer: bool) -> None:
    """A customer's row is left alone only when all four facts are unchanged: each one moving
    while the other three stay is written (page by page, and deferred by key)."""
    sync_db.upsert_store(await FakeConnector().store_info())
    sync_db.commit_page(KEY, Resource.CUSTOMERS, Page(records=[customer("c001", email="a@x.io")]), None)
    first, last = order("o1", customer_id="c001", created=-60, total="10"), order("o2", customer_id="c001", created=-30)
    sync_db.commit_page(KEY, Resource.ORDERS, Page(records=[first, last]), None)
    _assert_exact(sync_db)
    for change in (
        order("o2", customer_id="c001", created=-20, updated=1),  # last_order_at alone
        order("o1", customer_id="c001", created=-70, total="10", updated=2),  # first_order_at alone
        order("o1", customer_id="c001", created=-70, total="12", updated=3),  # real_amount_spent alone
        order("o3", customer_id="c001", created=-50, total="0", updated=4),  # real_orders_count alone
    ):
        before = _stored_customer(sync_db)
        sync_db.commit_pages(KEY, Resource.ORDERS, [Page(records=[change])], None, defer_derived=defer)
        if defer:
            sync_db.recompute_derived(KEY)
        _assert_exact(sync_db)
        after = _stored_customer(sync_db)
        assert sum(a != b for a, b in zip(before, after, strict=True)) == 1, (before, after)


def _stored_customer(store: LocalStore) -> CustomerFacts:
    with store.reading() as conn:
        return _stored(conn)[0]["c001"]


def _buyer_rows(store: LocalStore) -> list[tuple[Any, ...]]:
    with store.reading() as conn:
        return [tuple(row) for row in conn.exec_driver_sql("SELECT * FROM buyers ORDER BY store_key, lower_email")]


async def _first_sync_left_pending(store: LocalStore, rng: random.Random) -> None:
    """A first sync's customers and orders committed, their facts left to a whole-store recompute."""
    store.upsert_store(await FakeConnector().store_info())
    store.commit_pages(KEY, Resource.CUSTOMERS, _pages([_customer(rng, n, 0) for n in range(30)]), None,
                       defer_derived=True)
    store.commit_pages(KEY, Resource.ORDERS, _pages([_order(rng, n, 34, 0) for n in range(120)]), None,
                       defer_derived=True)


async def test_a_whole_store_recompute_reads_the_buyers_beside_on_a_sqlite_file_and_writes_the_same_rows(
    sync_db: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a SQLite file the buyers' rows of a whole-store recompute are read on a second connection
    while the first updates the customers (see ``derive._recompute_whole``); the stored rows are
    byte for byte those of the single ``INSERT .. SELECT`` (PostgreSQL's path, and SQLite's in
    memory)."""
    from winback.sync import derive

    reads: list[str] = []
    read_beside = derive._read_beside

    def counted(*args: Any) -> list[Any]:
        reads.append("beside")
        return read_beside(*args)

    monkeypatch.setattr(derive, "_read_beside", counted)
    await _first_sync_left_pending(sync_db, random.Random(5))
    sync_db.recompute_derived(KEY)
    _assert_exact(sync_db)
    on_sqlite = sync_db.engine.dialect.name == "sqlite"
    assert reads == (["beside"] if on_sqlite else [])
    beside = _buyer_rows(sync_db)
    assert len(beside) > 10

    monkeypatch.setattr(derive, "_reads_beside", lambda conn: False)
    with sync_db.writing() as conn:
        derive.settle(conn, KEY, [], [], defer=True, whole_store=True)
    sync_db.recompute_derived(KEY)
    assert reads == (["beside"] if on_sqlite else [])
    assert _buyer_rows(sync_db) == beside
    _assert_exact(sync_db)


async def test_a_writer_waits_while_the_buyers_are_read_beside(
    sync_db: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The buyers read beside see the state the recompute's transaction started from: it holds
    the write lock, so another writer's commit waits for it (and is not lost)."""
    if sync_db.engine.dialect.name != "sqlite":
        pytest.skip("the buyers are read beside on SQLite files only")
    import threading

    from winback.sync import derive

    rng = random.Random(6)
    await _first_sync_left_pending(sync_db, rng)
    reading, late = threading.Event(), threading.Event()
    read_beside = derive._read_beside

    def slow(*args: Any) -> list[Any]:
        reading.set()
        late.wait(10)  # a writer tries to commit meanwhile
        return read_beside(*args)

    def another_writer() -> None:
        reading.wait(10)
        sync_db.commit_page(KEY, Resource.ORDERS, Page(records=[_order(rng, 500, 34, 1)]), None)

    monkeypatch.setattr(derive, "_read_beside", slow)
    writer = threading.Thread(target=another_writer)
    writer.start()
    timer = threading.Timer(0.5, late.set)
    timer.start()
    sync_db.recompute_derived(KEY)
    writer.join(30)
    timer.join()
    assert not writer.is_alive()
    _assert_exact(sync_db)
    with sync_db.reading() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM orders WHERE id = 'o0500'").scalar() == 1
