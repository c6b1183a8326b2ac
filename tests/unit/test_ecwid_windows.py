"""The Ecwid windowed reader over an in-memory store: what it delivers and how much it asks.

Every read here must hand out each record, in pages whose ``updated`` never goes back, from
windows of at most ``window_max`` records (more only when they share one second) — and send few
requests: a ``limit=1`` count costs the server about what a page does.
"""

from __future__ import annotations

import asyncio
import math
import random

import pytest

from tests.unit.ecwid_store_fake import FakeSearch
from winback.connectors.ecwid.reader import WindowedReader
from winback.connectors.ecwid.windows import Plan

NOW = 1_796_256_000  # 2026-12-02, the client's clock
DAY = 86_400


def reader(store: FakeSearch, *, window_max: int = 1000, now: int = NOW, concurrency: int = 1) -> WindowedReader:
    fetch = store.fetch if concurrency == 1 else Overlapping(store).fetch
    return WindowedReader(fetch, updated_of=lambda r: r["updated"], page_size=store.page_size,
                          window_max=window_max, clock=lambda: now, concurrency=concurrency)


async def read(store: FakeSearch, since: int = 0, *, window_max: int = 1000, now: int = NOW,
               concurrency: int = 1) -> list[list[dict]]:
    return [page async for page in reader(store, window_max=window_max, now=now, concurrency=concurrency).pages(since)]


class Overlapping:
    """``store.fetch`` answered after a pause, so that requests sent together overlap (and the
    store may change between the reading of two of them); counts how many were in flight."""

    def __init__(self, store: FakeSearch) -> None:
        self.store = store
        self.in_flight = self.most_in_flight = 0
        self.sent: list[int] = []

    async def fetch(self, params: dict) -> dict:
        self.sent.append(int(params["offset"]))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.0005 * (1 + int(params["offset"]) % 3))  # answers come back out of order
            return await self.store.fetch(params)
        finally:
            self.in_flight -= 1


def check(store: FakeSearch, pages: list[list[dict]], window_max: int) -> list[dict]:
    """The guarantees every read keeps; returns the records in the order they came."""
    flat = [r for page in pages for r in page]
    assert all(0 < len(page) <= store.page_size for page in pages)
    stamps = [r["updated"] for r in flat]
    assert stamps == sorted(stamps), "pages went back in time"
    for (lo, hi), total in store.windows_read().items():
        assert total <= window_max or lo == hi, f"window {lo}..{hi} held {total} records"
    assert store.log[-1].hi is None, "the last window is open-ended"
    return flat


def uniform(n: int, days: int, seed: int = 1, end: int = NOW) -> list[int]:
    rng = random.Random(seed)
    return [end - rng.randint(0, days * DAY) for _ in range(n)]


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_a_full_read_of_two_years_needs_few_requests(concurrency: int) -> None:
    store = FakeSearch(uniform(20_000, 730))
    flat = check(store, await read(store, concurrency=concurrency), 1000)
    assert sorted(r["id"] for r in flat) == sorted(store.records)
    # 200 pages are the least anyone can do; windows end mid-page and a few tries turn out too
    # big. Counting every window before reading it cost about 320 requests here.
    assert len(store.log) < 240
    assert store.probes <= 8


async def test_an_incremental_read_that_fits_one_window_sends_no_count() -> None:
    store = FakeSearch(uniform(20_000, 730))
    since = NOW - 10 * DAY
    flat = check(store, await read(store, since), 1000)
    expected = sorted(rid for rid, u in store.records.items() if u >= since)
    assert 100 < len(expected) <= 1000
    assert sorted(r["id"] for r in flat) == expected
    assert store.probes == 0
    assert len(store.log) == math.ceil(len(expected) / 100)


