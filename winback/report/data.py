"""Load one store's order history as compact arrays, the only shape the report needs.

Every figure in the report is computed from the store's *real* orders (``counts_as_purchase``:
not cancelled, not a test, not fully refunded) at their net value (after partial refunds). A
customer is a buyer identified by lower-cased email (the same key the rules use), else by the
platform's customer id; orders with neither are counted as excluded.

Orders are read sorted by buyer and time in chunks and turned into integer buyer numbers on the
fly, so a 5 M-order store costs a few arrays of numbers rather than millions of Python objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import text

from winback.sync import LocalStore

DAY = 86_400.0
_CHUNK = 200_000


@dataclass(frozen=True, slots=True)
class OrderHistory:
    """Real orders of one store, sorted by (buyer, time). Times are UNIX seconds (float64)."""

    buyer: np.ndarray
    """int64 buyer number per order, 0..buyers-1, ascending."""
    at: np.ndarray
    value: np.ndarray
    """Net order value (float64, store currency)."""
    excluded: dict[str, int]
    """Orders left out, by why (cancelled, test, refunded in full, no buyer)."""

    @property
    def buyers(self) -> int:
        return int(self.buyer[-1]) + 1 if len(self.buyer) else 0

    def first_index(self) -> np.ndarray:
        """Index of each buyer's first order."""
        return np.flatnonzero(np.r_[True, self.buyer[1:] != self.buyer[:-1]]) if len(self.buyer) else np.array([], int)

    def newest(self) -> datetime | None:
        return None if not len(self.at) else datetime.fromtimestamp(float(self.at.max()), UTC)


def _columns(dialect: str) -> tuple[str, str]:
    if dialect == "sqlite":
        return ("(julianday(ordered_at) - 2440587.5) * 86400.0", "net_total / 10000.0")
    return ("EXTRACT(EPOCH FROM ordered_at)", "CAST(net_total AS DOUBLE PRECISION)")


def load_history(store: LocalStore, store_key: str) -> OrderHistory:
    """All of the store's real orders as arrays (see the module docstring for what counts)."""
    at_sql, value_sql = _columns(store.engine.dialect.name)
    key_sql = "COALESCE(lower_email, 'id:' || customer_id)"
    query = text(
        f"SELECT {key_sql} AS k, {at_sql} AS t, {value_sql} AS v FROM orders "
        f"WHERE store_key = :s AND counts_as_purchase AND {key_sql} IS NOT NULL ORDER BY k, t"
    )
    buyers: list[np.ndarray] = []
    times: list[np.ndarray] = []
    values: list[np.ndarray] = []
    last_key: object = None
    next_number = 0
    with store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(query, {"s": store_key})
        while rows := result.fetchmany(_CHUNK):
            keys = np.array([row[0] for row in rows], dtype=object)
            changed = np.empty(len(keys), dtype=bool)
            changed[0] = keys[0] != last_key
            changed[1:] = keys[1:] != keys[:-1]
            numbers = np.cumsum(changed) - 1 + next_number
            next_number = int(numbers[-1]) + 1
            last_key = keys[-1]
            buyers.append(numbers.astype(np.int64))
            times.append(np.fromiter((float(row[1]) for row in rows), np.float64, len(rows)))
            values.append(np.fromiter((float(row[2]) for row in rows), np.float64, len(rows)))
        excluded = _excluded(conn, store_key, key_sql)
    if not buyers:
        empty = np.array([], dtype=np.float64)
        return OrderHistory(np.array([], dtype=np.int64), empty, empty, excluded)
    return OrderHistory(np.concatenate(buyers), np.concatenate(times), np.concatenate(values), excluded)


def _excluded(conn, store_key: str, key_sql: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    row = conn.execute(
        text(
            "SELECT "
            "SUM(CASE WHEN cancelled_at IS NOT NULL THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN cancelled_at IS NULL AND test THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN cancelled_at IS NULL AND NOT test AND NOT counts_as_purchase THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN counts_as_purchase AND {key_sql} IS NULL THEN 1 ELSE 0 END), "
            "COUNT(*) FROM orders WHERE store_key = :s"
        ),
        {"s": store_key},
    ).one()
    names = ("cancelled", "test", "refunded in full", "no buyer")
    counts = {name: int(value or 0) for name, value in zip(names, row[:4], strict=True)}
    counts["all orders"] = int(row[4] or 0)
    return counts
