"""An in-memory Ecwid search endpoint for the windowed reader: records with ``updated`` stamps.

It answers as Ecwid does — ``updatedFrom``/``updatedTo`` inclusive, ``offset``/``limit`` over a
list in an order that has nothing to do with ``updated`` (Ecwid documents no sort for orders),
``total`` counting the whole filtered set — and logs every request, so a test can check what the
reader asked for. ``between`` lets a test change the store between two requests.
"""

from __future__ import annotations

import bisect
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Request:
    lo: int
    hi: int | None
    offset: int
    limit: int
    total: int


class FakeSearch:
    def __init__(self, stamps: Iterable[int], *, page_size: int = 100) -> None:
        self.records: dict[str, int] = {f"R{i}": int(u) for i, u in enumerate(stamps)}
        self.page_size = page_size
        self.log: list[Request] = []
        self.between: Callable[[FakeSearch], None] | None = None
        self._serial = len(self.records)
        self._sorted: list[tuple[int, str]] | None = None

    # --- changing the store ------------------------------------------------------------------

    def touch(self, rid: str, stamp: int) -> None:
        self.records[rid] = stamp
        self._sorted = None

    def add(self, stamp: int) -> str:
        rid = f"R{self._serial}"
        self._serial += 1
        self.touch(rid, stamp)
        return rid

    def delete(self, rid: str) -> None:
        del self.records[rid]
        self._sorted = None

    # --- the endpoint ------------------------------------------------------------------------

    async def fetch(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        if self._sorted is None:
            self._sorted = sorted((u, rid) for rid, u in self.records.items())
        lo, hi = int(params["updatedFrom"]), params.get("updatedTo")
        start = bisect.bisect_left(self._sorted, (lo, ""))
        end = len(self._sorted) if hi is None else bisect.bisect_right(self._sorted, (int(hi), "\uffff"))
        chosen = sorted(self._sorted[start:end], key=lambda pair: zlib.crc32(pair[1].encode()))
        offset, limit = int(params["offset"]), int(params["limit"])
        items = [{"id": rid, "updated": u} for u, rid in chosen[offset:offset + limit]]
        self.log.append(Request(lo, None if hi is None else int(hi), offset, limit, len(chosen)))
        if self.between is not None:
            self.between(self)
        return {"total": len(chosen), "count": len(items), "offset": offset, "limit": limit, "items": items}

    # --- what was asked ----------------------------------------------------------------------

    @property
    def probes(self) -> int:
        return sum(1 for r in self.log if r.limit == 1)

    def windows_read(self) -> dict[tuple[int, int | None], int]:
        """``(updatedFrom, updatedTo)`` of every window paged past its first page, with the
        largest ``total`` any of its pages reported."""
        paged = {(r.lo, r.hi) for r in self.log if r.offset > 0}
        most: dict[tuple[int, int | None], int] = {}
        for r in self.log:
            if r.limit > 1 and ((r.lo, r.hi) in paged or r.total <= self.page_size):
                most[(r.lo, r.hi)] = max(most.get((r.lo, r.hi), 0), r.total)
        return most
