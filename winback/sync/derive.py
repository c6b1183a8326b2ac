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
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import TypeVar

from sqlalchemy import Connection, bindparam, text

T = TypeVar("T")
CHUNK = 500

_REAL_ORDER_OF_CUSTOMER = """
    o.store_key = customers.store_key AND o.counts_as_purchase
    AND (o.customer_id = customers.id OR (o.customer_id IS NULL AND o.lower_email = customers.lower_email))
"""

_RECOMPUTE_CUSTOMERS = text(
    f"""
    UPDATE customers SET
      first_order_at = (SELECT MIN(o.ordered_at) FROM orders o WHERE {_REAL_ORDER_OF_CUSTOMER}),
      last_order_at = (SELECT MAX(o.ordered_at) FROM orders o WHERE {_REAL_ORDER_OF_CUSTOMER}),
      real_orders_count = (SELECT COUNT(*) FROM orders o WHERE {_REAL_ORDER_OF_CUSTOMER}),
      real_amount_spent = (SELECT COALESCE(SUM(o.net_total), 0) FROM orders o WHERE {_REAL_ORDER_OF_CUSTOMER})
    WHERE store_key = :store_key AND id IN :ids
    """
).bindparams(bindparam("ids", expanding=True))

_DELETE_BUYERS = text("DELETE FROM buyers WHERE store_key = :store_key AND lower_email IN :emails").bindparams(
    bindparam("emails", expanding=True)
)

_INSERT_BUYERS = text(
    """
    WITH pairs AS (
      SELECT o.lower_email AS e, o.id, o.email, o.ordered_at, o.counts_as_purchase AS real_order, o.net_total
      FROM orders o
      WHERE o.store_key = :store_key AND o.lower_email IN :emails
      UNION
      SELECT c.lower_email AS e, o.id, o.email, o.ordered_at, o.counts_as_purchase AS real_order, o.net_total
      FROM orders o JOIN customers c ON c.store_key = o.store_key AND c.id = o.customer_id
      WHERE o.store_key = :store_key AND c.lower_email IN :emails
    ),
    ranked AS (
      SELECT pairs.*,
        ROW_NUMBER() OVER (PARTITION BY e ORDER BY ordered_at DESC, id DESC) AS rn_any,
        ROW_NUMBER() OVER (PARTITION BY e ORDER BY real_order DESC, ordered_at DESC, id DESC) AS rn_real
      FROM pairs
    )
    INSERT INTO buyers (
      store_key, lower_email, email, customer_id, is_guest, orders_count, real_orders_count,
      real_amount_spent, first_order_at, last_order_at, last_order_id
    )
    SELECT
      :store_key,
      r.e,
      COALESCE(MAX(CASE WHEN r.rn_any = 1 THEN r.email END), MAX(r.email), r.e),
      (SELECT MIN(c.id) FROM customers c WHERE c.store_key = :store_key AND c.lower_email = r.e),
      NOT EXISTS (
        SELECT 1 FROM customers c WHERE c.store_key = :store_key AND c.lower_email = r.e AND NOT c.is_guest
      ),
      COUNT(*),
      SUM(CASE WHEN r.real_order THEN 1 ELSE 0 END),
      SUM(CASE WHEN r.real_order THEN r.net_total ELSE 0 END),
      MIN(CASE WHEN r.real_order THEN r.ordered_at END),
      MAX(CASE WHEN r.real_order THEN r.ordered_at END),
      MAX(CASE WHEN r.real_order AND r.rn_real = 1 THEN r.id END)
    FROM ranked r
    GROUP BY r.e
    """
).bindparams(bindparam("emails", expanding=True))


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
