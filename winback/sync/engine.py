"""Incremental, crash-safe sync of one store from its connector into the local store.

Cursor semantics
    A resource's cursor is the newest ``updated_at`` committed so far. Pages are committed in
    batches of consecutive pages, each batch together with the cursor reached after its last page,
    in one transaction, and the cursor never moves backwards. Connectors return records oldest
    first, so after a crash everything older than the cursor is stored; the next run reads from
    ``cursor - overlap`` (inclusive), which re-reads records sharing the cursor's timestamp and
    absorbs clock skew and search-index lag. Re-read records are upserted, so resuming loses nothing and duplicates nothing. Products have no
    ``updated`` filter in the protocol and are read in full every run.

Derived facts
    Each batch records the customers and buyers it touched in ``derived_pending`` (same
    transaction); their facts are recomputed once, in one transaction, when the sync ends (also
    when it fails; a killed sync leaves them pending and the next sync recomputes them). So the
    derived facts are exact when the sync ends, and a page costs no recomputation.

Deletions
    After a resource's records, the records the platform deleted are read from the connector's
    deletion feed (:meth:`~winback.connectors.base.Connector.deletions`, for the resources in its
    ``deletion_resources``) with their own cursor (``{resource}.deleted``, the newest deletion
    time committed) and the same overlap. Each page of deletions is committed with that cursor in
    one transaction, exactly like a page of records (see :mod:`winback.sync.deletions`).

Overlap and memory
    The next pages are fetched while a batch commits (:mod:`winback.sync.pipeline`), and the next
    resource's reading starts once the one before it is read, while its last batches commit
    (:mod:`winback.sync.feed`); commits stay strictly in order. Memory stays flat: one batch
    (``BATCH_RECORDS`` records) plus what is read ahead (about as many records, at most
    ``PREFETCH_PAGES`` pages) are held at a time, twice that while two resources overlap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from winback import errors
from winback.connectors.base import Connector, DeletionPage, Page, Resource
from winback.sync.deletions import cursor_name
from winback.sync.gc_pause import long_lived_objects_frozen
from winback.sync.feed import Feed, FeedSettings, close_opening, open_after, open_feed
from winback.sync.store import LocalStore
from winback.sync.tables import store_key as make_store_key

log = logging.getLogger(__name__)

DEFAULT_RESOURCES: tuple[Resource, ...] = (Resource.CUSTOMERS, Resource.ORDERS, Resource.PRODUCTS)
DEFAULT_OVERLAP = timedelta(minutes=10)
BATCH_RECORDS = 4000
BATCH_SECONDS = 1.0
PREFETCH_PAGES = 64
"""Pages are read ahead while the previous ones commit (until a batch's worth of records or
``PREFETCH_PAGES`` pages wait: a commit of one batch never stalls the reading, whatever the page
size), and committed in batches of consecutive pages, each batch with the cursor reached after
its last page, once it holds ``BATCH_RECORDS`` records or its first page has waited
``BATCH_SECONDS`` (see :mod:`winback.sync.pipeline`). Statements, derived facts and the commit are
paid per batch.

Why 4,000: a batch pays fixed work (its lookups, the derived-facts marks, the cursor, the commit)
and, above all, rewrites the index pages its records land on (orders are indexed by email and
customer, keys spread over the whole index), so small batches write the same pages again and
again (a 20k-order first sync wrote 78 MB of WAL for a 30 MB file in batches of 500). Measured on
the Ecwid 20k replay (``bench/profile_sync_cpu.py``), 4,000 instead of 500 took about a fifth off
the store's CPU. A slow platform still commits every ``BATCH_SECONDS``; a kill loses at most the
batch in flight, which the next run reads again."""
FIRST_BATCH_DIVISOR = 8
"""A resource's first batch holds ``batch_records // FIRST_BATCH_DIVISOR`` records, and each next
one twice as many up to ``batch_records`` (500, 1,000, 2,000, 4,000, ...). Why: the store waited
for a full first batch while the first pages were read, a third of a second per resource at
Ecwid 20k with nothing to write (a timeline of requests and commits showed it); now its first
commit starts after a few pages, at the price of three more, smaller commits per resource."""
PROGRESS_LOG_EVERY_S = 15.0
"""While a resource is read, one INFO line of progress at most this often (off a terminal there
is no progress bar, and a long read must not look like a hang)."""


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """Sent to the ``progress`` callback for every page, in order, once the batch holding it is
    committed."""

    resource: Resource
    pages: int
    """Pages of ``resource`` committed so far in this run."""
    records: int
    """Records of ``resource`` read so far in this run, rejected ones not counted."""
    deletion_pages: int = 0
    """Pages of ``resource``'s deletions committed so far in this run (sent after each one)."""
    deleted: int = 0
    """Stored records of ``resource`` removed so far in this run because the platform deleted them."""


