"""Derived per-customer and per-buyer facts, recomputed in SQL for the rows a page touched.

A *real* order counts as a purchase (:attr:`winback.model.Order.counts_as_purchase`: not
cancelled, not a test, not fully refunded); only real orders feed ``first_order_at``,
``last_order_at``, ``real_orders_count`` and ``real_amount_spent`` (the sum of ``net_total``:
current total after refunds and edits). An order's time is ``ordered_at`` (processed, else
created), so imported historical orders keep their real date.

Customer facts: the customer's own orders plus guest orders (``customer_id`` null) carrying the
customer's email. Buyer facts (``buyers`` table, one row per store and lower-cased email): orders
carrying that email plus orders of the customers with that email.

Each function runs a fixed number of set-based statements whatever the number of ids (chunked
only to stay under driver parameter limits); the SQL is plain enough to run on SQLite (3.25+, for
window functions) and PostgreSQL alike.

Deferred batches record what they touched in ``derived_pending``: one row per customer and email,
or, when the store held no customer and no order before the batch (its first sync), one *whole
store* mark (:data:`WHOLE_STORE`) that later batches see and keep instead of adding rows. A first
sync touches every customer anyway, and recomputing all of them from the store's tables is
cheaper than writing, widening and joining a pending row for each. The mark is written in the
batch's transaction like the rows, so a sync killed before its recompute leaves it for the next.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.sql.elements import TextClause

from winback.sync import tables
from winback.sync.statements import insert_new, prepared

T = TypeVar("T")
CHUNK = 500
WHOLE_STORE = {"kind": "store", "value": "*"}
"""The ``derived_pending`` row saying every customer and buyer of the store is pending."""
_PENDING_SETS = {
    "ids": "(SELECT p.value FROM derived_pending p WHERE p.store_key = :store_key AND p.kind = 'customer')",
    "emails": "(SELECT p.value FROM derived_pending p WHERE p.store_key = :store_key AND p.kind = 'buyer')",
}


def _whole(sql: str) -> TextClause:
    """The same statement for every customer or buyer of the store (a buyer exists for each
    email some order carries, directly or through its customer)."""
    for part, whole in (
        ("o.customer_id IN :ids", "o.customer_id IS NOT NULL"),
        ("c.id IN :ids", "c.id IS NOT NULL"),
        ("lower_email IN :emails", "lower_email IS NOT NULL"),
    ):
        sql = sql.replace(part, whole)
    assert ":ids" not in sql and ":emails" not in sql, sql
    return text(sql)


def _keyed(sql: str) -> TextClause:
    """The statement for the ids or emails given as an expanding bound list."""
    names = [name for name in _PENDING_SETS if f":{name}" in sql]
    return text(sql).bindparams(*(bindparam(name, expanding=True) for name in names))


def _pending(sql: str) -> TextClause:
    """The same statement for every customer or buyer in ``derived_pending`` (one statement
    whatever their number: no list travels from Python)."""
    for name, subquery in _PENDING_SETS.items():
        sql = sql.replace(f"IN :{name}", f"IN {subquery}")
    return text(sql)


# Two index-friendly halves joined with UNION ALL instead of one ``customer_id = ... OR
# lower_email = ...`` condition, which no index can serve and which made every page scan all of the
# store's orders (quadratic sync time). ``CROSS JOIN`` pins SQLite's join order to "customers by
# id, then their orders by email"; PostgreSQL plans it freely. (No ``c.lower_email IS NOT NULL``:
# the equality already drops NULLs, and that filter made SQLite range-scan every customer's email.)
#
# For given or pending customers a third part, one order-less row per customer, gives each of them
# a group, so one UPDATE resets those left without real orders as it sets the others, and a row
# whose facts are unchanged (most, in an incremental sync) is not rewritten. For the whole store
# a reset of the rows not at their defaults comes first instead: on a first sync every customer
# is still as inserted, so that reset only reads, and only customers with real orders are grouped
# and written (measured: cheaper than grouping every customer).
_RECOMPUTE_CUSTOMERS_SQL = """
    UPDATE customers SET
      first_order_at = agg.first_at,
      last_order_at = agg.last_at,
      real_orders_count = agg.n,
      real_amount_spent = agg.spent
    FROM (
      SELECT rel.cid AS cid, MIN(rel.ordered_at) AS first_at, MAX(rel.ordered_at) AS last_at,
             COUNT(rel.ordered_at) AS n, COALESCE(SUM(rel.net_total), 0) AS spent
      FROM (
        SELECT o.customer_id AS cid, o.ordered_at, o.net_total
        FROM orders o
        WHERE o.store_key = :store_key AND o.customer_id IN :ids AND o.counts_as_purchase
        UNION ALL
        SELECT c.id AS cid, o.ordered_at, o.net_total
        FROM customers c CROSS JOIN orders o
        WHERE c.store_key = :store_key AND c.id IN :ids
          AND o.store_key = c.store_key AND o.lower_email = c.lower_email
          AND o.customer_id IS NULL AND o.counts_as_purchase{every_customer}
      ) rel
      GROUP BY rel.cid
    ) agg
    WHERE customers.store_key = :store_key AND customers.id = agg.cid{changed}
    """
_EVERY_CUSTOMER = """
        UNION ALL
        SELECT c.id AS cid, NULL AS ordered_at, NULL AS net_total
        FROM customers c
        WHERE c.store_key = :store_key AND c.id IN :ids"""
_CHANGED = """
      AND NOT (customers.real_orders_count = agg.n AND customers.real_amount_spent = agg.spent
        AND (customers.first_order_at = agg.first_at OR (customers.first_order_at IS NULL AND agg.first_at IS NULL))
        AND (customers.last_order_at = agg.last_at OR (customers.last_order_at IS NULL AND agg.last_at IS NULL)))"""
_SET_CUSTOMERS_SQL = _RECOMPUTE_CUSTOMERS_SQL.format(every_customer=_EVERY_CUSTOMER, changed=_CHANGED)
_RECOMPUTE_CUSTOMERS = _keyed(_SET_CUSTOMERS_SQL)
_RECOMPUTE_CUSTOMERS_PENDING = _pending(_SET_CUSTOMERS_SQL)
_RESET_CUSTOMERS_WHOLE = text("""
    UPDATE customers SET first_order_at = NULL, last_order_at = NULL, real_orders_count = 0, real_amount_spent = 0
    WHERE store_key = :store_key AND (first_order_at IS NOT NULL OR last_order_at IS NOT NULL
      OR real_orders_count <> 0 OR real_amount_spent <> 0)
    """)
_RECOMPUTE_CUSTOMERS_WHOLE = _whole(_RECOMPUTE_CUSTOMERS_SQL.format(every_customer="", changed=""))

_DELETE_BUYERS_SQL = "DELETE FROM buyers WHERE store_key = :store_key AND lower_email IN :emails"
_DELETE_BUYERS = _keyed(_DELETE_BUYERS_SQL)
_DELETE_BUYERS_PENDING = _pending(_DELETE_BUYERS_SQL)
_DELETE_BUYERS_WHOLE = _whole(_DELETE_BUYERS_SQL)

# The owning customer is looked up per buyer through the (store_key, lower_email) index: a LEFT
# JOIN to a grouped "owners" CTE made SQLite scan that CTE once per order (quadratic in a batch).
# An order is paired with its own email and, when that differs, with its customer's: UNION ALL
# with that condition gives exactly the pairs a UNION would, without a B-tree deduplicating every
# pair. The newest order and the newest real order of each email come from one window (one sort):
# the newest real order is the real one with no real order before it in "newest first" order.
_BUYERS_RANKED = """
    WITH pairs AS (
      SELECT o.lower_email AS e, o.id, o.email, o.ordered_at, o.counts_as_purchase AS real_order, o.net_total
      FROM orders o
      WHERE o.store_key = :store_key AND o.lower_email IN :emails
      UNION ALL
      SELECT c.lower_email AS e, o.id, o.email, o.ordered_at, o.counts_as_purchase AS real_order, o.net_total
      FROM customers c CROSS JOIN orders o
      WHERE c.store_key = :store_key AND c.lower_email IN :emails
        AND o.store_key = c.store_key AND o.customer_id = c.id
        AND (o.lower_email IS NULL OR o.lower_email <> c.lower_email)
    ),
    ranked AS (
      SELECT pairs.*,
        ROW_NUMBER() OVER newest_first AS rn_any,
        SUM(CASE WHEN real_order THEN 1 ELSE 0 END) OVER newest_first AS real_so_far
      FROM pairs
      WINDOW newest_first AS (PARTITION BY e ORDER BY ordered_at DESC, id DESC ROWS UNBOUNDED PRECEDING)
    )
