"""When the emulated store shipped and delivered each order, derived from the order alone.

No random draws: the seeded world's other facts (and every test built on them) stay as they were.
Paid (or partly refunded) orders that are not tests are shipped within about a day and a half;
four in five are reported delivered a few days later (some carriers never report delivery); both
only when that time has come by the world's ``now``. Shipping and delivery update the order, as on
the platforms, so ``updated_at`` moves to the latest of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from winback.emulator.world import WOrder

SHIPPED_STATUSES = frozenset({"PAID", "PARTIALLY_REFUNDED"})


def fulfil(orders: Iterable[WOrder], now: datetime) -> None:
    for order in orders:
        if order.test or order.cancelled_at is not None or order.financial_status not in SHIPPED_STATUSES:
            continue
        shipped = order.processed_at + timedelta(hours=12 + (order.key * 7) % 30)
        if shipped > now:
            continue
        order.fulfilled_at = shipped
        if order.key % 5:
            delivered = shipped + timedelta(hours=30 + (order.key * 13) % 90)
            if delivered <= now:
                order.delivered_at = delivered
        order.updated_at = max(order.updated_at, order.delivered_at or shipped)
