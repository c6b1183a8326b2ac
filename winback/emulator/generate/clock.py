"""The generated history's time line: whole seconds since the epoch, ``[start, now]``, with order
volume growing towards ``now``; and a weighted draw shared by the other generators."""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from datetime import datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
HOUR = 3_600
DAY = 86_400
_GROWTH = 0.8
"""Order volume at the end of the history is ``1 + _GROWTH`` times the volume at its start."""
NEVER = 2**62


class Clock:
    """Whole seconds since the epoch; the history is ``[start, now]``."""

    __slots__ = ("now", "span", "start")

    def __init__(self, now: datetime, years: float) -> None:
        self.now = math.floor(now.timestamp())
        self.span = max(DAY, int(years * 365.25 * DAY))
        self.start = self.now - self.span

    def growth(self, rng: random.Random) -> int:
        """A time in the history, denser towards ``now`` (linear growth of the store)."""
        x = (math.sqrt(1 + 2 * _GROWTH * rng.random() * (1 + _GROWTH / 2)) - 1) / _GROWTH
        return min(self.start + int(x * self.span), self.now - 60)

    def later(self, ts: int, lo: int, hi: int, rng: random.Random) -> int:
        """``ts`` plus a delay in ``[lo, hi]`` seconds, never after ``now``."""
        return max(ts, min(self.now, ts + rng.randint(lo, hi)))

    @staticmethod
    def dt(ts: int) -> datetime:
        return _EPOCH + timedelta(seconds=ts)


def weighted(rng: random.Random, cum: list[float]) -> int:
    return bisect_right(cum, rng.random() * cum[-1])