"""
_BUYERS_COLUMNS = (
    "store_key", "lower_email", "email", "customer_id", "is_guest", "orders_count", "real_orders_count",
    "real_amount_spent", "first_order_at", "last_order_at", "last_order_id",
)
_BUYERS_ROWS = """    SELECT
      :store_key,
      r.e,
      COALESCE(MAX(CASE WHEN r.rn_any = 1 THEN r.email END), MAX(r.email), r.e),
      (SELECT MIN(c.id) FROM customers c WHERE c.store_key = :store_key AND c.lower_email = r.e
       GROUP BY c.lower_email),
      COALESCE((SELECT MAX(CASE WHEN c.is_guest THEN 0 ELSE 1 END) FROM customers c
                WHERE c.store_key = :store_key AND c.lower_email = r.e), 0) = 0,
      COUNT(*),
      SUM(CASE WHEN r.real_order THEN 1 ELSE 0 END),
      SUM(CASE WHEN r.real_order THEN r.net_total ELSE 0 END),
      MIN(CASE WHEN r.real_order THEN r.ordered_at END),
      MAX(CASE WHEN r.real_order THEN r.ordered_at END),
      MAX(CASE WHEN r.real_order AND r.real_so_far = 1 THEN r.id END)
    FROM ranked r
    GROUP BY r.e
    """
_INSERT_BUYERS_SQL = (
    _BUYERS_RANKED + f"    INSERT INTO buyers ({', '.join(_BUYERS_COLUMNS)})\n" + _BUYERS_ROWS
)
_INSERT_BUYERS = _keyed(_INSERT_BUYERS_SQL)
_INSERT_BUYERS_PENDING = _pending(_INSERT_BUYERS_SQL)
_INSERT_BUYERS_WHOLE = _whole(_INSERT_BUYERS_SQL)
_SELECT_BUYERS_WHOLE = _whole(_BUYERS_RANKED + _BUYERS_ROWS)


def chunks(values: Collection[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``values`` sorted and cut to stay under drivers' bound-parameter limits."""
    ordered = sorted(values)  # type: ignore[type-var]
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def recompute_customers(conn: Connection, store_key: str, customer_ids: Collection[str]) -> None:
    for ids in chunks(customer_ids):
        conn.execute(_RECOMPUTE_CUSTOMERS, {"store_key": store_key, "ids": ids})


