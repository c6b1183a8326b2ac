"""Where the next window of a windowed read ends, planned from what the read has already learnt.

Why a module of its own: :class:`~winback.connectors.ecwid.reader.WindowedReader` asks the server
as little as it can (a count costs about as much as a page), so every count it has seen — a
``limit=1`` probe, the ``total`` of a window's first page, the size of a window it read — is kept
here as a point of the store's *tail* (how many records were updated at or after a second), and
the next window's end is chosen from those points without a request.

What a caller may rely on:

* the plan only *sizes* windows, it never decides what is read: windows stay consecutive
  whatever it says, so a wrong or stale count (the store changes while we read) costs requests,
  never records;
* after :meth:`Plan.overflowed` the next end from the same start is earlier, down to a window of
  one second, so a read that keeps finding too many records still ends;
* the last window is open-ended (``None``): records stamped after the client's clock (a server
  clock ahead of ours) are read like any other.

How an end is chosen: the known points around the count we aim for (``target``) bracket it; the
window ends at the bracket's far point when that window is known to fit, else at an estimate
inside the bracket — the density of the window just read (stores change slowly), a linear
interpolation after a window proved too big (the new point is close), and plain bisection once two
tries in a row went poorly (a burst of records that interpolation would creep up on).
"""

from __future__ import annotations

from bisect import bisect_right, insort

HOUR = 3600
DAY = 86_400


class Plan:
    """The windows of one read of ``[since, ∞)``; see the module's docstring.

    ``remaining`` is the best word on how many records lie at or after the current start: exact
    when a window's first page was open-ended, else the last exact word minus what was read since.
    """

    def __init__(self, since: int, total: int, *, window_max: int, target: int, now: int) -> None:
        self.lo = since
        self.remaining = total
        self._fresh = True
        self._max = window_max
        self._target = max(1, min(target, window_max))
        self._now = now
        self._times: list[int] = []
        self._counts: dict[int, int] = {}
        self._poor = 0
        self._overflowed = False
        self._last: tuple[int, int] | None = None

    def gallop(self) -> list[int]:
        """Seconds to count beyond, newest first: ``now`` minus 1, 4, 16, ... days, after ``since``.

        The caller may stop once a count holds every record; they are found from the recent end,
        so a read from 1970 spends nothing on decades without data.
        """
        out, span = [], DAY
        while self._now - span > self.lo:
            out.append(self._now - span)
            span *= 4
        return out

    def note(self, t: int, beyond: int) -> None:
        """Remember that ``beyond`` records were updated at or after second ``t`` (the newest word
        wins)."""
        if t not in self._counts:
            insort(self._times, t)
        self._counts[t] = max(beyond, 0)

    def opened(self, total: int) -> None:
        """The open-ended window from the current start counts ``total``: an exact ``remaining``."""
        self.remaining, self._fresh = total, True

    def overflowed(self, hi: int, total: int) -> None:
        """The window ``[lo, hi]`` holds ``total`` records, more than a window may."""
        self.remaining = max(self.remaining, total)
        self.note(hi + 1, self.remaining - total)
        self._poor += 1
        self._overflowed = True

    def was_read(self, hi: int, got: int, middle: int | None = None) -> None:
        """The window ``[lo, hi]`` was read and held ``got`` records: the next starts at ``hi + 1``.

        ``middle`` is when its middle record (by ``updated``) was updated: the density of the later
        half is the better guess for the next window when the store's pace changes.
        """
        if middle is not None and got >= 2 and self.lo <= middle <= hi:
            self._last = (hi - middle + 1, got - got // 2)
        else:
            self._last = (hi - self.lo + 1, got)
        self._poor = 0 if 2 * got >= self._target else self._poor + 1
        self._overflowed = False
        self.remaining = max(self.remaining - got, 0)
        self.lo, self._fresh = hi + 1, False

    def next_end(self) -> int | None:
        """``updatedTo`` of the next window from :attr:`lo` (``None``: open-ended, the last)."""
        lo, remaining, target = self.lo, self.remaining, self._target
        if remaining <= self._max or (lo >= self._now and not self._fresh):
            return None
        start, reached = lo, 0
        end: int | None = None
        for t in self._times[bisect_right(self._times, lo):]:
            ahead = max(remaining - self._counts[t], reached)
            if ahead >= target:
                if ahead <= self._max:
                    return t - 1
                end = t
                break
            start, reached = t, ahead
        if end is None:
            # Beyond every known point: take the rest as spread up to the client's clock.
            span = self._last[0] if self._last else HOUR
            end, ahead = max(self._now + 1, start + max(HOUR, 4 * span)), remaining
        if end - start < 2:
            return (start if start > lo else end) - 1
        if self._poor >= 2 or (self._last is not None and self._last[1] == 0 and not self._overflowed):
            guess = start + (end - start) // 2
        elif self._overflowed or self._last is None:
            guess = start + (end - start) * (target - reached) // max(ahead - reached, 1)
        else:
            span, got = self._last
            guess = lo + span * target // got
        return min(max(guess, start + 1), end - 1) - 1
