"""Applying records deleted on the platform, inside the caller's transaction.

Delete, and keep a tombstone
    A record the platform deleted is *removed* from ``customers``, ``orders`` (with its lines) or
    ``products``, and one row in ``deletions`` records its id and when it was deleted. Removing
    rather than flagging means no query anywhere can forget to exclude it: a deleted order cannot
    time a reminder, count as a purchase or feed a bestseller list, because it is not there. The
    derived facts of every customer and buyer it touched are recomputed in the same transaction,
    so they are exact afterwards.

    The rules' ``action_ledger`` is not touched. It names customers by id and email and never
    references these rows, so every past intent, act and result stays as it was, auditable beside
    the tombstone that says when the record disappeared.

    The tombstone stops a stale copy from bringing the record back: a search index lagging behind
    the deletion, or a bulk export started before it, may still return the record; a copy not newer
    than ``deleted_at`` is refused (see :func:`winback.sync.tombstones.refuse_deleted`). A newer copy wins and clears the
    tombstone (a platform that restores records).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete

from winback.connectors.base import Deletion, Resource
from winback.sync import derive, tables, writes
from winback.sync.derive import chunks



def cursor_name(resource: Resource) -> str:
    """The ``sync_cursors.resource`` under which ``resource``'s deletion cursor is kept."""
    return f"{resource.value}.deleted"


def _table(resource: Resource) -> Any:
    return {Resource.CUSTOMERS: tables.customers, Resource.ORDERS: tables.orders,
            Resource.PRODUCTS: tables.products}[resource]


def apply_deletions(conn: Connection, store_key: str, deletions: Sequence[Deletion]) -> int:
    """Remove the deleted records, record their tombstones, recompute derived facts; returns how
    many stored records were removed. Idempotent: applying the same deletions again removes
    nothing more and leaves the tombstones as they are."""
    newest: dict[tuple[Resource, str], datetime] = {}
    for item in deletions:
        key = (item.resource, item.record_id)
        newest[key] = max(item.deleted_at, newest.get(key, item.deleted_at))
    removed = 0
    ids: set[str] = set()
    emails: set[str] = set()
    for resource in (Resource.ORDERS, Resource.CUSTOMERS, Resource.PRODUCTS):
        wanted = {record_id: at for (kind, record_id), at in newest.items() if kind is resource}
        if not wanted:
            continue
        table = _table(resource)
        columns = {Resource.ORDERS: ("customer_id", "lower_email"), Resource.CUSTOMERS: ("lower_email",),
                   Resource.PRODUCTS: ()}[resource]
        stored = writes.stored_rows(conn, table, store_key, list(wanted), *columns)
        for row in stored.values():
            if resource is Resource.ORDERS and row["customer_id"]:
                ids.add(row["customer_id"])
            if resource is not Resource.PRODUCTS and row["lower_email"]:
                emails.add(row["lower_email"])
        gone = sorted(stored)
        for chunk in chunks(gone):
            if resource is Resource.ORDERS:
                lines = tables.order_lines
                conn.execute(delete(lines).where(lines.c.store_key == store_key, lines.c.order_id.in_(chunk)))
            conn.execute(delete(table).where(table.c.store_key == store_key, table.c.id.in_(chunk)))
        removed += len(gone)
        # A record the platform deleted can never come back valid: its quarantine row is settled.
        writes.resolve_quarantine(conn, store_key, resource, list(wanted))
        now = writes.utcnow()
        writes.upsert(conn, tables.deletions, [
            {"store_key": store_key, "resource": resource.value, "record_id": record_id, "deleted_at": at,
             "applied_at": now}
            for record_id, at in sorted(wanted.items())
        ])
    if ids or emails:
        ids, emails = writes.expand(conn, store_key, ids, emails)
        derive.recompute_customers(conn, store_key, ids)
        derive.recompute_buyers(conn, store_key, emails)
    return removed