ProgressCallback = Callable[[SyncProgress], None]


@dataclass(slots=True)
class ResourceReport:
    resource: Resource
    since: datetime | None = None
    """Where this run started reading (``None``: everything)."""
    cursor_after: datetime | None = None
    pages: int = 0
    upserted: int = 0
    skipped: int = 0
    """Records older than the stored copy, left alone."""
    rejected: int = 0
    deleted: int = 0
    """Stored records removed because the platform deleted them."""
    deletion_cursor: datetime | None = None
    unreachable: str | None = None
    """Why the credentials could not read this resource (a missing scope, with the remedy);
    the other resources were still read and their cursors moved."""


@dataclass(slots=True)
class SyncReport:
    store_key: str
    finished_at: datetime | None = None
    duration: float = 0.0
    """Seconds."""
    requests: int | None = None
    """HTTP requests the connector sent, when it counts them."""
    resources: dict[Resource, ResourceReport] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return sum(r.pages for r in self.resources.values())

    @property
    def upserted(self) -> int:
        return sum(r.upserted for r in self.resources.values())

    @property
    def rejected(self) -> int:
        return sum(r.rejected for r in self.resources.values())

    @property
    def deleted(self) -> int:
        return sum(r.deleted for r in self.resources.values())

    @property
    def unreachable(self) -> dict[Resource, str]:
        """Resources the credentials cannot read, with why: a partial sync when not empty."""
        return {r: report.unreachable for r, report in self.resources.items() if report.unreachable}

    @property
    def partial(self) -> str | None:
        """``partial: customers unreachable (why)`` when some resource was out of reach, else ``None``;
        kept as the store's ``last_error`` so ``winback status`` shows a partial sync."""
        if not self.unreachable:
            return None
        return "partial: " + "; ".join(f"{r.value} unreachable ({why})" for r, why in self.unreachable.items())

    @property
    def newest_cursor(self) -> datetime | None:
        cursors = [r.cursor_after for r in self.resources.values() if r.cursor_after is not None]
        return max(cursors, default=None)


def requests_sent(connector: Connector) -> int | None:
    """The connector's HTTP request count: its ``requests_sent`` or its HTTP client's, if any."""
    count = getattr(connector, "requests_sent", None)
    if isinstance(count, int):
        return count
    for value in vars(connector).values() if hasattr(connector, "__dict__") else ():
        inner = getattr(value, "requests_sent", None)
        if isinstance(inner, int):
            return inner
    return None


def _newest(page: Page[Any]) -> datetime | None:
    if page.newest_updated_at is not None:
        return page.newest_updated_at
    stamps = [getattr(record, "updated_at", None) for record in page.records]
    return max((stamp for stamp in stamps if stamp is not None), default=None)