async def test_an_incremental_read_larger_than_a_window_counts_only_after_since() -> None:
    store = FakeSearch(uniform(20_000, 730))
    since = NOW - 90 * DAY
    flat = check(store, await read(store, since), 1000)
    assert sorted(r["id"] for r in flat) == sorted(rid for rid, u in store.records.items() if u >= since)
    assert all(r.lo >= since for r in store.log)
    assert store.probes <= 4  # beyond now - 1, 4, 16, 64 days; 256 days is before since


async def test_an_empty_store_costs_one_request() -> None:
    store = FakeSearch([])
    assert await read(store) == []
    assert len(store.log) == 1


async def test_records_all_in_one_second_are_read_as_one_window() -> None:
    second = NOW - 30 * DAY
    store = FakeSearch([second] * 2500 + [second - 5, second + 5])
    flat = check(store, await read(store), 1000)
    assert sorted(r["id"] for r in flat) == sorted(store.records)
    assert store.windows_read()[(second, second)] == 2500
    assert len(store.log) < 60


async def test_sparse_records_since_1970_cost_a_few_counts() -> None:
    rng = random.Random(7)
    old = [rng.randint(0, 1_000_000_000) for _ in range(30)]
    store = FakeSearch(old + uniform(5000, 400, seed=3))
    flat = check(store, await read(store), 1000)
    assert sorted(r["id"] for r in flat) == sorted(store.records)
    assert store.probes <= 9  # 1 day * 4**k reaches 1970 in 8 steps
    assert len(store.log) < 75


async def test_records_stamped_after_the_clients_clock_are_read() -> None:
    """A server clock ahead of ours: the last window stays open, however much lies beyond."""
    ahead = [NOW + s for s in uniform(3000, 2, seed=4, end=2 * DAY)]
    store = FakeSearch(uniform(5000, 300, seed=5) + ahead)
    flat = check(store, await read(store), 1000)
    assert sorted(r["id"] for r in flat) == sorted(store.records)
    assert len(store.log) < 100


async def test_a_clock_far_behind_the_data_still_reads_everything() -> None:
    store = FakeSearch(uniform(8000, 200))
    flat = check(store, await read(store, now=NOW - 400 * DAY), 1000)
    assert sorted(r["id"] for r in flat) == sorted(store.records)


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_records_changing_during_the_read_are_not_lost(concurrency: int) -> None:
    store = FakeSearch(uniform(6000, 400, seed=6))
    original = set(store.records)
    rng = random.Random(8)
    clock = [NOW]
    deleted: set[str] = set()

    def between(s: FakeSearch) -> None:
        clock[0] += 1
        if len(s.log) % 5 == 0:
            for rid in rng.sample(sorted(s.records), 3):
                s.touch(rid, clock[0])
            s.add(clock[0])
            victim = rng.choice(sorted(s.records))
            s.delete(victim)
            deleted.add(victim)

    store.between = between
    flat = check(store, await read(store, concurrency=concurrency), 1000)
    got = {r["id"]: r["updated"] for r in flat}
    assert original - deleted <= set(got)
    cursor = flat[-1]["updated"]
    for rid, stamp in store.records.items():
        assert got.get(rid) == stamp or stamp >= cursor, f"{rid} changed and would be missed"
    reread = [(r.lo, r.hi) for r in store.log if r.offset == 0 and r.limit > 1]
    assert len(reread) > len(set(reread)), "some window changed while it was read"