def recompute_buyers(conn: Connection, store_key: str, lower_emails: Collection[str]) -> None:
    for emails in chunks(lower_emails):
        conn.execute(_DELETE_BUYERS, {"store_key": store_key, "emails": emails})
        conn.execute(_INSERT_BUYERS, {"store_key": store_key, "emails": emails})


def settle(
    conn: Connection, store_key: str, customer_ids: Collection[str], lower_emails: Collection[str], *, defer: bool,
    whole_store: bool = False,
) -> None:
    """Recompute the facts of these customers and buyers now, or (``defer``) record them in
    ``derived_pending`` for :func:`recompute_pending`, in the caller's transaction either way:
    as the :data:`WHOLE_STORE` mark alone with ``whole_store`` (the caller has seen that mark
    pending, or the store holding no customer and no order before this batch).

    Recomputed now, the sets must already be widened to every customer and buyer whose facts may
    change (:func:`winback.sync.writes.expand`); recorded, they need not be: the recompute
    widens the pending sets itself."""
    if not defer:
        recompute_customers(conn, store_key, customer_ids)
        recompute_buyers(conn, store_key, lower_emails)
        return
    if whole_store:
        insert_new(conn, tables.derived_pending, [{"store_key": store_key, **WHOLE_STORE}])
        return
    marks = [{"store_key": store_key, "kind": "customer", "value": value} for value in customer_ids]
    marks += [{"store_key": store_key, "kind": "buyer", "value": value} for value in lower_emails]
    insert_new(conn, tables.derived_pending, marks)