async def sync_store(
    connector: Connector,
    store: LocalStore,
    *,
    resources: Iterable[Resource | str] = DEFAULT_RESOURCES,
    full: bool = False,
    overlap: timedelta = DEFAULT_OVERLAP,
    progress: ProgressCallback | None = None,
    batch_records: int = BATCH_RECORDS,
) -> SyncReport:
    """Bring the local copy of ``connector``'s store up to date and return what was done.

    ``full=True`` re-reads everything (cursors still only move forward). Safe to interrupt at any
    point: committed pages stay committed and the next run resumes from the cursor.
    :class:`~winback.errors.ConnectorError` and :class:`~winback.errors.SyncError` are recorded as
    the store's ``last_error`` (when the store is known) and re-raised. ``batch_records``: the most
    records one transaction commits (see :data:`BATCH_RECORDS`).
    """
    if batch_records < 1:
        raise ValueError("batch_records must be at least 1")
    with long_lived_objects_frozen():
        return await _sync_store(
            connector, store, resources=resources, full=full, overlap=overlap, progress=progress,
            batch_records=batch_records,
        )


async def _sync_store(
    connector: Connector,
    store: LocalStore,
    *,
    resources: Iterable[Resource | str],
    full: bool,
    overlap: timedelta,
    progress: ProgressCallback | None,
    batch_records: int,
) -> SyncReport:
    started = datetime.now(timezone.utc)
    clock = time.monotonic()
    key = make_store_key(connector.platform, connector.store_id)
    report = SyncReport(store_key=key)
    wanted = [Resource(r) for r in resources]
    log.info(
        "syncing %s: %s%s", connector.store_label, ", ".join(r.value for r in wanted), " (full)" if full else "",
        extra={"store": key},
    )
    try:
        info = await connector.store_info()
        key = await asyncio.to_thread(store.upsert_store, info)
        report.store_key = key
        await asyncio.to_thread(store.mark_sync_started, key, started)
        settings = FeedSettings(
            full=full, overlap=overlap, batch_records=batch_records, batch_seconds=BATCH_SECONDS,
            prefetch_pages=PREFETCH_PAGES, first_batch_divisor=FIRST_BATCH_DIVISOR,
        )
        # Each resource's reading starts when the one before it is read, not when it is committed
        # (see winback.sync.feed); the commits stay in order.
        opening: asyncio.Task[Feed] | None = None
        try:
            for index, resource in enumerate(wanted):
                feed = await (opening or open_feed(connector, store, key, resource, settings))
                opening = None
                if index + 1 < len(wanted):
                    opening = asyncio.create_task(
                        open_after(feed, connector, store, key, wanted[index + 1], settings),
                        name=f"winback-open-{wanted[index + 1].value}",
                    )
                await _sync_one(connector, store, key, feed, report, full=full, overlap=overlap, progress=progress)
        finally:
            if opening is not None:
                await close_opening(opening)
        await asyncio.to_thread(store.recompute_derived, key)
        report.finished_at = datetime.now(timezone.utc)
        await asyncio.to_thread(store.mark_sync_finished, key, report.finished_at, report.partial)
    except errors.WinbackError as exc:
        log.error("sync of %s failed: %s", connector.store_label, exc, extra={"store": key})
        try:
            # The pages committed before the failure stay; their derived facts are made exact now
            # rather than at the next sync's end.
            await asyncio.to_thread(store.recompute_derived, key)
        except errors.SyncError:
            log.exception("could not recompute the derived facts of %s", key)
        try:
            await asyncio.to_thread(store.record_error, key, str(exc))
        except errors.SyncError:
            log.exception("could not record the failure of %s in the local store", key)
        raise
    finally:
        report.duration = time.monotonic() - clock
        report.requests = requests_sent(connector)
    log.info(
        "synced %s%s: %d pages, %d records, %d rejected, %d deleted in %.1f s",
        key, f" partially ({', '.join(r.value for r in report.unreachable)} unreachable)" if report.unreachable else "",
        report.pages, report.upserted, report.rejected, report.deleted, report.duration,
        extra={"store": key},
    )
    return report


