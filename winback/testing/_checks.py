"""What the kit asserts about the pages of one read: plain functions over what a read returned."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from winback.connectors.base import Page, RejectedRecord
from winback.testing._reads import Read


def records_of(pages: Sequence[Page[Any]]) -> list[Any]:
    return [record for page in pages for record in page.records]


def rejected_of(pages: Sequence[Page[Any]]) -> list[RejectedRecord]:
    return [rejected for page in pages for rejected in page.rejected]


def check_pages(read: Read, pages: Sequence[Page[Any]], *, platform: str, store_id: str) -> None:
    """Every page is a :class:`Page` of the read's model; every record is this store's; ids are unique."""
    call = read.call()
    for number, page in enumerate(pages, start=1):
        assert isinstance(page, Page), f"{call}: page {number} is a {type(page).__name__}, not a winback Page"
        assert isinstance(page.records, list) and isinstance(page.rejected, list), (
            f"{call}: page {number} must carry lists of records and rejected records"
        )
        for record in page.records:
            assert isinstance(record, read.model), (
                f"{call}: page {number} holds a {type(record).__name__}, not a winback.model.{read.model.__name__}"
            )
            assert (record.platform, record.store_id) == (platform, store_id), (
                f"{call}: record {record.id} says platform={record.platform!r} store_id={record.store_id!r}; "
                f"every record carries the connector's platform {platform!r} and store_id {store_id!r}"
            )
        for rejected in page.rejected:
            assert isinstance(rejected, RejectedRecord), (
                f"{call}: page {number} rejects a {type(rejected).__name__}, not a RejectedRecord"
            )
            assert rejected.resource is read.resource, (
                f"{call}: rejected record {rejected.record_id} is marked {rejected.resource}, not {read.resource}"
            )
        newest = page.newest_updated_at
        assert newest is None or (isinstance(newest, datetime) and newest.tzinfo is not None), (
            f"{call}: page {number} has newest_updated_at={newest!r}; it must be a timezone-aware datetime or None"
        )
    repeated = [key for key, count in Counter(r.id for r in records_of(pages)).items() if count > 1]
    assert not repeated, f"{call}: {len(repeated)} record ids arrive on more than one page, e.g. {repeated[:5]}"


def cursor_of(page: Page[Any]) -> datetime | None:
    """The cursor the sync engine commits with this page: ``newest_updated_at``, else the newest record."""
    if page.newest_updated_at is not None:
        return page.newest_updated_at
    return max((r.updated_at for r in page.records if r.updated_at is not None), default=None)


def check_cursors(read: Read, pages: Sequence[Page[Any]]) -> None:
    """Cursors never go back, and no record arrives after a page whose cursor is newer than it.

    The second half is what makes a cursor safe: the sync engine commits page *k* with its cursor,
    and a sync interrupted there resumes from that cursor, so an older record on page *k+1* would
    never be read again.
    """
    call = read.call()
    previous: datetime | None = None
    previous_number = 0
    for number, page in enumerate(pages, start=1):
        stamps = [r for r in page.records if r.updated_at is not None]
        if page.newest_updated_at is not None and stamps:
            newest_record = max(stamps, key=lambda r: r.updated_at)
            assert page.newest_updated_at >= newest_record.updated_at, (
                f"{call}: page {number} says newest_updated_at={page.newest_updated_at.isoformat()} but its record "
                f"{newest_record.id} was updated at {newest_record.updated_at.isoformat()}"
            )
        if previous is not None:
            for record in stamps:
                assert record.updated_at >= previous, (
                    f"{call}: record {record.id} on page {number} was updated at {record.updated_at.isoformat()}, "
                    f"before the cursor {previous.isoformat()} of page {previous_number}: a sync interrupted after "
                    f"committing page {previous_number} would never read it (pages must come oldest first)"
                )
        cursor = cursor_of(page)
        if cursor is None:
            continue
        if previous is not None:
            assert cursor >= previous, (
                f"{call}: the cursor went back from {previous.isoformat()} (page {previous_number}) to "
                f"{cursor.isoformat()} (page {number})"
            )
        previous, previous_number = cursor, number


def sample_cursors(pages: Sequence[Page[Any]], samples: int) -> list[tuple[int, datetime]]:
    """Up to ``samples`` (page number, cursor) pairs spread over the read, first and last included."""
    cursors = [
        (number, cursor) for number, page in enumerate(pages, start=1) if (cursor := cursor_of(page)) is not None
    ]
    samples = max(2, samples)
    if len(cursors) <= samples:
        return cursors
    step = (len(cursors) - 1) / (samples - 1)
    return [cursors[round(i * step)] for i in range(samples)]


def check_rerun(
    read: Read, pages: Sequence[Page[Any]], number: int, cursor: datetime, again: Sequence[Page[Any]]
) -> None:
    """A read from page ``number``'s cursor has every record that came after that page, and every
    record updated at or after the cursor; and nothing older than the cursor."""
    call = read.call(cursor)
    first = records_of(pages)
    later = records_of(pages[number:])
    expected = {r.id for r in later} | {r.id for r in first if r.updated_at is not None and r.updated_at >= cursor}
    got = records_of(again)
    missing = sorted(expected - {r.id for r in got})
    assert not missing, (
        f"{call} lost {len(missing)} of the {len(expected)} records the first read gave after page {number} or "
        f"updated at or after its cursor, e.g. {missing[:5]}: a sync resumed from that cursor would never see them"
    )
    older = [r for r in got if r.updated_at is not None and r.updated_at < cursor]
    assert not older, (
        f"{call} returned {len(older)} records updated before updated_since, e.g. {older[0].id} at "
        f"{older[0].updated_at.isoformat()}; the read promises records updated at or after it"
    )
