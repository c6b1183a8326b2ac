"""Oldest-first, gap-free reads over Ecwid's offset paging.

Ecwid pages with ``offset``/``limit`` (≤ 100) and filters by ``updatedFrom``/``updatedTo``, but it
documents no sort option for orders, and offset paging over data that changes while we read can
skip records (one leaves the filtered set, every later record moves up one slot). The connector
promises oldest-first pages whose ``newest_updated_at`` is a safe cursor, so this module:

1. splits ``[since, ∞)`` into consecutive *windows* of ``updatedFrom``/``updatedTo`` seconds,
   each holding at most ``window_max`` records (counts come from ``limit=1`` probes: a closed
   window is bisected by time; the open tail is found by doubling a step forward from its start);
2. reads each window completely, de-duplicating by id, and re-reads it (up to ``rereads`` times)
   when ``total`` changed between its first and last page or the ids seen do not add up to
   ``total`` — the signature of a shifted page;
3. sorts the window by ``(updated, id)`` and hands it out in pages.

So at most one window of raw records is held in memory, and pages come out in ascending
``updated`` order across windows: a cursor taken from any committed page never skips an earlier
record. Records changed during the read either are read in their new version or fall into a later
window or the next incremental read (``updatedFrom`` is inclusive; the engine upserts by id).
More than ``window_max`` records updated in the same second are read as one window regardless.
"""

from __future__ import annotations

import logging
from operator import itemgetter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

log = logging.getLogger("winback.connectors.ecwid")

FetchPage = Callable[[dict[str, Any]], Awaitable[Mapping[str, Any]]]
"""GET the search endpoint with these query params; returns the decoded envelope."""
SortKey = Callable[[Mapping[str, Any]], int]
"""UNIX seconds a raw record was last updated (0 when unreadable)."""
RecordKey = Callable[[Mapping[str, Any]], Any]
"""A raw record's identity for de-duplication (``None`` when it has none)."""


def _plain_id(raw: Mapping[str, Any]) -> Any:
    return raw.get("id")

_FIRST_STEP = 3600
_first = itemgetter(0)


class WindowedReader:
    def __init__(
        self,
        fetch: FetchPage,
        *,
        updated_of: SortKey,
        key_of: RecordKey = _plain_id,
        base_params: Mapping[str, Any] | None = None,
        page_size: int = 100,
        window_max: int = 1000,
        rereads: int = 3,
    ) -> None:
        self._fetch = fetch
        self._updated_of = updated_of
        self._key_of = key_of
        self._base = dict(base_params or {})
        self._page_size = page_size
        self._window_max = window_max
        self._rereads = rereads
        self.requests = 0

    async def _get(self, lo: int, hi: int | None, offset: int, limit: int) -> Mapping[str, Any]:
        params = {**self._base, "updatedFrom": lo, "offset": offset, "limit": limit}
        if hi is not None:
            params["updatedTo"] = hi
        self.requests += 1
        envelope = await self._fetch(params)
        if not isinstance(envelope.get("items"), list) or not isinstance(envelope.get("total"), int):
            raise ValueError("search envelope lacks items/total")
        return envelope

    async def _count(self, lo: int, hi: int | None) -> int:
        return int((await self._get(lo, hi, 0, 1))["total"])

    async def windows(self, lo: int, hi: int | None = None, known: int | None = None) -> AsyncIterator[tuple[int, int | None]]:
        """Consecutive ``(updatedFrom, updatedTo)`` windows covering ``[lo, hi]``, oldest first."""
        total = known if known is not None else await self._count(lo, hi)
        if total == 0:
            return
        if total <= self._window_max or (hi is not None and hi <= lo):
            yield lo, hi
            return
        if hi is not None:
            mid = lo + (hi - lo) // 2
            async for window in self.windows(lo, mid):
                yield window
            async for window in self.windows(mid + 1, hi):
                yield window
            return
        # Open tail: walk a doubling step forward until what lies beyond it is small enough.
        step = _FIRST_STEP
        while True:
            split = lo + step
            beyond = await self._count(split, None)
            if beyond <= self._window_max:
                break
            step *= 2
        async for window in self.windows(lo, split - 1, known=total - beyond):
            yield window
        async for window in self.windows(split, None, known=beyond):
            yield window

    async def read_window(self, lo: int, hi: int | None) -> list[Mapping[str, Any]]:
        """Every record of one window, de-duplicated and sorted by ``(updated, id)``.

        An item that is not an object sorts first (as updated at 0); the connector quarantines it.
        """
        for attempt in range(self._rereads + 1):
            seen: dict[str, tuple[Any, Any]] = {}
            anonymous: list[Any] = []
            offset = 0
            first_total: int | None = None
            last_total = 0
            while True:
                envelope = await self._get(lo, hi, offset, self._page_size)
                last_total = envelope["total"]
                if first_total is None:
                    first_total = last_total
                items = envelope["items"]
                for item in items:
                    key = self._key_of(item) if type(item) is dict or isinstance(item, Mapping) else None
                    if key is None or key == "" or isinstance(key, (dict, list)):
                        anonymous.append(item)
                    else:
                        seen[str(key)] = (item, key)
                offset += len(items)
                if not items or offset >= last_total:
                    break
            stable = first_total == last_total and len(seen) + len(anonymous) == last_total
            if stable or attempt == self._rereads:
                if not stable:
                    log.warning(
                        "records kept changing while reading updatedFrom=%s updatedTo=%s; "
                        "changed records will be picked up by the next incremental read", lo, hi,
                    )
                updated_of = self._updated_of
                keyed = [((updated_of(item), str(key or "")), item) for item, key in seen.values()]
                keyed += [(self._sort_key(item), item) for item in anonymous]
                keyed.sort(key=_first)
                return [item for _, item in keyed]
            log.info("window updatedFrom=%s updatedTo=%s changed during the read; reading it again", lo, hi)
        raise AssertionError("unreachable")

    def _sort_key(self, item: Any) -> tuple[int, str]:
        if type(item) is dict or isinstance(item, Mapping):
            return self._updated_of(item), str(self._key_of(item) or "")
        return 0, ""

    async def pages(self, since: int) -> AsyncIterator[list[Mapping[str, Any]]]:
        """Raw records updated at or after ``since`` (UNIX seconds), oldest first, in pages."""
        async for lo, hi in self.windows(since):
            records = await self.read_window(lo, hi)
            for start in range(0, len(records), self._page_size):
                yield records[start : start + self._page_size]
