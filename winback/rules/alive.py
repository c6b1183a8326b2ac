"""Timing from the model: remind a buyer when the BG/NBD probability that they are still active
falls below a threshold (``timing = "p_alive"``).

The store's BG/NBD parameters are fitted when a plan starts, from the ``buyers`` table (real
orders only: count, first and last), on at most :data:`~winback.stats.bgnbd.FIT_SAMPLE` buyers
drawn with a fixed seed. P(alive) falls as time passes since the last order, and the moment it
crosses the threshold has a closed form per number of orders
(:func:`~winback.stats.bgnbd.weeks_to_alive_below`), so the audience stays one SQL statement: a
``CASE`` over the store's distinct order counts gives each buyer's wait, scaled by their span.

The model says nothing about one-time buyers (P(alive) is 1 until a first repeat purchase), so
they are timed by ``after_days``; when the store is too thin to fit (or the fit fails), everyone
is, and the plan's reasons say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, case, literal, select

from winback.rules.queries import at_time, buyer, epoch_days
from winback.stats.bgnbd import BgNbd, fit_bgnbd, fit_sample, p_alive, usable, weeks_to_alive_below
from winback.sync import tables

MIN_BUYERS = 100
MIN_REPEATERS = 30
WEEK_DAYS = 7.0
_SLICE = 50_000


@dataclass(frozen=True, slots=True)
class AliveModel:
    """One store's fitted BG/NBD and the threshold it is used with."""

    params: BgNbd
    threshold: float
    factors: dict[int, float]
    """Per real order count (2 or more): ``c(x) - 1`` of :func:`weeks_to_alive_below`."""

    def due(self, since_last: ColumnElement[float], span: ColumnElement[float]) -> ColumnElement[bool]:
        """SQL: the buyer's P(alive) is below the threshold now (``since_last``, ``span``: days
        since the last real order, and from the first to the last one)."""
        counts = sorted(self.factors)
        factor = case(
            {count: literal(self.factors[count]) for count in counts},
            value=buyer.c.real_orders_count,
            else_=literal(self.factors[counts[-1]]) if counts else literal(0.0),
        )
        return since_last >= factor * (span + WEEK_DAYS * self.params["alpha"])

    def probability(self, count: int, first_at: datetime, last_at: datetime, now: datetime) -> float:
        """P(alive) now for a buyer with ``count`` real orders, the first and last at these times."""
        week = 7 * 86400.0
        x = np.array([max(count - 1, 0)], dtype=float)
        t_x = np.array([(last_at - first_at).total_seconds() / week])
        big_t = np.array([(now - first_at).total_seconds() / week])
        return float(p_alive(self.params, x, t_x, big_t)[0])


def fit_alive(conn: Connection, store_key: str, now: datetime, threshold: float) -> AliveModel | str:
    """The store's model, or why it cannot be used (too few buyers or repeat buyers, no fit)."""
    b = tables.buyers
    now_days = epoch_days(at_time(now, "fit_now"))
    query = select(
        b.c.real_orders_count, now_days - epoch_days(b.c.first_order_at), now_days - epoch_days(b.c.last_order_at)
    ).where(
        b.c.store_key == store_key,
        b.c.real_orders_count >= 1,
        b.c.first_order_at.is_not(None),
        b.c.last_order_at.is_not(None),
        b.c.first_order_at <= at_time(now, "fit_before"),
    )
    # Streamed into arrays a slice at a time: a million Row objects at once would cost ~0.5 GB.
    result = conn.execute(query.execution_options(yield_per=_SLICE))
    try:
        parts = [np.array(part, dtype=float).reshape(-1, 3) for part in result.partitions(_SLICE)]
    finally:
        result.close()
    rows = np.concatenate(parts) if parts else np.empty((0, 3))
    if len(rows) < MIN_BUYERS:
        return f"too few buyers to fit the model ({len(rows)}, at least {MIN_BUYERS} needed)"
    x = rows[:, 0] - 1
    repeaters = int(np.sum(x > 0))
    if repeaters < MIN_REPEATERS:
        return f"too few repeat buyers to fit the model ({repeaters}, at least {MIN_REPEATERS} needed)"
    big_t = rows[:, 1] / WEEK_DAYS
    t_x = (rows[:, 1] - rows[:, 2]) / WEEK_DAYS
    idx = fit_sample(len(x))
    params = fit_bgnbd(x[idx], t_x[idx], big_t[idx])
    if params is None or not usable(params):
        return "the BG/NBD fit did not converge to usable values"
    counts = np.unique(rows[:, 0][rows[:, 0] >= 2]).astype(int)
    factors = {int(count): weeks_to_alive_below(params, int(count) - 1, threshold) for count in counts}
    return AliveModel(params, threshold, factors)


def describe(model: AliveModel | str | None, row: Any, now: datetime, min_orders: int = 2) -> str:
    """The reason's timing part for one buyer (``row``: real_orders_count, first/last_order_at)."""
    if model is None:
        return ""
    count = int(row.real_orders_count or 0)
    if isinstance(model, str):
        return f"; P(alive) timing not used: {model}"
    if count < min_orders or row.first_order_at is None:
        return "; one order: P(alive) needs a repeat order, timed by after_days"
    probability = model.probability(count, row.first_order_at, row.last_order_at, now)
    return f"; P(still active) {probability:.2f} < {model.threshold:.2f} (BG/NBD, {count} orders)"
