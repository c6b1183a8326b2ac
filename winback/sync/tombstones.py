"""The tombstone check: a copy of a record the platform deleted is written only when it is newer.

Why a module of its own
    The write path (:mod:`winback.sync.writes`) must consult the tombstones of every page it
    stores, and applying deletions (:mod:`winback.sync.deletions`) uses the write path's lookups
    and recomputation; keeping the check here lets both import it without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TypeVar

from sqlalchemy import Connection, delete

from winback.connectors.base import Resource
from winback.sync import tables
from winback.sync.derive import chunks
from winback.sync.statements import select_in

R = TypeVar("R")
_OLDEST = datetime.min.replace(tzinfo=timezone.utc)


def refuse_deleted(conn: Connection, store_key: str, resource: Resource, records: Iterable[R]) -> tuple[list[R], int]:
    """``records`` without those deleted on the platform after the copy was taken; returns the
    records to write and how many were refused. A copy newer than its tombstone clears it."""
    records = list(records)
    if not records:
        return records, 0
    table = tables.deletions
    sql = "SELECT record_id, deleted_at FROM deletions WHERE store_key = ? AND resource = ? AND record_id IN ({})"
    ids = {record.id for record in records}  # type: ignore[attr-defined]
    stamps: dict[str, datetime] = dict(
        select_in(conn, sql, (store_key, resource.value), ids, [None, table.c.deleted_at.type])  # type: ignore[arg-type]
    )
    if not stamps:
        return records, 0
    kept: list[R] = []
    revived: list[str] = []
    for record in records:
        deleted_at = stamps.get(record.id)  # type: ignore[attr-defined]
        updated = getattr(record, "updated_at", None) or _OLDEST
        if deleted_at is None:
            kept.append(record)
        elif updated > deleted_at:
            kept.append(record)
            revived.append(record.id)  # type: ignore[attr-defined]
    for chunk in chunks(set(revived)):
        conn.execute(delete(table).where(
            table.c.store_key == store_key, table.c.resource == resource.value, table.c.record_id.in_(chunk)
        ))
    return kept, len(records) - len(kept)
