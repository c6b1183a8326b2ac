"""The store's write path (one-step bind processors, compiled row functions, the JSON encoder)
stores exactly what SQLAlchemy's own execution path stores, byte for byte, on SQLite, and row for
row on PostgreSQL (several rows per INSERT there)."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import date, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.types import TypeDecorator

from tests.unit.test_sync_support import KEY, FakeConnector, at, customer, eur, order, product
from winback.connectors.base import Page, Resource
from winback.model import Address, ConsentState, EmailConsent, FinancialStatus, LineItem, Money
from winback.sync import database, open_store, params, statements
from winback.sync.types import Amount, UtcDateTime
from winback.sync.store import LocalStore

TABLES = ("customers", "orders", "order_lines", "products", "buyers")


def _rounds() -> list[tuple[list, list, list]]:
    """Two syncs' worth of records: the second updates most of the first (new emails, lines,
    amounts, addresses), so both the insert and the conflict-update paths run."""
    rng = random.Random(5)
    rounds = []
    for shift in (0, 60):
        customers, orders = [], []
        for n in range(40):
            extra = {}
            if n % 3:
                extra["default_address"] = Address(first_name=f"Zoë {n}", city="Kraków", zip=None if n % 2 else "31-000")
            if n % 4 == 0:
                extra["birth_date"] = date(1990, 2, 28 + n % 2)
            customers.append(customer(
                f"c{n}", updated=shift + n, email=f"C{n}@Example.com" if shift == 0 or n % 5 else f"new{n}@example.com",
                tags=tuple(f"t{k}" for k in range(n % 3)), amount_spent=eur(f"{n}.{n:03d}") if n % 2 else None,
                orders_count=n, phone=None if n % 2 else f"+33 6 {n:02d}",
                consent=EmailConsent(state=ConsentState.SUBSCRIBED, updated_at=at(n + 0.123456)) if n % 2 else EmailConsent(),
                **extra,
            ))
        for n in range(90):
            kind = n % 6
            lines = tuple(
                LineItem(id=f"o{n}-l{k}", product_id=None if k == 2 else f"p{k}", title=f"Thé {k}", quantity=k + 1,
                         current_quantity=k, unit_price=None if k == 1 else eur(f"{rng.randint(0, 99999)}.{k}5"))
                for k in range(n % 4 + (shift > 0 and n % 2))
            )
            orders.append(order(
                f"o{n}", updated=shift + n + rng.random(), created=n, customer_id=f"c{n % 50}" if kind else None,
                email=None if kind == 5 else f"c{n % 50}@example.com" if n % 7 else f"Guest{n}@Example.com",
                total=f"{rng.randint(0, 10**6)}.{rng.randint(0, 9999):04d}",
                refunded=eur("1.5") if kind == 2 else None, current_total=eur("3.25") if kind == 3 else None,
                cancelled_at=at(n + 1).astimezone(timezone(timedelta(hours=-5))) if kind == 4 else None,
                financial_status=FinancialStatus.REFUNDED if kind == 2 else FinancialStatus.PAID,
                billing_address=Address(country_code="FR", city="Saint-Étienne") if n % 2 else None,
                discount_codes=("WELCOME", "ÉTÉ") if kind == 1 else (), test=kind == 3,
                accepts_marketing=None if kind == 0 else bool(n % 2), fulfillment_status="fulfilled" if n % 2 else None,
                fulfilled_at=at(n + 2) if n % 2 else None, delivered_at=at(n + 3 - shift / 30) if n % 4 == 1 else None,
                processed_at=at(n + 0.5) if n % 3 else None, lines=0,
            ).model_copy(update={"line_items": lines}))
        products = [product(f"p{n}", updated=shift + n, handle=f"h{n}" if n % 2 else None) for n in range(6)]
        rounds.append((customers, orders, products))
    return rounds


async def _commit_rounds(store: LocalStore) -> None:
    """Every round of :func:`_rounds` committed in pages of 25 with derived facts deferred, then
    recomputed, as a sync does."""
    store.upsert_store(await FakeConnector().store_info())
    for customers, orders, products in _rounds():
        for resource, records in ((Resource.CUSTOMERS, customers), (Resource.ORDERS, orders),
                                  (Resource.PRODUCTS, products)):
            pages = [Page(records=records[i : i + 25]) for i in range(0, len(records), 25)]
            store.commit_pages(KEY, resource, pages, None, defer_derived=True)
        store.recompute_derived(KEY)


async def _sync(path: Path) -> dict[str, list[tuple]]:
    store = open_store(f"sqlite:///{path}")
    try:
        await _commit_rounds(store)
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        dumped = {}
        for table in TABLES:
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            select = ", ".join(f"typeof({c}), {c}" for c in columns)
            dumped[table] = sorted(conn.execute(f"SELECT {select} FROM {table}"), key=repr)
    return dumped


async def test_fast_path_stores_what_sqlalchemy_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = await _sync(tmp_path / "fast.db")

    monkeypatch.setattr(UtcDateTime, "bind_processor", TypeDecorator.bind_processor)
    monkeypatch.setattr(Amount, "bind_processor", TypeDecorator.bind_processor)
    monkeypatch.setattr(database, "_json_text", json.dumps)
    monkeypatch.setattr(statements.Prepared, "execute", lambda self, conn, values: conn.execute(self.statement, values))
    monkeypatch.setattr(params, "for_dialect", lambda dialect: None)
    reference = await _sync(tmp_path / "reference.db")

    assert {table: len(rows) for table, rows in fast.items()} == {
        "customers": 40, "orders": 90, "order_lines": sum(n % 4 + n % 2 for n in range(90)), "products": 6,
        "buyers": len(reference["buyers"]),
    }
    assert reference["buyers"]
    for table in TABLES:
        assert fast[table] == reference[table], table
    stored = {row[3]: row for row in fast["orders"]}  # (typeof, value) pairs: id, cancelled_at, total
    assert stored["o4"][18:20] == ("text", f"{at(5).replace(tzinfo=None):%Y-%m-%d %H:%M:%S.%f}")
    assert stored["o4"][26] == "integer"


async def _sync_postgres(url: str) -> dict[str, list[str]]:
    store = open_store(url)
    try:
        with store.writing() as conn:
            for table in (*TABLES, "sync_cursors", "derived_pending"):
                conn.exec_driver_sql(f"DELETE FROM {table}")
        await _commit_rounds(store)
        with store.reading() as conn:
            return {table: sorted(row[0] for row in conn.exec_driver_sql(f"SELECT t::text FROM {table} t"))
                    for table in TABLES}
    finally:
        store.close()


async def test_multi_row_inserts_store_what_sqlalchemy_stores_on_postgresql(
    sync_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several ``VALUES`` rows per statement (7 here, so batches split with a remainder) store the
    rows SQLAlchemy's own per-row execution stores."""
    monkeypatch.setattr(statements, "ROWS_PER_INSERT", 7)
    fast = await _sync_postgres(sync_postgres_url)

    monkeypatch.setattr(statements.MultiRow, "execute", lambda self, conn, values: conn.execute(self.statement, values))
    reference = await _sync_postgres(sync_postgres_url)

    assert len(fast["orders"]) == 90 and len(fast["order_lines"]) > 90 and fast["buyers"]
    for table in TABLES:
        assert fast[table] == reference[table], table
