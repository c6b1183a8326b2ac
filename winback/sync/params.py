"""SQLite's parameters for order, line and customer rows, read straight from the model.

Why
    The general write path builds each record's row as a dict (:mod:`winback.sync.rows`), and the
    statement's compiled row function (:mod:`winback.sync.statements`) reads it back column by
    column into the driver's tuple, each value through its column type's bind processor. For the
    three tables a sync writes thousands of rows into, that dict and its lookups cost as much as
    the conversions themselves. Here the tuple is read from the model in one step, with the same
    conversions: the column types' own SQLite processors (:mod:`winback.sync.types`) for times
    and amounts, JSON text exactly as the dialect's serializer writes it, and the values the
    other columns' processors pass through unchanged.

    What lands in the database is the same, byte for byte: ``tests/unit/test_sync_params.py``
    compares each tuple with the row function's over varied records, and
    ``tests/unit/test_sync_write_path.py`` compares stored bytes with SQLAlchemy's own path.
    :func:`for_dialect` checks the assumptions it makes about the processors and returns None
    (the general path) when one does not hold, and on PostgreSQL.

A row a writer changes after building it (a redacted order, an earlier fulfilment time kept) goes
through the general path: :class:`Rows` takes both and runs them as one statement.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from datetime import date, timezone
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import JSON, Boolean, Connection, Dialect, Table

from winback.model import Customer, Order, normalize_email
from winback.sync import pg_copy, rows, statements, tables
from winback.sync.types import Amount, UtcDateTime, sqlite_amount, sqlite_datetime

ORDER_COLUMNS = (
    "store_key", "id", "customer_id", "email", "lower_email", "name", "created_at", "updated_at",
    "processed_at", "cancelled_at", "test", "financial_status", "currency", "total", "current_total",
    "refunded", "accepts_marketing", "billing_address", "ordered_at", "net_total", "counts_as_purchase",
    "discount_codes", "fulfillment_status", "fulfilled_at", "delivered_at",
)
LINE_COLUMNS = (
    "store_key", "order_id", "id", "position", "product_id", "variant_id", "sku", "title", "quantity",
    "current_quantity", "unit_price", "currency",
)
CUSTOMER_COLUMNS = (
    "store_key", "id", "email", "lower_email", "first_name", "last_name", "phone", "created_at",
    "updated_at", "account_state", "consent_state", "consent_updated_at", "orders_count", "amount_spent",
    "amount_spent_currency", "tags", "default_address", "redacted", "deleted_at", "is_guest", "birth_date",
    "birth_md",
)
"""The columns the tuples hold, in their order: the rows of :mod:`winback.sync.rows` (a customer's
derived facts are :mod:`winback.sync.derive`'s to write), in the tables' order, which is the order
SQLAlchemy compiles an ``INSERT``'s parameters in (:class:`Rows` checks)."""
_DERIVED_CUSTOMER_COLUMNS = ("first_order_at", "last_order_at", "real_orders_count", "real_amount_spent")

UTC = timezone.utc
_JSON_SAMPLES: tuple[Any, ...] = ([], ["É\"\\\n\u2603", "x"], {"city": "Kraków \u2603", "zip": "\"\t\x00"}, {})


@dataclass(frozen=True, slots=True)
class SqliteParams:
    """The tuple functions for one SQLite dialect (its processors looked up and checked once)."""

    order: Callable[[str, Order], tuple[Any, ...]]
    lines: Callable[[str, Order], list[tuple[Any, ...]]]
    customer: Callable[[str, Customer], tuple[Any, ...]]


_BUILT: WeakKeyDictionary[Dialect, SqliteParams | None] = WeakKeyDictionary()


def for_dialect(dialect: Dialect) -> SqliteParams | None:
    """The tuple functions for ``dialect`` (built once per engine: its JSON serializer is its
    own), or None where the general path must run: not SQLite, or a column whose processor is not
    one the functions reproduce."""
    try:
        return _BUILT[dialect]
    except KeyError:
        found = _BUILT[dialect] = _build(dialect) if dialect.name == "sqlite" else None
        return found


def _processor(dialect: Dialect, table: Table, name: str) -> Any:
    type_ = table.c[name].type
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _reproducible(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> bool:
    """``columns`` are the table's columns (but the derived ones), and every one's processor is
    one the functions below reproduce: the types' own for times and amounts, the standard JSON
    text, a no-op for strings, integers and booleans (SQLite binds ``True`` as ``1``); dates go
    through their processor."""
    if tuple(c.name for c in table.columns if c.name not in _DERIVED_CUSTOMER_COLUMNS) != columns:
        return False
    for name in columns:
        process = _processor(dialect, table, name)
        type_ = table.c[name].type
        if isinstance(type_, UtcDateTime):
            ok = process is sqlite_datetime
        elif isinstance(type_, Amount):
            ok = process is sqlite_amount
        elif isinstance(type_, JSON):
            ok = process is not None and all(process(sample) == json.dumps(sample) for sample in _JSON_SAMPLES)
        elif isinstance(type_, Boolean):
            ok = process is None or (process(None) is None and process(True) == 1 and process(False) == 0)
        else:
            ok = process is None or name == "birth_date"
        if not ok:
            return False
    return True


def _build(dialect: Dialect) -> SqliteParams | None:
    if not (
        _reproducible(dialect, tables.orders, ORDER_COLUMNS)
        and _reproducible(dialect, tables.order_lines, LINE_COLUMNS)
        and _reproducible(dialect, tables.customers, CUSTOMER_COLUMNS)
    ):
        return None
    to_text = sqlite_datetime
    to_units = sqlite_amount
    no_billing_address = _processor(dialect, tables.orders, "billing_address")(None)
    no_default_address = _processor(dialect, tables.customers, "default_address")(None)
    codes_json = _processor(dialect, tables.orders, "discount_codes")
    tags_json = _processor(dialect, tables.customers, "tags")
    birth_date: Callable[[date], Any] = _processor(dialect, tables.customers, "birth_date") or (lambda value: value)
    address_text = rows.address_text
    net_total = rows.net_total

    def text_of(value: Any, known: Any, known_text: str | None) -> str | None:
        if value is known or (value is not None and value.tzinfo is UTC and value == known):
            return known_text
        return to_text(value)

    def order(store_key: str, order: Order) -> tuple[Any, ...]:
        # An order's other times are often its created or updated time (Ecwid: the very objects;
        # Shopify: processed equals created, delivery and cancellation mostly equal the update):
        # one text each. Equal UTC datetimes are one instant; equality within another zone
        # ignores ``fold``, so only UTC ones are taken as equal.
        created, updated = order.created_at, order.updated_at
        created_text, updated_text = to_text(created), to_text(updated)
        processed, fulfilled, delivered = order.processed_at, order.fulfilled_at, order.delivered_at
        processed_text = text_of(processed, created, created_text)
        current, refunded = order.current_total, order.refunded
        current_units = None if current is None else to_units(current.amount)
        address, codes = order.billing_address, order.discount_codes
        return (
            store_key, order.id, order.customer_id, order.email, normalize_email(order.email), order.name,
            created_text, updated_text, processed_text, text_of(order.cancelled_at, updated, updated_text), order.test,
            order.financial_status.value, order.total.currency, to_units(order.total.amount), current_units,
            None if refunded is None else to_units(refunded.amount), order.accepts_marketing,
            no_billing_address if address is None else address_text(address),
            created_text if processed is None else processed_text,
            current_units if current is not None else to_units(net_total(order)),
            order.counts_as_purchase, codes_json(list(codes)) if codes else "[]", order.fulfillment_status,
            text_of(fulfilled, updated, updated_text), text_of(delivered, updated, updated_text),
        )

    def lines(store_key: str, order: Order) -> list[tuple[Any, ...]]:
        order_id = order.id
        found: list[tuple[Any, ...]] = []
        seen: set[str] = set()
        for line in order.line_items:
            if line.id in seen:
                continue
            seen.add(line.id)
            price = line.unit_price
            found.append((
                store_key, order_id, line.id, len(found), line.product_id, line.variant_id, line.sku, line.title,
                line.quantity, line.current_quantity, None if price is None else to_units(price.amount),
                None if price is None else price.currency,
            ))
        return found

    def customer(store_key: str, customer: Customer) -> tuple[Any, ...]:
        spent = customer.amount_spent
        tags = customer.tags
        address = customer.default_address
        born = customer.birth_date
        account = customer.account.value
        return (
            store_key, customer.id, customer.email, normalize_email(customer.email), customer.first_name,
            customer.last_name, customer.phone, to_text(customer.created_at), to_text(customer.updated_at),
            account, customer.consent.state.value, to_text(customer.consent.updated_at), customer.orders_count,
            None if spent is None else to_units(spent.amount), None if spent is None else spent.currency,
            tags_json(list(tags)) if tags else "[]",
            no_default_address if address is None else address_text(address),
            False, None, account == "guest", None if born is None else birth_date(born),
            None if born is None else born.month * 100 + born.day,
        )

    return SqliteParams(order, lines, customer)


@dataclass(slots=True)
class Rows:
    """The rows one statement of a batch writes: tuples from ``make`` (a :class:`SqliteParams`
    function) where there is one, else dicts from ``row`` (:mod:`winback.sync.rows`). A row the
    writer changes is always ``row``'s dict with the changes, turned into the same tuple by the
    statement's row function. :meth:`execute` runs them, in the order added, as one statement."""

    conn: Connection
    kind: str
    """"upsert" or "insert" (see :func:`statements.prepared`)."""
    table: Table
    columns: tuple[str, ...]
    store_key: str
    make: Callable[[str, Any], Any] | None
    row: Callable[[str, Any], Any]
    tuples: list[Any] = field(default_factory=list)
    dicts: list[dict[str, Any]] = field(default_factory=list)

    def add(self, record: Any, changes: Mapping[str, Any] | None = None) -> None:
        """The row of ``record``, with ``changes``."""
        if self.make is not None and not changes:
            self.tuples.append(self.make(self.store_key, record))
            return
        value = self.row(self.store_key, record)
        if changes:
            value.update(changes)
        if self.make is not None:
            self.tuples.append(self._prepared().row(value))
        else:
            self.dicts.append(value)

    def add_each(self, record: Any) -> None:
        """The rows of ``record`` (``make`` and ``row`` return lists: an order's lines)."""
        if self.make is not None:
            self.tuples += self.make(self.store_key, record)
        else:
            self.dicts += self.row(self.store_key, record)

    def execute(self, stored: Container[str] | None = None) -> None:
        """Run the rows. ``stored``: the ids of those the writer found stored in this transaction;
        the others may be copied on PostgreSQL (see :mod:`winback.sync.pg_copy`)."""
        if self.tuples:
            self._prepared().execute_rows(self.conn, self.tuples)
        elif self.dicts and self.kind == "upsert" and stored is not None:
            pg_copy.upsert(self.conn, self.table, self.dicts, stored)
        elif self.dicts and self.kind == "upsert":
            statements.upsert(self.conn, self.table, self.dicts)
        elif self.dicts:
            pg_copy.insert(self.conn, self.table, self.dicts)

    def _prepared(self) -> statements.Prepared:
        found = statements.prepared(self.conn, self.kind, self.table, self.columns)
        if not isinstance(found, statements.Prepared) or found.names != self.columns:
            raise RuntimeError(f"{self.table.name}: the statement's parameters are not in the order of the tuples")
        return found


def rows_for(conn: Connection, kind: str, table: Table, store_key: str) -> Rows:
    """A :class:`Rows` for the orders, order lines or customers of a batch on ``conn``."""
    fast = for_dialect(conn.dialect)
    if table is tables.orders:
        return Rows(conn, kind, table, ORDER_COLUMNS, store_key, fast and fast.order, rows.order_row)
    if table is tables.order_lines:
        return Rows(conn, kind, table, LINE_COLUMNS, store_key, fast and fast.lines, rows.line_rows)
    if table is tables.customers:
        return Rows(conn, kind, table, CUSTOMER_COLUMNS, store_key, fast and fast.customer, rows.customer_row)
    raise ValueError(f"no rows for {table.name}")
