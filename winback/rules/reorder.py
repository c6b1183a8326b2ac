"""Reorder intervals learned from the store's own orders, for the ``replenishment`` rule.

A product is replenishable when enough different buyers bought it again: for each buyer and
product, the gaps between consecutive real orders (not cancelled, test or fully refunded) holding
it are measured, and the product's interval is the median of all its gaps. The median, not the
mean, because one buyer who came back after two years would drag a mean far from the usual rhythm.
Gaps under :data:`MIN_GAP_DAYS` are one purchase split over two orders, not a reorder.

One set-based statement (window functions, SQLite 3.25+ and PostgreSQL) returns one row per
replenishable product, however many orders the store has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, func, or_, select

from winback.rules.queries import at_time, epoch_days
from winback.sync import tables

_orders = tables.orders
_lines = tables.order_lines

MIN_GAP_DAYS = 1.0
"""Orders of the same product closer than this are one purchase (a forgotten item, a split cart)."""


@dataclass(frozen=True, slots=True)
class ReorderInterval:
    """What the store's orders say about one product's reorder rhythm."""

    product_id: str
    median_days: float
    """The median gap, before any clamp."""
    repeat_buyers: int
    """Distinct buyers (by email) with at least one reorder gap."""
    gaps: int
    """Reorder gaps measured."""

    def clamped(self, low: float, high: float) -> float:
        return min(max(self.median_days, low), high)


def reorder_intervals(
    conn: Connection, store_key: str, since: datetime, *, min_repeat_buyers: int
) -> dict[str, ReorderInterval]:
    """Every product bought again by at least ``min_repeat_buyers`` buyers on real orders placed at
    or after ``since``, with its median reorder gap in days."""
    return {
        row.pid: ReorderInterval(row.pid, float(row.median), int(row.buyers), int(row.gaps))
        for row in conn.execute(intervals_query(store_key, since, min_repeat_buyers=min_repeat_buyers))
    }


def intervals_query(store_key: str, since: datetime, *, min_repeat_buyers: int) -> Select[Any]:
    """The SELECT behind :func:`reorder_intervals` (columns ``pid, median, buyers, gaps``), for
    callers that join it into a larger statement instead of running it on its own."""
    purchases = (
        select(
            _orders.c.lower_email.label("who"), _lines.c.product_id.label("pid"), _orders.c.id.label("oid"),
            _orders.c.ordered_at.label("at"),
        )
        .select_from(_orders.join(_lines, and_(_lines.c.store_key == _orders.c.store_key,
                                               _lines.c.order_id == _orders.c.id)))
        .where(
            _orders.c.store_key == store_key,
            _orders.c.counts_as_purchase.is_(True),
            _orders.c.ordered_at >= at_time(since, "learn_since"),
            _orders.c.lower_email.is_not(None),
            _lines.c.product_id.is_not(None),
            _lines.c.current_quantity > 0,
        )
        .distinct()
        .subquery("purchases")
    )
    at_days = epoch_days(purchases.c.at)
    previous = func.lag(at_days).over(
        partition_by=(purchases.c.who, purchases.c.pid), order_by=(purchases.c.at, purchases.c.oid)
    )
    gaps = select(purchases.c.pid, purchases.c.who, (at_days - previous).label("gap")).subquery("gaps")
    valid = select(gaps).where(gaps.c.gap >= MIN_GAP_DAYS).cte("valid")
    stats = (
        select(valid.c.pid, func.count(func.distinct(valid.c.who)).label("buyers"), func.count().label("gaps"))
        .group_by(valid.c.pid)
        .having(func.count(func.distinct(valid.c.who)) >= min_repeat_buyers)
        .subquery("stats")
    )
    ordered = select(
        valid.c.pid, valid.c.gap,
        func.row_number().over(partition_by=valid.c.pid, order_by=valid.c.gap).label("rn"),
        func.count().over(partition_by=valid.c.pid).label("n"),
    ).subquery("ordered")
    middle = (
        select(ordered.c.pid, func.avg(ordered.c.gap).label("median"))
        .where(or_(ordered.c.rn == (ordered.c.n + 1) // 2, ordered.c.rn == (ordered.c.n + 2) // 2))
        .group_by(ordered.c.pid)
        .subquery("middle")
    )
    return (
        select(stats.c.pid, middle.c.median, stats.c.buyers, stats.c.gaps)
        .select_from(stats.join(middle, middle.c.pid == stats.c.pid))
        .order_by(stats.c.pid)
    )
