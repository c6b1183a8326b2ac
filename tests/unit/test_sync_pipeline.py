"""winback.sync.pipeline.read_ahead: order, bounds, errors in stream order, clean cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest

from winback.sync.pipeline import read_ahead


class Source:
    """An async iterator of lists (pages of records) that counts what it produced and whether it
    was closed; ``fail_after`` raises after that many pages, ``pause`` sleeps before each page."""

    def __init__(self, sizes: list[int], *, fail_after: int | None = None, pause: float = 0.0) -> None:
        self.sizes, self.fail_after, self.pause = sizes, fail_after, pause
        self.produced = 0
        self.closed = False

    async def pages(self) -> AsyncIterator[list[int]]:
        try:
            for number, size in enumerate(self.sizes):
                if self.fail_after is not None and number == self.fail_after:
                    raise ValueError(f"page {number} failed")
                if self.pause:
                    await asyncio.sleep(self.pause)
                self.produced += 1
                yield [number] * size
        finally:
            self.closed = True


def _batches(source: Source, **kw: float) -> AsyncIterator:
    options = {"max_records": 10, "max_seconds": 60.0, "depth": 2, **kw}
    return read_ahead(source.pages(), size=len, **options)  # type: ignore[arg-type]


async def test_every_page_comes_out_once_in_order_in_batches_of_about_max_records() -> None:
    source = Source([4, 4, 4, 1, 9, 3])
    seen = [[page[0] for page in batch.items] async for batch in _batches(source)]
    assert seen == [[0, 1, 2], [3, 4], [5]]
    assert source.closed


async def test_the_first_batch_is_small_and_each_next_limit_doubles_up_to_max_records() -> None:
    source = Source([1] * 40)
    sizes = [batch.size async for batch in _batches(source, max_records=8, first_records=1)]
    assert sizes == [1, 2, 4, 8, 8, 8, 8, 1]
    assert sum(sizes) == 40


async def test_without_first_records_every_batch_waits_for_max_records() -> None:
    source = Source([1] * 20)
    assert [batch.size async for batch in _batches(source, max_records=8)] == [8, 8, 4]


async def test_reading_ahead_is_bounded_while_the_caller_is_busy() -> None:
    source = Source([1] * 50)
    async with aclosing(_batches(source, max_records=1, depth=2)) as batches:
        first = await anext(batches)
        await asyncio.sleep(0.05)  # the caller "commits"; the reader may only run a little ahead
        assert first.items == [[0]]
        assert source.produced <= 1 + 2 + 1  # handed out + queued + the one waiting to be queued
    assert source.closed


async def test_a_feed_error_comes_after_the_pages_read_before_it() -> None:
    source = Source([3, 3, 3, 3], fail_after=2)
    seen: list[list[int]] = []
    with pytest.raises(ValueError, match="page 2 failed"):
        async for batch in _batches(source, max_records=100):
            seen.append([page[0] for page in batch.items])
    assert seen == [[0, 1]]
    assert source.closed


async def test_a_caller_that_stops_early_closes_the_feed() -> None:
    source = Source([1] * 20)
    async with aclosing(_batches(source, max_records=1)) as batches:
        async for _ in batches:
            break
    assert source.closed


async def test_cancelling_the_caller_stops_the_reader_and_closes_the_feed() -> None:
    source = Source([1] * 1000, pause=0.001)
    started = asyncio.Event()

    async def consume() -> None:
        async with aclosing(_batches(source, max_records=1)) as batches:
            async for _ in batches:
                started.set()
                await asyncio.sleep(3600)  # a commit that never ends: Ctrl-C lands here

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    produced = source.produced
    assert source.closed
    await asyncio.sleep(0.02)
    assert source.produced == produced  # nothing reads on in the background


async def test_a_slow_feed_still_hands_out_pages_after_max_seconds() -> None:
    source = Source([1, 1, 1], pause=0.2)
    seen = [len(batch.items) async for batch in _batches(source, max_records=100, max_seconds=0.01)]
    assert seen == [1, 1, 1]


async def test_reading_ahead_is_bounded_by_records_too() -> None:
    source = Source([10] * 50)
    async with aclosing(_batches(source, max_records=10, depth=40, ahead_records=25)) as batches:
        first = await anext(batches)
        await asyncio.sleep(0.05)  # the caller "commits": the reader runs on until 25 records wait
        assert first.items == [[0] * 10]
        # handed out + the 3 pages it takes to reach 25 records waiting (none more, despite depth 40)
        assert source.produced == 1 + 3
        rest = [batch async for batch in batches]
    assert [page[0] for batch in [first, *rest] for page in batch.items] == list(range(50))


async def test_small_pages_are_read_ahead_past_depth_two_while_the_caller_commits() -> None:
    source = Source([1] * 50)
    async with aclosing(_batches(source, max_records=100, max_seconds=0.0, depth=40, ahead_records=20)) as batches:
        await anext(batches)
        await asyncio.sleep(0.05)
        assert source.produced == 1 + 20
