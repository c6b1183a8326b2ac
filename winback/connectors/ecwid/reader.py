"""Oldest-first, gap-free reads over Ecwid's offset paging.

Ecwid pages with ``offset``/``limit`` (≤ 100) and filters by ``updatedFrom``/``updatedTo``, but it
documents no sort option for orders, and offset paging over data that changes while we read can
skip records (one leaves the filtered set, every later record moves up one slot). The connector
promises oldest-first pages whose ``newest_updated_at`` is a safe cursor, so this module:

1. splits ``[since, ∞)`` into consecutive *windows* of ``updatedFrom``/``updatedTo`` seconds,
   each holding at most ``window_max`` records, the last one open-ended;
2. reads each window completely, de-duplicating by id: its first page, whose ``total`` places
   the others, then those pages together, at most ``concurrency`` requests in flight (Ecwid limits
   a token's rate, not its connections, and a page takes it far longer than winback takes to send
   the next request); and re-reads it (up to ``rereads`` times) when ``total`` changed between
   its pages or the ids seen do not add up to ``total`` — the signature of a shifted page. When
   the window never settles (a busy store's newest records), every record any attempt saw is kept,
   in its newest version: an unchanged record moved across a page edge by others is missed by
   one attempt, rarely by all;
3. sorts the window by ``(updated, id)`` and hands it out in pages.

While one window's pages are handed out (parsed and committed by the caller), the next window is
already being read by a task of its own, so the platform works while winback does. So at most two
windows of raw records are held in memory, and pages come out in ascending ``updated`` order
across windows: a cursor taken from any committed page never skips an earlier record. Records
changed during the read either are read in their new version or fall into a later window or the
next incremental read (``updatedFrom`` is inclusive; the engine upserts by id).
More than ``window_max`` records updated in the same second are read as one window regardless.

Counting is paid for: Ecwid (and the emulator) filter the whole store to answer a ``limit=1``
probe, about what a page costs, and nothing else can run meanwhile. So the first request of a read
is a real page of ``[since, ∞)`` whose ``total`` is the count (an incremental read that fits one
window sends no probe at all); only a larger read counts how much lies beyond ``now`` minus 1, 4,
16, ... days, from the recent end, until one count holds everything (a few probes even from 1970);
after that every window is *tried*: its first page's ``total`` says whether it fits, and when it
does not, the page is dropped and the count places a smaller window (see
:mod:`winback.connectors.ecwid.windows`). A window whose ``total`` changed or whose ids do not add
up is still re-read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from operator import itemgetter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import msgspec

from winback.connectors.ecwid.windows import DAY, Plan
from winback.task_cleanup import cancel_and_wait

log = logging.getLogger("winback.connectors.ecwid")

FetchPage = Callable[[dict[str, Any]], Awaitable[Mapping[str, Any]]]
"""GET the search endpoint with these query params; returns the decoded envelope."""
SortKey = Callable[[Mapping[str, Any]], int]
"""UNIX seconds a raw record was last updated (0 when unreadable)."""
RecordKey = Callable[[Mapping[str, Any]], Any]
"""A raw record's identity for de-duplication (``None`` when it has none)."""


_RECORDS = (Mapping, msgspec.Struct)
"""What an item may be to count as a record: a decoded object, or a typed record
(:mod:`~winback.connectors.ecwid.typed`) that the sort and key functions read alike."""


def _plain_id(raw: Any) -> Any:
    return raw.get("id") if type(raw) is dict or isinstance(raw, Mapping) else raw.id

_first = itemgetter(0)