# Widening the pending sets as writes.expand widens a page's: customers with a pending email
# (guest orders link to them by email) and the emails of pending customers (their orders count
# for that buyer). Done here, once, on the store as the sync left it, rather than by every batch:
# the facts recomputed depend only on that state, and a customer whose email a batch changed is
# pending by id with both emails.
_WIDEN_PENDING = (
    text("""
    INSERT INTO derived_pending (store_key, kind, value)
    SELECT c.store_key, 'customer', c.id FROM customers c
    WHERE c.store_key = :store_key AND c.lower_email IN """ + _PENDING_SETS["emails"] + """
    ON CONFLICT DO NOTHING
    """),
    # A lookup by primary key per pending customer, written as a scalar subquery so that no
    # planner (PostgreSQL's, before it has statistics for a table the sync just filled) can turn
    # it into a scan of the store's customers per pending row.
    text("""
    INSERT INTO derived_pending (store_key, kind, value)
    SELECT :store_key, 'buyer', e.lower_email FROM (
      SELECT (SELECT c.lower_email FROM customers c WHERE c.store_key = p.store_key AND c.id = p.value) AS lower_email
      FROM derived_pending p WHERE p.store_key = :store_key AND p.kind = 'customer'
    ) e
    WHERE e.lower_email IS NOT NULL
    ON CONFLICT DO NOTHING
    """),
)


_WHOLE_PENDING = text(
    "SELECT 1 FROM derived_pending WHERE store_key = :store_key AND kind = 'store' AND value = '*'"
)


def recompute_pending(conn: Connection, store_key: str) -> None:
    """Recompute every customer and buyer recorded in ``derived_pending`` for the store, and
    those they touch (see ``_WIDEN_PENDING``), or all of the store's with the :data:`WHOLE_STORE`
    mark, then forget them: a fixed number of set-based statements, however many there are."""
    params = {"store_key": store_key}
    if conn.execute(_WHOLE_PENDING, params).first() is not None:
        _recompute_whole(conn, params)
    else:
        for statement in (
            *_WIDEN_PENDING, _RECOMPUTE_CUSTOMERS_PENDING, _DELETE_BUYERS_PENDING, _INSERT_BUYERS_PENDING,
        ):
            conn.execute(statement, params)
    conn.execute(text("DELETE FROM derived_pending WHERE store_key = :store_key"), params)


def _recompute_whole(conn: Connection, params: dict[str, str]) -> None:
    """Every customer's and buyer's facts. On a SQLite file, the buyers' rows are read on a second
    connection while this one updates the customers, and then inserted here.

    Why: at the end of a first sync this recompute runs alone, SQLite's work in one thread while
    the machine's other core is idle (Ecwid 20k: buyers 0.3-0.45 s, customers 0.2 s). The caller
    holds the write lock (``BEGIN IMMEDIATE``, taken by the statement before), so no other writer
    can commit until this transaction ends: the reader's snapshot (write-ahead log) is the state
    this transaction started from. The buyers' query reads the orders and the customers' ids,
    emails and guest flags, which nothing here changes, so its rows are exactly those the
    ``INSERT .. SELECT`` would write; they come back in the driver's own values and go in as they
    are. Everything is still written in this one transaction."""
    beside = _reads_beside(conn)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="winback-buyers") if beside else nullcontext() as pool:
        buyers = pool.submit(_read_beside, conn.engine, _SELECT_BUYERS_WHOLE, params) if pool else None
        for statement in (_RESET_CUSTOMERS_WHOLE, _RECOMPUTE_CUSTOMERS_WHOLE, _DELETE_BUYERS_WHOLE):
            conn.execute(statement, params)
        if buyers is None:
            conn.execute(_INSERT_BUYERS_WHOLE, params)
        else:
            rows = buyers.result()
            if rows:
                prepared(conn, "insert", tables.buyers, _BUYERS_COLUMNS).execute_rows(conn, rows)


def _reads_beside(conn: Connection) -> bool:
    """A second connection sees the same database, and reads without waiting for the writer: a
    SQLite database in write-ahead-log mode, which only a file can be (one in memory, shared or
    not, or a private temporary one, reports another mode)."""
    if conn.dialect.name != "sqlite":
        return False
    return str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).lower() == "wal"


def _read_beside(engine: Engine, statement: TextClause, params: dict[str, str]) -> list[Any]:
    """``statement``'s rows, read on a connection of its own (a deferred read transaction: its
    snapshot is taken at the first read), as the driver returns them."""
    with engine.connect() as reader:
        return [tuple(row) for row in reader.execute(statement, params)]
