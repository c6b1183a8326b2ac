"""A resource's batches, opened before its turn: the next resource is read while the one before it
commits its last batches.

Why
    Resources are synced one after another (customers, orders, products), and a resource's reading
    ends before its commits do: the store still holds up to a batch read ahead. Opened only once
    those commits and the resource's deletions were done, the next resource's first requests (for
    Ecwid, the counts that place its windows; for Shopify, its first page or bulk export) waited
    for them, with the platform and the reading side idle. A timeline of a 20k-order Ecwid sync
    showed 80-100 ms between the customers' last page and the orders' first request.

What the caller may rely on
    - :func:`open_feed` reads the resource's cursor and starts its
      :func:`~winback.sync.pipeline.read_ahead` at once: its pages are read ahead within the
      pipeline's bounds, and nothing is written until the caller takes the feed's batches. Commits
      stay strictly in order, resource by resource, so the cursor rules
      (:mod:`winback.sync.engine`) are unchanged.
    - :func:`open_after` opens the next resource's feed as soon as a feed's reading is over (its
      pages all read, or its reading failed or was stopped): at most two resources are read ahead
      at a time, and only one is being read (beside the deletion feed of the resource before).
    - An error the connector raises when asked for a resource (a missing scope) is raised when
      that resource's batches are taken, in its turn, as before.
    - :meth:`Feed.aclose` stops the reading and closes the connector's iterator, whether the
      batches were taken or not; :func:`close_opening` does the same for a feed still being opened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from winback.connectors.base import Connector, Page, Resource
from winback.sync.pipeline import Batch, read_ahead
from winback.sync.store import LocalStore
from winback.task_cleanup import cancel_and_wait

log = logging.getLogger("winback.sync.engine")

_END: Any = object()


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """How a sync reads every resource (the figures and why: :mod:`winback.sync.engine`)."""

    full: bool
    overlap: timedelta
    batch_records: int
    batch_seconds: float
    prefetch_pages: int
    first_batch_divisor: int


async def _first_of(batches: AsyncIterator[Batch[Page[Any]]]) -> Any:
    return await anext(batches, _END)


class Feed:
    """One resource's batches of pages, being read since the feed was opened."""

    def __init__(
        self, resource: Resource, cursor: datetime | None, since: datetime | None,
        batches: AsyncIterator[Batch[Page[Any]]], read: asyncio.Event,
    ) -> None:
        self.resource = resource
        self.cursor = cursor
        """The resource's cursor when the feed was opened."""
        self.since = since
        """Where the reading starts (``None``: everything)."""
        self.read = read
        """Set once the resource's pages are all read (or its reading failed or was stopped)."""
        self._batches = batches
        self._first: asyncio.Task[Any] = asyncio.create_task(_first_of(batches), name=f"winback-read-{resource.value}")
        """Starts the reading now, not when the caller first takes a batch."""

    async def batches(self) -> AsyncIterator[Batch[Page[Any]]]:
        """The batches, in order (once: a feed is one pass over its resource)."""
        first = await self._first
        if first is _END:
            return
        yield first
        async for batch in self._batches:
            yield batch

    async def aclose(self) -> None:
        await cancel_and_wait([self._first])
        await self._batches.aclose()  # type: ignore[attr-defined]


def page_size(page: Page[Any]) -> int:
    return len(page.records) + len(page.rejected)


async def _pages(connector: Connector, resource: Resource, since: datetime | None, *, full: bool) -> AsyncIterator[Page[Any]]:
    """The connector's pages, asked for when the first one is wanted: a connector may refuse a
    resource as soon as it is asked (a missing scope), and that error belongs to the resource's
    turn, in the stream, not to the moment its feed was opened."""
    if resource is Resource.CUSTOMERS:
        source = connector.customers(since)
    elif resource is Resource.ORDERS:
        source = connector.orders(since, full=full)
    else:
        source = connector.products()
    async with aclosing(source) as pages:  # type: ignore[type-var]
        async for page in pages:
            yield page


async def open_feed(
    connector: Connector, store: LocalStore, key: str, resource: Resource, settings: FeedSettings
) -> Feed:
    """Read the resource's cursor and start reading its pages."""
    cursor = await asyncio.to_thread(store.get_cursor, key, resource)
    since = None if settings.full or cursor is None or resource is Resource.PRODUCTS else cursor - settings.overlap
    log.info(
        "%s %s: reading %s", key, resource.value,
        "everything" if since is None else f"changes since {since.isoformat(timespec='seconds')}",
        extra={"store": key, "resource": resource.value},
    )
    read = asyncio.Event()
    batches = read_ahead(
        _pages(connector, resource, since, full=settings.full or cursor is None), size=page_size,
        max_records=settings.batch_records, max_seconds=settings.batch_seconds, depth=settings.prefetch_pages,
        ahead_records=settings.batch_records,
        first_records=max(1, settings.batch_records // settings.first_batch_divisor), read=read,
    )
    return Feed(resource, cursor, since, batches, read)


async def open_after(
    previous: Feed, connector: Connector, store: LocalStore, key: str, resource: Resource, settings: FeedSettings
) -> Feed:
    """:func:`open_feed` once ``previous`` is read."""
    await previous.read.wait()
    return await open_feed(connector, store, key, resource, settings)


async def close_opening(opening: asyncio.Task[Feed]) -> None:
    """Stop a feed being opened by ``opening``, or close the feed it opened."""
    await cancel_and_wait([opening])  # an ended task stays as it is
    if not opening.cancelled() and opening.exception() is None:
        await opening.result().aclose()