@pytest.mark.parametrize("concurrency", [1, 3])
@pytest.mark.parametrize("seed", range(12))
async def test_any_shape_of_store_is_read_whole_and_in_order(seed: int, concurrency: int) -> None:
    """Small windows (60 records, pages of 20) over stores of mixed shapes: bursts, gaps, old
    records, future records."""
    rng = random.Random(seed)
    stamps: list[int] = []
    for _ in range(rng.randint(1, 5)):
        kind, n = rng.choice(["uniform", "burst", "second", "old", "future"]), rng.randint(0, 400)
        centre = NOW - rng.randint(0, 900 * DAY)
        if kind == "uniform":
            stamps += uniform(n, rng.randint(1, 900), seed=rng.random(), end=centre)
        elif kind == "burst":
            stamps += [centre + rng.randint(0, 600) for _ in range(n)]
        elif kind == "second":
            stamps += [centre] * n
        elif kind == "old":
            stamps += [rng.randint(0, centre) for _ in range(n // 10)]
        else:
            stamps += [NOW + rng.randint(0, 3 * DAY) for _ in range(n)]
    store = FakeSearch(stamps, page_size=20)
    since = rng.choice([0, 0, NOW - rng.randint(0, 400 * DAY)])
    flat = check(store, await read(store, since, window_max=60, concurrency=concurrency), 60)
    assert sorted(r["id"] for r in flat) == sorted(rid for rid, u in store.records.items() if u >= since)


def test_a_window_found_too_big_shrinks_down_to_one_second() -> None:
    plan = Plan(1000, 5000, window_max=100, target=80, now=NOW)
    ends = []
    for _ in range(64):
        hi = plan.next_end()
        assert hi is not None and hi >= plan.lo
        ends.append(hi)
        if hi == plan.lo:
            break
        plan.overflowed(hi, 5000)
    assert ends == sorted(ends, reverse=True) and len(set(ends)) == len(ends)
    assert ends[-1] == 1000


async def test_a_windows_pages_are_read_together_in_offset_order_at_most_concurrency_at_once() -> None:
    store = FakeSearch(uniform(950, 30))
    slow = Overlapping(store)
    windowed = WindowedReader(slow.fetch, updated_of=lambda r: r["updated"], page_size=100, clock=lambda: NOW,
                              concurrency=3)
    flat = check(store, [page async for page in windowed.pages(0)], 1000)
    assert sorted(r["id"] for r in flat) == sorted(store.records)
    assert slow.sent == list(range(0, 1000, 100)), "one window: offset 0, then the rest in order"
    assert slow.most_in_flight == 3


async def test_a_failed_page_stops_the_read_with_its_own_error_and_nothing_left_running() -> None:
    store = FakeSearch(uniform(950, 30))
    slow = Overlapping(store)

    class PageLost(Exception):
        pass

    async def fetch(params: dict) -> dict:
        if int(params["offset"]) == 300:
            await asyncio.sleep(0)
            raise PageLost("offset 300")
        return await slow.fetch(params)

    windowed = WindowedReader(fetch, updated_of=lambda r: r["updated"], page_size=100, clock=lambda: NOW,
                              concurrency=4)
    before = asyncio.all_tasks()
    with pytest.raises(PageLost, match="offset 300"):
        [page async for page in windowed.pages(0)]
    assert asyncio.all_tasks() == before, "a page request outlived the failed read"
    assert len(slow.sent) < 9, f"the other pages were all sent after the failure: {slow.sent}"


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_a_window_that_never_settles_keeps_what_any_attempt_saw(concurrency: int) -> None:
    """Four records, pages of two: each attempt sees a record twice and misses another (moved
    across the page edge by changes elsewhere), so no attempt adds up. The last attempt alone
    misses B, which never changed: it must still come out."""
    attempts: list[int] = []
    stamps = {"A": 10, "B": 11, "C": 12, "D": 13}

    async def fetch(params: dict) -> dict:
        offset = int(params["offset"])
        if offset == 0:
            attempts.append(offset)
        first_attempt = len(attempts) == 1
        ids = (["A", "B"] if offset == 0 else ["B", "D"]) if first_attempt else (["A", "C"] if offset == 0 else ["C", "D"])
        return {"total": 4, "items": [{"id": i, "updated": stamps[i]} for i in ids]}

    windowed = WindowedReader(fetch, updated_of=lambda r: r["updated"], page_size=2, clock=lambda: NOW,
                              concurrency=concurrency, rereads=3)
    flat = [r["id"] for page in [p async for p in windowed.pages(0)] for r in page]
    assert len(attempts) == 4
    assert flat == ["A", "B", "C", "D"]
