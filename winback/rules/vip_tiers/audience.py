"""The SQL of ``vip_tiers``: each customer's tier over the window, and the tiers already recorded.

The tier is computed in one statement (a ``CASE`` over per-buyer window aggregates), streamed in
batches; the tiers recorded are the newest ``done`` ledger action of the rule per email (one
``max(id)`` per email), so planning never walks every customer in Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Text, and_, case, cast, func, or_, select, type_coerce

from winback.rules import queries
from winback.rules.ledger_entries import DONE
from winback.rules.queries import at_time, buyer
from winback.rules.vip_tiers.options import VipTiersOptions
from winback.sync import tables
from winback.sync.types import Amount


@dataclass(frozen=True, slots=True)
class Recorded:
    """The newest tier winback recorded for an email: its ledger row and the tier (None: none)."""

    entry_id: int
    tier: str | None
    customer_id: str | None
    email: str


def tier_query(options: VipTiersOptions, store_key: str, now: datetime) -> Any:
    """Every registered buyer with a tier now (its name in ``tier``), by email."""
    orders = tables.orders
    since = at_time(now - timedelta(days=options.window_days), "window_since")
    spent = type_coerce(func.sum(orders.c.net_total), Amount)
    window = (
        select(
            orders.c.lower_email.label("lower_email"),
            func.count().label("window_orders"),
            spent.label("window_spent"),
            func.max(orders.c.ordered_at).label("window_last_at"),
        )
        .where(orders.c.store_key == store_key, orders.c.counts_as_purchase.is_(True),
               orders.c.ordered_at >= since, orders.c.lower_email.is_not(None))
        .group_by(orders.c.lower_email)
        .subquery("w")
    )
    window_spent = type_coerce(window.c.window_spent, Amount)

    def meets(tier: Any) -> Any:
        conditions = []
        if tier.min_spend is not None:
            conditions.append(window_spent >= tier.min_spend)
        if tier.min_orders is not None:
            conditions.append(window.c.window_orders >= tier.min_orders)
        return and_(*conditions)

    tier = case(*[(meets(t), t.name) for t in reversed(options.tiers)], else_=None)
    customer = tables.customers.alias("c")
    return (
        select(
            buyer.c.lower_email, buyer.c.email, buyer.c.customer_id, customer.c.first_name, customer.c.last_name,
            customer.c.tags, window.c.window_orders, window_spent.label("window_spent"), window.c.window_last_at,
            tier.label("tier"), queries.subscribed().label("subscribed"),
        )
        .select_from(queries.buyer_joined(customer).join(window, window.c.lower_email == buyer.c.lower_email))
        .where(
            buyer.c.store_key == store_key,
            buyer.c.customer_id.is_not(None),
            customer.c.id.is_not(None),
            customer.c.redacted.is_(False),
            customer.c.deleted_at.is_(None),
            tier.is_not(None),
        )
        .order_by(buyer.c.lower_email)
    )


def recorded_tiers(conn: Connection, store_key: str, rule: str) -> dict[str, Recorded]:
    """The newest ``done`` action of ``rule`` per email, as :class:`Recorded`."""
    ledger = tables.action_ledger
    newest = (
        select(func.max(ledger.c.id))
        .where(ledger.c.store_key == store_key, ledger.c.rule == rule, ledger.c.status == DONE)
        .group_by(ledger.c.lower_email)
    )
    query = select(ledger.c.id, ledger.c.lower_email, ledger.c.email, ledger.c.customer_id, ledger.c.payload) \
        .where(ledger.c.id.in_(newest))
    out: dict[str, Recorded] = {}
    for row in conn.execute(query):
        if row.lower_email is None:  # redacted since
            continue
        tier = (row.payload or {}).get("tier") or {}
        out[row.lower_email] = Recorded(row.id, tier.get("name"), row.customer_id, row.email or row.lower_email)
    return out


def labelled_query(options: VipTiersOptions, store_key: str) -> Any:
    """Live customers whose synced tags mention a tier label (Shopify tags; platforms without
    synced tags have none), to take a label off those who no longer qualify even when winback has
    no record of writing it (a new database, a label the merchant set by hand)."""
    customer = tables.customers
    text_tags = cast(customer.c.tags, Text)
    mentions = or_(*[text_tags.contains(f'"{label}"', autoescape=True) for label in options.labels])
    return (
        select(customer.c.id, customer.c.email, customer.c.lower_email, customer.c.tags, customer.c.updated_at)
        .where(customer.c.store_key == store_key, customer.c.lower_email.is_not(None),
               customer.c.redacted.is_(False), customer.c.deleted_at.is_(None), mentions)
        .order_by(customer.c.lower_email)
    )


def stream(conn: Connection, query: Any) -> Iterator[Any]:
    for batch in queries.stream_batches(conn, query):
        yield from batch
