"""Reading ahead while the store writes: a bounded prefetch that hands out batches of pages.

Why
    Read serially (fetch a page, parse it, commit it, only then ask for the next), the platform
    and winback never work at the same time, and every page pays a transaction of its own. Here the
    connector's pages are pulled by their own task, at most ``depth`` pages (and, with
    ``ahead_records``, about that many records) ahead of the writer, so requests go on while a
    batch commits; and consecutive pages are handed out together, so the store pays its
    statements and its commit once per batch, not per page. Bounding by records lets small pages
    (a Shopify orders page holds 16 orders) keep the platform busy for a whole commit, while large
    ones (a bulk export's 250) hold no more memory.

What the caller may rely on
    - Pages come out exactly once, strictly in the connector's order, never more than ``depth``
      pages read ahead of what was handed out, and no page is read ahead while
      ``ahead_records`` or more records wait (memory stays bounded: one batch plus what is read
      ahead).
    - A batch ends when it holds ``max_records`` records (the first one ``first_records``, each
      next one twice its predecessor's limit up to ``max_records``), when its first page has waited
      ``max_seconds`` (a slow platform still sees its pages committed steadily), or when the feed
      ends or fails.
    - An error of the feed is raised where it happened in the stream: the pages read before it are
      handed out first (as a batch of their own), so the caller commits them before it sees the
      error, exactly as it would reading serially.
    - Closing the generator early, an exception in the caller, or cancellation (Ctrl-C, a task
      cancelled) cancels the reading task and closes the connector's iterator before the
      generator finishes: nothing keeps reading in the background.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from winback.task_cleanup import cancel_and_wait

T = TypeVar("T")

_END: Any = object()


@dataclass(frozen=True, slots=True)
class _Failed:
    error: Exception


@dataclass(slots=True)
class Batch(Generic[T]):
    """Consecutive items of the feed, in order, with the sum of their sizes."""

    items: list[T]
    size: int


async def read_ahead(
    source: AsyncIterator[T],
    *,
    size: Callable[[T], int],
    max_records: int,
    max_seconds: float,
    depth: int = 2,
    ahead_records: int | None = None,
    first_records: int | None = None,
    read: asyncio.Event | None = None,
) -> AsyncIterator[Batch[T]]:
    """Batches of ``source``'s items (see the module's docstring for the guarantees).

    ``size`` tells how many records an item holds; ``depth`` (at least 1) bounds how many items
    are read ahead of the caller, ``ahead_records`` how many records.

    ``first_records`` (default ``max_records``) ends the first batch sooner, and the limit then
    doubles batch by batch. Why: a batch is handed out only once full, so at the start of a feed
    the writer waits for a whole batch to be read while the reader works alone; a small first
    batch puts the writer to work after a few pages, and the doubling reaches the large batches
    (cheap per record) within a few commits.

    ``read`` is set once ``source`` is exhausted, has failed or was closed: from then on only
    batches already read are handed out, and nothing more is asked of the source (see
    :mod:`winback.sync.feed`, which starts the next resource's reading then)."""
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=max(1, depth))
    waiting = 0
    """Records read ahead and not yet taken by the caller."""
    room = asyncio.Event()

    async def pump() -> None:
        nonlocal waiting
        last: Any = _END
        try:
            async with aclosing(source) as items:  # type: ignore[type-var]
                while True:
                    # waits before asking for the next item: reading it is what costs (a request)
                    while ahead_records is not None and waiting >= ahead_records:
                        room.clear()
                        await room.wait()
                    try:
                        item = await anext(items)
                    except StopAsyncIteration:
                        break
                    waiting += size(item)
                    await queue.put(item)
        except Exception as exc:  # handed to the consumer, raised there in stream order
            last = _Failed(exc)
        finally:
            if read is not None:  # before the last put, which waits for the consumer's room
                read.set()
        await queue.put(last)

    reader = asyncio.create_task(pump(), name="winback-read-ahead")
    batch: list[T] = []
    records = 0
    started = 0.0
    limit = max(1, min(first_records or max_records, max_records))
    try:
        while True:
            if batch:
                try:
                    item = await asyncio.wait_for(queue.get(), max(0.0, started + max_seconds - time.monotonic()))
                except TimeoutError:
                    yield Batch(batch, records)
                    batch, records = [], 0
                    continue
            else:
                item = await queue.get()
            if item is _END:
                break
            if isinstance(item, _Failed):
                if batch:
                    yield Batch(batch, records)
                    batch = []
                raise item.error
            if not batch:
                started = time.monotonic()
            batch.append(item)
            taken = size(item)
            records += taken
            waiting -= taken
            room.set()
            if records >= limit:
                yield Batch(batch, records)
                batch, records = [], 0
                limit = min(limit * 2, max_records)
        if batch:
            yield Batch(batch, records)
    finally:
        # Wait for the reading task to finish closing the connector's iterator; pump() hands its
        # errors over through the queue, so none is lost by leaving them to the helper.
        await cancel_and_wait([reader])
