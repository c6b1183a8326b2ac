"""PostgreSQL's ``COPY`` path (:mod:`winback.sync.pg_copy`) stores exactly what the multi-row
``INSERT`` path stores, and falls back to the upsert when another transaction stored a row the
batch thought new."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.unit.test_sync_support import KEY, FakeConnector, customer, order
from tests.unit.test_sync_write_path import TABLES, _sync_postgres
from winback.connectors.base import Page, Resource
from winback.sync import open_store, pg_copy, statements, writes

pytestmark = pytest.mark.integration


def _spy(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[Any]:
    calls: list[Any] = []
    original = getattr(module, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


async def test_copy_stores_what_the_multi_row_inserts_store(sync_postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two syncs' worth of customers, orders and lines (the second updating most of the first, so
    batches mix stored and new rows) through ``COPY`` land as through the ``INSERT`` statements."""
    monkeypatch.setattr(pg_copy, "MIN_ROWS", 3)
    copies = _spy(monkeypatch, pg_copy, "copy_rows")
    copied = await _sync_postgres(sync_postgres_url)
    assert {call[1].name for call in copies} == {"customers", "orders", "order_lines"}

    monkeypatch.setattr(pg_copy, "MIN_ROWS", 10**9)
    copies.clear()
    reference = await _sync_postgres(sync_postgres_url)
    assert not copies

    assert len(copied["orders"]) == 90 and len(copied["order_lines"]) > 90 and copied["buyers"]
    for table in TABLES:
        assert copied[table] == reference[table], table


def _stored(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


async def test_a_row_stored_meanwhile_by_another_transaction_is_upserted(
    sync_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the batch's look-up of stored ids and its ``COPY``, another transaction commits one
    of its customers and one of its orders: the ``COPY`` fails on the primary key, and the rows
    then go through the upsert, which overwrites them with the batch's, as it always did."""
    monkeypatch.setattr(pg_copy, "MIN_ROWS", 3)
    store = open_store(sync_postgres_url)
    store.upsert_store(await FakeConnector().store_info())
    intruder = create_engine(sync_postgres_url)
    looked_up = writes.stored_rows

    def stored_rows_then_a_concurrent_insert(conn: Any, table: Any, store_key: str, ids: list[str], *columns: str) -> Any:
        found = looked_up(conn, table, store_key, ids, *columns)
        with intruder.begin() as other:
            if table.name == "customers":
                other.execute(text(
                    "INSERT INTO customers (store_key, id, email, lower_email, updated_at, account_state,"
                    " consent_state, tags) VALUES (:key, 'c2', 'old@example.com', 'old@example.com',"
                    " '2001-01-01', 'enabled', 'unknown', '[]')"
                ), {"key": KEY})
            else:
                other.execute(text(
                    "INSERT INTO orders (store_key, id, created_at, updated_at, test, financial_status, currency,"
                    " total, ordered_at, net_total, counts_as_purchase) VALUES (:key, 'o3', '2001-01-01',"
                    " '2001-01-01', false, 'paid', 'EUR', 1, '2001-01-01', 1, true)"
                ), {"key": KEY})
        return found

    monkeypatch.setattr(writes, "stored_rows", stored_rows_then_a_concurrent_insert)
    fallbacks = _spy(monkeypatch, statements, "upsert")
    try:
        customers = [customer(f"c{n}", updated=n, email=f"c{n}@example.com") for n in range(5)]
        orders = [order(f"o{n}", updated=n, customer_id=f"c{n}", email=f"c{n}@example.com", lines=2) for n in range(5)]
        store.commit_pages(KEY, Resource.CUSTOMERS, [Page(records=customers)], None)
        store.commit_pages(KEY, Resource.ORDERS, [Page(records=orders)], None)
    finally:
        store.close()
        intruder.dispose()

    assert [len(call[2]) for call in fallbacks if call[2]] == [5, 5]  # each batch's new rows, upserted
    assert _stored(sync_postgres_url, "SELECT id, lower_email FROM customers ORDER BY id") == [
        (f"c{n}", f"c{n}@example.com") for n in range(5)
    ]
    assert _stored(sync_postgres_url, "SELECT id, customer_id FROM orders ORDER BY id") == [
        (f"o{n}", f"c{n}") for n in range(5)
    ]
    assert len(_stored(sync_postgres_url, "SELECT * FROM order_lines")) == 10
