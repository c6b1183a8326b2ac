"""Search results the emulator keeps between requests, so offset paging costs the same at any depth.

A client pages a search with ``offset``/``limit``: every page of one query filters and sorts the
same records. Doing that anew for each page made the emulator's CPU per record grow with the store
(0.13 s per 1,000 orders at 20k, 0.31 s at 60k), and benchmarks then measured the emulator rather
than the client. So the searches keep, per query signature (the parameters that decide which
records and in what order, never ``offset``/``limit``):

* a base list per non-date filter, sorted by ``updated``, cut by ``updatedFrom``/``updatedTo``
  with a binary search (the windows a careful client reads by) instead of a scan;
* the final filtered and sorted list, which later pages of the same query slice.

Everything is dropped when the store changes: :attr:`EcwidState.generation
<winback.emulator.ecwid.state.EcwidState.generation>` moves on every change through the state's
methods, and the record counts are part of the stamp so a test that edits the dicts directly is
seen too. Answers are exactly those of filtering and sorting on every request: sort keys end with
the record id, so they are total and the order does not depend on how the list was built.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # the state holds a SearchCache; only the type comes from there
    from winback.emulator.ecwid.state import Record

T = TypeVar("T")

PROBE_ITEMS = 10
"""A request wanting at most this many leading items of a large result takes them with a heap
instead of sorting it all (``limit=1`` counting probes), and its result is not kept."""
PROBE_MIN_RECORDS = 2_000


@dataclass(frozen=True, slots=True)
class ByUpdated:
    """Records sorted by ``updated`` with the keys a binary search needs."""

    records: list[Record]
    keys: list[int]

    @classmethod
    def build(cls, records: list[Record]) -> ByUpdated:
        ordered = sorted(records, key=lambda r: r.updated)
        return cls(ordered, [r.updated for r in ordered])

    def between(self, low: int | None, high: int | None) -> list[Record]:
        """Records with ``low <= updated <= high`` (either bound may be absent), in ``updated`` order."""
        start = bisect_left(self.keys, low) if low is not None else 0
        end = bisect_right(self.keys, high) if high is not None else len(self.keys)
        return self.records[start:end]


class SearchCache:
    """A small least-recently-used map from a query signature to what it computed, for one stamp."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._stamp: Hashable = None
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, stamp: Hashable, signature: Hashable, build: Callable[[], T]) -> T:
        if stamp != self._stamp:
            self._entries.clear()
            self._stamp = stamp
        if signature in self._entries:
            self._entries.move_to_end(signature)
            return self._entries[signature]  # type: ignore[no-any-return]
        value = build()
        self._entries[signature] = value
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return value

    def peek(self, stamp: Hashable, signature: Hashable) -> Any | None:
        if stamp != self._stamp:
            return None
        return self._entries.get(signature)


SortKey = Callable[["Record"], Any]


def window(records: Sequence[Record], offset: int, limit: int) -> list[Record]:
    return list(records[offset : offset + limit])


def leading(records: list[Record], key: SortKey, reverse: bool, count: int) -> list[Record]:
    """The first ``count`` records of ``sorted(records, key=key, reverse=reverse)`` without sorting
    them all (the key must be total, as every search's key is)."""
    pick = heapq.nlargest if reverse else heapq.nsmallest
    return pick(count, records, key=key)