async def _sync_one(
    connector: Connector,
    store: LocalStore,
    key: str,
    feed: Feed,
    report: SyncReport,
    *,
    full: bool,
    overlap: timedelta,
    progress: ProgressCallback | None,
) -> None:
    """One resource: its records, then its deletions."""
    resource = feed.resource
    try:
        report.resources[resource] = await _sync_resource(store, key, feed, progress=progress)
        if resource in connector.deletion_resources:
            await _sync_deletions(
                connector, store, key, report.resources[resource], full=full, overlap=overlap, progress=progress,
            )
    except errors.MissingScopeError as exc:
        # One resource (or its deletion feed) out of the token's reach (Ecwid's default
        # custom-app token reads orders and products only) is a partial sync, not a failed
        # one: pages already committed stay, the other resources are still read.
        log.warning("%s %s: unreachable, not fully synced: %s", key, resource.value, exc,
                    extra={"store": key, "resource": resource.value})
        done = report.resources.get(resource)
        if done is None:
            cursor = await asyncio.to_thread(store.get_cursor, key, resource)
            done = report.resources[resource] = ResourceReport(resource=resource, cursor_after=cursor)
        done.unreachable = str(exc)


async def _sync_resource(store: LocalStore, key: str, feed: Feed, *, progress: ProgressCallback | None) -> ResourceReport:
    resource, cursor = feed.resource, feed.cursor
    report = ResourceReport(resource=resource, since=feed.since, cursor_after=cursor)
    records = 0
    started = logged = time.monotonic()
    async with aclosing(feed), aclosing(feed.batches()) as batches:
        async for batch in batches:
            for page in batch.items:
                newest = _newest(page)
                if newest is not None and (cursor is None or newest > cursor):
                    cursor = newest
            result = await asyncio.to_thread(
                store.commit_pages, key, resource, batch.items, cursor, defer_derived=True
            )
            cursor = result.cursor
            report.upserted += result.upserted
            report.skipped += result.skipped
            report.rejected += result.rejected
            report.cursor_after = cursor
            for page in batch.items:
                report.pages += 1
                records += len(page.records)
                if progress is not None:
                    progress(SyncProgress(resource=resource, pages=report.pages, records=records))
            if time.monotonic() - logged >= PROGRESS_LOG_EVERY_S:
                logged = time.monotonic()
                log.info(
                    "%s %s: %d records in %d pages so far (%.0f s)", key, resource.value, records, report.pages,
                    logged - started, extra={"store": key, "resource": resource.value},
                )
    log.info(
        "%s %s: %d records in %d pages (%d stored, %d unchanged, %d rejected) in %.1f s; cursor %s",
        key, resource.value, records, report.pages, report.upserted, report.skipped, report.rejected,
        time.monotonic() - started, "-" if cursor is None else cursor.isoformat(timespec="seconds"),
        extra={"store": key, "resource": resource.value},
    )
    return report


def _newest_deletion(page: DeletionPage) -> datetime | None:
    if page.newest_deleted_at is not None:
        return page.newest_deleted_at
    return max((item.deleted_at for item in page.deletions), default=None)


async def _sync_deletions(
    connector: Connector,
    store: LocalStore,
    key: str,
    report: ResourceReport,
    *,
    full: bool,
    overlap: timedelta,
    progress: ProgressCallback | None,
) -> None:
    """Read ``report.resource``'s deletions since its deletion cursor and apply them page by page."""
    resource = report.resource
    cursor = await asyncio.to_thread(store.get_cursor, key, cursor_name(resource))
    since = None if full or cursor is None else cursor - overlap
    pages = 0
    async with aclosing(connector.deletions(resource, since)) as feed:
        async for page in feed:
            newest = _newest_deletion(page)
            if newest is not None and (cursor is None or newest > cursor):
                cursor = newest
            result = await asyncio.to_thread(store.commit_deletions, key, resource, page, cursor)
            cursor = result.cursor
            pages += 1
            report.deleted += result.removed
            report.deletion_cursor = cursor
            if progress is not None:
                progress(SyncProgress(
                    resource=resource, pages=report.pages, records=report.upserted + report.skipped,
                    deletion_pages=pages, deleted=report.deleted,
                ))
    report.deletion_cursor = cursor
    log.info(
        "%s %s: %d deleted on the platform removed (%d pages of deletions); deletion cursor %s",
        key, resource.value, report.deleted, pages, "-" if cursor is None else cursor.isoformat(timespec="seconds"),
        extra={"store": key, "resource": resource.value},
    )