class WindowedReader:
    """Reads one search endpoint in windows; see the module's docstring.

    ``fill`` is the share of ``window_max`` a planned window aims at: the rest is the margin for
    a guess that was short, since a window found too big costs a request. ``clock`` (UNIX seconds)
    is where the first counts start from, rounded up to a whole UTC day so that reads of the same
    data on one day send the same requests (recorded answers replay); a wrong clock costs
    requests, never records.
    ``concurrency`` bounds how many pages of one window are requested at the same time (the
    connector's rate limiter still paces them; 1 reads one page after another).
    ``requests`` and ``probes`` count what was sent, for tests and benchmarks.
    """

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
        fill: float = 0.8,
        clock: Callable[[], float] = time.time,
        concurrency: int = 1,
    ) -> None:
        self._fetch = fetch
        self._updated_of = updated_of
        self._key_of = key_of
        self._base = dict(base_params or {})
        self._page_size = page_size
        self._window_max = window_max
        self._rereads = rereads
        self._target = max(1, int(window_max * fill))
        self._clock = clock
        self._concurrency = max(1, concurrency)
        self.requests = 0
        self.probes = 0

    async def _get(self, lo: int, hi: int | None, offset: int, limit: int) -> Mapping[str, Any]:
        params = {**self._base, "updatedFrom": lo, "offset": offset, "limit": limit}
        if hi is not None:
            params["updatedTo"] = hi
        self.requests += 1
        envelope = await self._fetch(params)
        if not isinstance(envelope.get("items"), list) or not isinstance(envelope.get("total"), int):
            raise ValueError("search envelope lacks items/total")
        return envelope

    async def _count(self, lo: int) -> int:
        self.probes += 1
        return int((await self._get(lo, None, 0, 1))["total"])

    async def read_window(self, lo: int, hi: int | None,
                          first: Mapping[str, Any] | None = None) -> list[Mapping[str, Any]]:
        """Every record of one window, de-duplicated and sorted by ``(updated, id)``.

        ``first`` is the window's first page (offset 0) when it was already fetched; a re-read
        starts afresh. An item that is not an object sorts first (as updated at 0); the connector
        quarantines it.
        """
        updated_of = self._updated_of
        earlier: dict[str, tuple[Any, Any]] = {}
        """Every record the unstable attempts saw, its newest version by ``updated``."""
        for attempt in range(self._rereads + 1):
            seen: dict[str, tuple[Any, Any]] = {}
            anonymous: list[Any] = []

            def take(items: list[Any]) -> None:
                for item in items:
                    key = self._key_of(item) if type(item) is dict or isinstance(item, _RECORDS) else None
                    if key is None or key == "" or isinstance(key, (dict, list)):
                        anonymous.append(item)
                    else:
                        seen[str(key)] = (item, key)

            envelope = first if first is not None and attempt == 0 else await self._get(lo, hi, 0, self._page_size)
            first_total = last_total = envelope["total"]
            items = envelope["items"]
            take(items)
            if items and len(items) < first_total:
                # The first page's ``total`` places every other page: read them together, a few
                # at a time, and take them in offset order.
                totals = []
                for rest in await self._pages_at(lo, hi, range(len(items), first_total, self._page_size)):
                    totals.append(rest["total"])
                    take(rest["items"])
                last_total = next((t for t in totals if t != first_total), first_total)
            stable = first_total == last_total and len(seen) + len(anonymous) == last_total
            if not stable:
                for rid, pair in seen.items():  # a later attempt's version wins a tie
                    kept = earlier.get(rid)
                    if kept is None or updated_of(kept[0]) <= updated_of(pair[0]):
                        earlier[rid] = pair
            if stable or attempt == self._rereads:
                if not stable:
                    # A record that did not change can still be missed, moved by others across
                    # page edges between two requests; each attempt misses different ones, so
                    # every record any attempt saw is kept, in its newest version.
                    log.warning(
                        "records kept changing while reading updatedFrom=%s updatedTo=%s; "
                        "changed records will be picked up by the next incremental read", lo, hi,
                    )
                    seen = earlier
                keyed = [((updated_of(item), str(key or "")), item) for item, key in seen.values()]
                keyed += [(self._sort_key(item), item) for item in anonymous]
                keyed.sort(key=_first)
                return [item for _, item in keyed]
            log.info("window updatedFrom=%s updatedTo=%s changed during the read; reading it again", lo, hi)
        raise AssertionError("unreachable")

    async def _pages_at(self, lo: int, hi: int | None, offsets: range) -> list[Mapping[str, Any]]:
        """The pages of one window at ``offsets``, in that order, with at most ``concurrency``
        requests in flight (sent in offset order; the connector's rate limiter still paces them).
        The first error cancels the others at once and is raised."""
        if self._concurrency == 1 or len(offsets) == 1:
            return [await self._get(lo, hi, offset, self._page_size) for offset in offsets]
        gate = asyncio.Semaphore(self._concurrency)

        async def one(offset: int) -> Mapping[str, Any]:
            async with gate:
                return await self._get(lo, hi, offset, self._page_size)

        tasks = [asyncio.create_task(one(offset), name="winback-ecwid-page") for offset in offsets]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in tasks:  # the failure of the lowest offset, as a serial read would meet it
                if task in done and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            return [task.result() for task in tasks]
        finally:
            await cancel_and_wait(tasks)  # those still running, when one failed or we were cancelled

    def _sort_key(self, item: Any) -> tuple[int, str]:
        if type(item) is dict or isinstance(item, _RECORDS):
            return self._updated_of(item), str(self._key_of(item) or "")
        return 0, ""

    async def pages(self, since: int) -> AsyncIterator[list[Mapping[str, Any]]]:
        """Raw records updated at or after ``since`` (UNIX seconds), oldest first, in pages.

        The first request is the first page of ``[since, ∞)``: when its ``total`` fits one window
        (an incremental read, usually) it is that window's first page and no count is sent.
        """
        size, most = self._page_size, self._window_max
        envelope: Mapping[str, Any] | None = await self._get(since, None, 0, size)
        now = -(-int(self._clock()) // DAY) * DAY
        plan = Plan(since, int(envelope["total"]), window_max=most, target=self._target, now=now)
        if plan.remaining > most:
            for t in plan.gallop():
                beyond = await self._count(t)
                plan.note(t, beyond)
                if beyond >= plan.remaining:
                    break
        window = await self._window(plan, envelope)
        ahead: asyncio.Task[tuple[int | None, list[Any]]] | None = None
        try:
            while True:
                hi, records = window
                if hi is not None:
                    # The next window's bounds are known now: read it while this one's pages are
                    # parsed and committed (the same requests as before, only earlier).
                    plan.was_read(hi, len(records), self._sort_key(records[len(records) // 2])[0] if records else None)
                    ahead = asyncio.create_task(self._window(plan, None), name="winback-ecwid-next-window")
                for start in range(0, len(records), size):
                    yield records[start : start + size]
                if ahead is None:
                    return
                window, ahead = await ahead, None
        finally:
            if ahead is not None:  # the consumer stopped first: nothing waits for this window
                await cancel_and_wait([ahead])

    async def _window(self, plan: Plan, envelope: Mapping[str, Any] | None) -> tuple[int | None, list[Any]]:
        """The next window to read from ``plan.lo`` and its records (``hi`` ``None``: the last,
        open-ended one). ``envelope`` is the open-ended window's first page when already fetched;
        a window found too big is dropped and a smaller one tried, as the count places it."""
        size, most = self._page_size, self._window_max
        hi: int | None = None
        while True:
            if envelope is None:
                hi = plan.next_end()
                envelope = await self._get(plan.lo, hi, 0, size)
            total = int(envelope["total"])
            if hi is None:
                plan.opened(total)
            if total > most and (hi is None or hi > plan.lo):
                # Too many to hold: the count places the next try; the page's items are dropped.
                if hi is not None:
                    plan.overflowed(hi, total)
                envelope = None
                continue
            return hi, await self.read_window(plan.lo, hi, envelope)
