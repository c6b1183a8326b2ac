"""Writing a page (or a batch of consecutive pages) of records inside the caller's transaction.

Each ``write_*`` function filters the page (newest copy per id; a stored copy with a later
``updated_at`` wins; redacted people stay redacted), upserts it, and recomputes the derived facts
of every customer and buyer the page could have changed: the records' customers and emails, old
and new (an order whose email changed moves between buyers); with ``defer`` it records them in
``derived_pending`` instead, for the sync to recompute once at its end. See
:mod:`winback.sync.derive`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, select, update

from winback import model
from winback.connectors.base import Page, Resource
from winback.sync import deletions, derive, rows, tables
from winback.sync.derive import chunks
from winback.sync.statements import built, dialect_insert, insert, upsert

log = logging.getLogger("winback.sync.store")


REDACTED_CUSTOMER: Mapping[str, Any] = {
    "email": None,
    "lower_email": None,
    "first_name": None,
    "last_name": None,
    "phone": None,
    "default_address": None,
    "tags": [],
    "birth_date": None,
    "birth_md": None,
}
REDACTED_ORDER: Mapping[str, Any] = {"email": None, "lower_email": None, "billing_address": None}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def move_cursor(
    conn: Connection, store_key: str, resource: str, cursor: datetime | None, seen: int
) -> datetime | None:
    table = tables.sync_cursors
    current = conn.execute(
        select(table.c.cursor_updated_at).where(table.c.store_key == store_key, table.c.resource == resource)
    ).first()
    now = utcnow()
    if current is None:
        conn.execute(
            table.insert().values(
                store_key=store_key, resource=resource, cursor_updated_at=cursor, last_run_at=now, records_seen=seen
            )
        )
        return cursor
    stored: datetime | None = current[0]
    if cursor is None or (stored is not None and cursor <= stored):
        cursor = stored
    conn.execute(
        update(table)
        .where(table.c.store_key == store_key, table.c.resource == resource)
        .values(cursor_updated_at=cursor, last_run_at=now, records_seen=table.c.records_seen + seen)
    )
    return cursor


def stored_rows(conn: Connection, table: Table, store_key: str, ids: list[str], *columns: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for chunk in chunks(ids):
        query = built(("stored_rows", table.name, columns), lambda: select(
            table.c.id, *(table.c[name] for name in columns)
        ).where(table.c.store_key == bindparam("store_key"), table.c.id.in_(bindparam("ids", expanding=True))))
        for row in conn.execute(query, {"store_key": store_key, "ids": chunk}).mappings():
            found[row["id"]] = row
    return found


def redacted_hashes(conn: Connection, store_key: str, emails: Iterable[str | None]) -> set[str]:
    hashes = {rows.email_hash(store_key, email) for email in emails if email}
    if not hashes:
        return set()
    table = tables.redactions
    found: set[str] = set()
    for chunk in chunks(hashes):
        query = built("redacted_hashes", lambda: select(table.c.email_hash).where(
            table.c.store_key == bindparam("store_key"), table.c.email_hash.in_(bindparam("ids", expanding=True))
        ))
        found.update(conn.execute(query, {"store_key": store_key, "ids": chunk}).scalars())
    return found


def expand(conn: Connection, store_key: str, ids: set[str], emails: set[str]) -> tuple[set[str], set[str]]:
    """Widen a page's customer ids and emails to every customer and buyer whose facts may change.

    Customers with one of the emails (guest orders link to them by email) join the ids; the
    customers named by id bring their emails (their orders count for that buyer).
    """
    table = tables.customers
    found_ids, found_emails = set(ids), set(emails)
    for column, values in ((table.c.id, ids), (table.c.lower_email, emails)):
        for chunk in chunks(values):
            query = built(("expand", column.name), lambda column=column: select(table.c.id, table.c.lower_email).where(
                table.c.store_key == bindparam("store_key"), column.in_(bindparam("ids", expanding=True))
            ))
            for customer_id, lower_email in conn.execute(query, {"store_key": store_key, "ids": chunk}):
                found_ids.add(customer_id)
                if lower_email:
                    found_emails.add(lower_email)
    return found_ids, found_emails


def latest_by_id(records: Iterable[Any]) -> list[Any]:
    latest: dict[str, Any] = {}
    for record in records:
        kept = latest.get(record.id)
        if kept is None or (record.updated_at or datetime.min.replace(tzinfo=timezone.utc)) >= (
            kept.updated_at or datetime.min.replace(tzinfo=timezone.utc)
        ):
            latest[record.id] = record
    return list(latest.values())


def write_customers(
    conn: Connection, store_key: str, records: list[model.Customer], *, defer: bool = False
) -> tuple[int, int]:
    records, refused = deletions.refuse_deleted(conn, store_key, Resource.CUSTOMERS, latest_by_id(records))
    if not records:
        return 0, refused
    existing = stored_rows(
        conn, tables.customers, store_key, [c.id for c in records], "updated_at", "lower_email", "redacted"
    )
    values = [rows.customer_row(store_key, c) for c in records]
    forgotten = redacted_hashes(conn, store_key, (v["lower_email"] for v in values))
    kept: list[dict[str, Any]] = []
    emails: set[str] = set()
    for value in values:
        old = existing.get(value["id"])
        if old is not None and (old["redacted"] or old["updated_at"] > value["updated_at"]):
            continue
        if old is not None and old["lower_email"]:
            emails.add(old["lower_email"])
        if value["lower_email"] and rows.email_hash(store_key, value["lower_email"]) in forgotten:
            value.update(REDACTED_CUSTOMER, redacted=True, deleted_at=utcnow())
        if value["lower_email"]:
            emails.add(value["lower_email"])
        kept.append(value)
    upsert(conn, tables.customers, kept)
    ids, emails = expand(conn, store_key, {v["id"] for v in kept}, emails)
    derive.settle(conn, store_key, ids, emails, defer=defer)
    return len(kept), len(values) - len(kept) + refused


def write_orders(
    conn: Connection, store_key: str, records: list[model.Order], *, defer: bool = False
) -> tuple[int, int]:
    records, refused = deletions.refuse_deleted(conn, store_key, Resource.ORDERS, latest_by_id(records))
    if not records:
        return 0, refused
    existing = stored_rows(
        conn, tables.orders, store_key, [o.id for o in records], "updated_at", "lower_email", "customer_id",
        "fulfilled_at", "delivered_at",
    )
    by_id = {o.id: o for o in records}
    values = [rows.order_row(store_key, o) for o in records]
    customer_ids = {v["customer_id"] for v in values if v["customer_id"]}
    redacted_customers = set()
    for chunk in chunks(customer_ids):
        query = built("redacted_customers", lambda: select(tables.customers.c.id).where(
            tables.customers.c.store_key == bindparam("store_key"),
            tables.customers.c.id.in_(bindparam("ids", expanding=True)),
            tables.customers.c.redacted,
        ))
        redacted_customers.update(conn.execute(query, {"store_key": store_key, "ids": chunk}).scalars())
    forgotten = redacted_hashes(conn, store_key, (v["lower_email"] for v in values))
    kept: list[dict[str, Any]] = []
    ids: set[str] = set()
    emails: set[str] = set()
    for value in values:
        old = existing.get(value["id"])
        if old is not None and old["updated_at"] > value["updated_at"]:
            continue
        if old is not None:
            _keep_earliest(old, value, "fulfilled_at", "delivered_at")
            ids.update(filter(None, [old["customer_id"]]))
            emails.update(filter(None, [old["lower_email"]]))
        if value["customer_id"] in redacted_customers or (
            value["lower_email"] and rows.email_hash(store_key, value["lower_email"]) in forgotten
        ):
            value.update(REDACTED_ORDER)
        ids.update(filter(None, [value["customer_id"]]))
        emails.update(filter(None, [value["lower_email"]]))
        kept.append(value)
    upsert(conn, tables.orders, kept)
    write_lines(conn, store_key, [by_id[v["id"]] for v in kept], set(existing))
    ids, emails = expand(conn, store_key, ids, emails)
    derive.settle(conn, store_key, ids, emails, defer=defer)
    return len(kept), len(values) - len(kept) + refused


_LINE_COLUMNS = tuple(column.name for column in tables.order_lines.columns)


def write_lines(conn: Connection, store_key: str, orders: list[model.Order], stored: set[str]) -> None:
    """Store the lines of ``orders``. A new order's lines are inserted; a stored order's lines are
    replaced only when they differ from the stored ones (a re-read order rarely changes its lines,
    and rewriting them costs a delete and an insert per line with their index updates)."""
    lines = tables.order_lines
    wanted = {order.id: rows.line_rows(store_key, order) for order in orders}
    known = [order_id for order_id in wanted if order_id in stored]
    current: dict[str, list[tuple[Any, ...]]] = {order_id: [] for order_id in known}
    for chunk in chunks(known):
        query = built("stored_lines", lambda: (
            select(*lines.columns)
            .where(lines.c.store_key == bindparam("store_key"), lines.c.order_id.in_(bindparam("ids", expanding=True)))
            .order_by(lines.c.order_id, lines.c.position)
        ))
        for row in conn.execute(query, {"store_key": store_key, "ids": chunk}):
            current[row.order_id].append(tuple(row))
    changed = [
        order_id for order_id in known
        if current[order_id] != [tuple(line.get(name) for name in _LINE_COLUMNS) for line in wanted[order_id]]
    ]
    for chunk in chunks(changed):
        conn.execute(delete(lines).where(lines.c.store_key == store_key, lines.c.order_id.in_(chunk)))
    fresh = set(changed).union(order_id for order_id in wanted if order_id not in stored)
    values = [line for order_id, order_lines in wanted.items() if order_id in fresh for line in order_lines]
    if values:
        insert(conn, lines, values)


def _keep_earliest(old: Mapping[str, Any], value: dict[str, Any], *columns: str) -> None:
    """A fulfilment time already stored wins over a later one: Ecwid only says "shipped" with the
    order's ``updateDate``, which moves on every later edit, so the first sighting is the closest
    to when it happened. A platform that no longer reports the fact clears it (``None`` stays)."""
    for column in columns:
        if old.get(column) is not None and value.get(column) is not None:
            value[column] = min(old[column], value[column])


def write_products(conn: Connection, store_key: str, records: list[model.Product]) -> tuple[int, int]:
    records, refused = deletions.refuse_deleted(conn, store_key, Resource.PRODUCTS, latest_by_id(records))
    values = [rows.product_row(store_key, p) for p in records]
    upsert(conn, tables.products, values)
    return len(values), refused


def quarantine(conn: Connection, store_key: str, resource: Resource, page: Page[Any]) -> None:
    if not page.rejected:
        return
    now = utcnow()
    values: dict[str, dict[str, Any]] = {}
    for rejected in page.rejected:
        raw = rows.plain_json(dict(rejected.raw))
        record_key = rejected.record_id or rows.raw_key(raw)
        log.warning(
            "quarantined %s %s of %s: %s",
            resource.value,
            rejected.record_id or "(no id)",
            store_key,
            rejected.reason,
            extra={"store": store_key, "resource": resource.value, "record_id": rejected.record_id},
        )
        values[record_key] = {
            "store_key": store_key,
            "resource": resource.value,
            "record_key": record_key,
            "record_id": rejected.record_id,
            "reason": rejected.reason,
            "raw": raw,
            "first_seen": now,
            "last_seen": now,
            "times_seen": 1,
            "resolved": False,
            "resolved_at": None,
        }
    table = tables.quarantine
    stmt = dialect_insert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["store_key", "resource", "record_key"],
        set_={
            "record_id": stmt.excluded.record_id,
            "reason": stmt.excluded.reason,
            "raw": stmt.excluded.raw,
            "last_seen": stmt.excluded.last_seen,
            "times_seen": table.c.times_seen + 1,
            "resolved": stmt.excluded.resolved,
            "resolved_at": None,
        },
    )
    conn.execute(stmt, list(values.values()))


def has_open_quarantine(conn: Connection, store_key: str, resource: Resource) -> bool:
    """Whether any of ``resource``'s records of the store is quarantined and unresolved: when none
    is (the usual case) a page has nothing to resolve and the statement is skipped."""
    table = tables.quarantine
    query = (
        select(table.c.record_key)
        .where(table.c.store_key == store_key, table.c.resource == resource.value, ~table.c.resolved)
        .limit(1)
    )
    return conn.execute(query).first() is not None


def resolve_quarantine(conn: Connection, store_key: str, resource: Resource, ids: list[str]) -> None:
    table = tables.quarantine
    for chunk in chunks(set(ids)):
        conn.execute(
            update(table)
            .where(
                table.c.store_key == store_key,
                table.c.resource == resource.value,
                table.c.record_key.in_(chunk),
                ~table.c.resolved,
            )
            .values(resolved=True, resolved_at=utcnow())
        )
