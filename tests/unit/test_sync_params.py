"""SQLite's parameter tuples read straight from the model equal what the general path makes of the
row dicts (``Prepared.row(rows.order_row(...))``), value for value and type for type, and a batch
mixing them with changed rows (kept fulfilment times, redactions) stores what the general path
stores."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.dialects import postgresql

from tests.unit.test_sync_support import KEY, FakeConnector, at, customer, eur, order
from tests.unit.test_sync_write_path import _rounds
from winback.connectors.base import Page, Resource
from winback.model import Address, Customer, Order
from winback.sync import database, open_store, params, rows, statements, tables

TABLES = ("customers", "orders", "order_lines", "buyers")


def _typed(values: Any) -> list[tuple[type, Any]]:
    """Values with their types: ``True == 1``, but the driver binds them alike only if both paths
    hand over the same thing."""
    return [(type(value), value) for value in values]


def _odd_orders() -> list[Order]:
    """Orders whose times share objects, equal each other in other zones, or are not UTC at all
    (``model_copy`` does not validate, as a parser building records without validation would not)."""
    base = order("odd0", updated=5, created=1, lines=3, billing_address=Address(), discount_codes=("A",))
    new_york = timezone(timedelta(hours=-5))
    return [
        base.model_copy(update={"processed_at": base.created_at, "fulfilled_at": base.updated_at,
                                "delivered_at": base.updated_at}),
        base.model_copy(update={"processed_at": at(1) + timedelta(0), "fulfilled_at": at(5) + timedelta(0)}),
        base.model_copy(update={"processed_at": at(1).astimezone(new_york), "cancelled_at": at(2).astimezone(new_york)}),
        base.model_copy(update={"created_at": at(1).astimezone(new_york), "processed_at": at(1)}),
        base.model_copy(update={"processed_at": at(1.5), "refunded": eur("20"), "current_total": None}),
        base.model_copy(update={"cancelled_at": at(5) + timedelta(0), "delivered_at": at(5).astimezone(new_york),
                                "fulfilled_at": at(4)}),
        base.model_copy(update={"line_items": base.line_items + base.line_items[:1], "accepts_marketing": False}),
        base.model_copy(update={"billing_address": Address(first_name="", city="Zürich \"\\\n\u2603\U0001f600")}),
    ]


def _records() -> tuple[list[Order], list[Customer]]:
    orders: list[Order] = _odd_orders()
    customers: list[Customer] = []
    for round_customers, round_orders, _ in _rounds():
        orders += round_orders
        customers += round_customers
    return orders, customers


def test_tuples_equal_the_row_functions_of_the_row_dicts() -> None:
    engine = database._sqlite_engine("sqlite://")
    fast = params.for_dialect(engine.dialect)
    assert fast is not None
    with engine.connect() as conn:
        order_row, line_row, customer_row = (
            statements.prepared(conn, kind, table, columns).row for kind, table, columns in (
                ("upsert", tables.orders, params.ORDER_COLUMNS), ("insert", tables.order_lines, params.LINE_COLUMNS),
                ("upsert", tables.customers, params.CUSTOMER_COLUMNS),
            )
        )
    orders, customers = _records()
    assert len(orders) > 180 and len(customers) == 80
    for record in orders:
        assert _typed(fast.order(KEY, record)) == _typed(order_row(rows.order_row(KEY, record))), record.id
        assert [_typed(line) for line in fast.lines(KEY, record)] == [
            _typed(line_row(line)) for line in rows.line_rows(KEY, record)
        ], record.id
    for record in customers:
        assert _typed(fast.customer(KEY, record)) == _typed(customer_row(rows.customer_row(KEY, record))), record.id
    assert fast.order(KEY, orders[0])[params.ORDER_COLUMNS.index("billing_address")] == "{}"
    assert len(fast.lines(KEY, orders[5])) == 3  # the repeated line once, as the general path keeps it


def test_the_columns_are_the_rows_keys() -> None:
    orders, customers = _records()
    assert tuple(rows.order_row(KEY, orders[0])) == params.ORDER_COLUMNS
    assert tuple(rows.line_rows(KEY, orders[0])[0]) == params.LINE_COLUMNS
    assert tuple(rows.customer_row(KEY, customers[0])) == params.CUSTOMER_COLUMNS


def test_no_fast_path_where_a_processor_differs() -> None:
    """Another JSON serializer (here one keeping non-ASCII text) or PostgreSQL: the general path."""
    other = create_engine("sqlite://", json_serializer=lambda value: json.dumps(value, ensure_ascii=False))
    assert params.for_dialect(other.dialect) is None
    assert params.for_dialect(postgresql.dialect()) is None
    assert params.for_dialect(create_engine("sqlite://", json_serializer=json.dumps).dialect) is not None


async def _write(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Orders first stored with early fulfilment times, then re-read later with later ones (the
    stored ones are kept), in batches that mix them with new orders, a redacted customer's and
    a forgotten email's orders; customers likewise."""
    store = open_store(f"sqlite:///{path}")
    try:
        store.upsert_store(await FakeConnector().store_info())
        first = [order(f"o{n}", updated=n, customer_id=f"c{n % 4}", email=f"c{n % 4}@example.com",
                       fulfilled_at=at(n + 1), delivered_at=at(n + 2) if n % 2 else None) for n in range(8)]
        store.commit_pages(KEY, Resource.CUSTOMERS, [Page(records=[customer(f"c{n}") for n in range(4)])], None)
        store.commit_pages(KEY, Resource.ORDERS, [Page(records=first)], None)
        store.redact_customer(KEY, "c1")
        store.redact_customer(KEY, email="forgotten@example.com")
        again = [
            order(f"o{n}", updated=n + 10, customer_id=f"c{n % 4}", email=f"c{n % 4}@example.com", lines=2,
                  fulfilled_at=at(n + 1 + n % 3), delivered_at=at(n) if n % 2 else at(n + 9))
            for n in range(8)
        ]
        again += [order("o20", updated=3, email="Forgotten@Example.com"), order("o21", updated=4, email="x@example.com")]
        store.commit_pages(KEY, Resource.ORDERS, [Page(records=again)], None, defer_derived=True)
        store.commit_pages(KEY, Resource.CUSTOMERS, [Page(records=[
            customer("c5", email="forgotten@example.com", updated=1), customer("c6", updated=1),
            customer("c2", updated=20, email="new@example.com"), customer("c1", updated=30),
        ])], None, defer_derived=True)
        store.recompute_derived(KEY)
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        dumped = {}
        for table in TABLES:
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            select = ", ".join(f"typeof({c}), {c}" for c in columns if c != "deleted_at")
            dumped[table] = sorted(conn.execute(f"SELECT {select} FROM {table}"), key=repr)
    return dumped


async def test_a_batch_mixing_tuples_and_changed_rows_stores_what_the_general_path_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    original = params.Rows.add

    def add(self: params.Rows, record: Any, changes: Any = None) -> None:
        made.append("tuple" if self.make is not None and not changes else "dict")
        original(self, record, changes)

    monkeypatch.setattr(params.Rows, "add", add)
    fast = await _write(tmp_path / "fast.db")
    assert "tuple" in made and "dict" in made
    monkeypatch.setattr(params, "for_dialect", lambda dialect: None)
    reference = await _write(tmp_path / "reference.db")

    for table in TABLES:
        assert fast[table] == reference[table], table
    stored = {row[3]: row for row in fast["orders"]}
    assert stored["o2"][params.ORDER_COLUMNS.index("fulfilled_at") * 2 + 1] == "2026-01-01 00:03:00.000000"  # kept
    assert stored["o20"][7] is None and stored["o21"][7] == "x@example.com"  # forgotten email: redacted
    assert stored["o1"][7] is None  # a redacted customer's order
