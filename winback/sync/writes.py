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
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Table, delete, update

from winback import model
from winback.model import normalize_email
from winback.connectors.base import Page, Resource
from winback.sync import derive, params, rows, tables, tombstones
from winback.sync.derive import chunks
from winback.sync.statements import dialect_insert, fetch, select_in, upsert

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


_CURSOR = tables.sync_cursors
_READ_CURSOR = "SELECT cursor_updated_at FROM sync_cursors WHERE store_key = ? AND resource = ?"
_INSERT_CURSOR = (
    "INSERT INTO sync_cursors (store_key, resource, cursor_updated_at, last_run_at, records_seen)"
    " VALUES (?, ?, ?, ?, ?)"
)
_UPDATE_CURSOR = (
    "UPDATE sync_cursors SET cursor_updated_at = ?, last_run_at = ?, records_seen = records_seen + ?"
    " WHERE store_key = ? AND resource = ?"
)


def move_cursor(
    conn: Connection, store_key: str, resource: str, cursor: datetime | None, seen: int
) -> datetime | None:
    """Move ``resource``'s cursor forward to ``cursor`` (never back), stamp the run and count
    ``seen``, in the caller's transaction; returns the cursor now stored.

    Written as driver SQL, the times through their column type's own bind processor (what
    SQLAlchemy binds): it runs once per batch, and SQLAlchemy's statement execution cost more
    CPU than the lookup and the update themselves."""
    time_type = _CURSOR.c.cursor_updated_at.type
    current = fetch(conn, _READ_CURSOR, (store_key, resource), (time_type,))
    to_db = time_type._cached_bind_processor(conn.dialect) or (lambda value: value)
    now = to_db(utcnow())
    if not current:
        _execute(conn, _INSERT_CURSOR, (store_key, resource, None if cursor is None else to_db(cursor), now, seen))
        return cursor
    stored: datetime | None = current[0][0]
    if cursor is None or (stored is not None and cursor <= stored):
        cursor = stored
    _execute(conn, _UPDATE_CURSOR, (None if cursor is None else to_db(cursor), now, seen, store_key, resource))
    return cursor


def _execute(conn: Connection, sql: str, params: tuple[Any, ...]) -> None:
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    conn.exec_driver_sql(sql, params)


@dataclass(frozen=True, slots=True)
class Consult:
    """Which of the store's exceptional state a batch of one resource must check its records
    against, read once at the start of its transaction: on most stores there is no tombstone, no
    forgotten email and no open quarantine, and then the per-record lookups are skipped."""

    tombstones: bool
    """The resource has records deleted on the platform (see :func:`tombstones.refuse_deleted`)."""
    redactions: bool
    """The store has forgotten emails (see :func:`redacted_hashes`)."""
    open_quarantine: bool
    """Some record of the resource is quarantined and unresolved."""
    whole_store: bool
    """A deferred batch records the whole store as pending (:data:`derive.WHOLE_STORE`), not its
    customers and emails: that mark is pending already, or the store holds no customer and no
    order yet (its first sync, which touches every customer anyway)."""


_CONSULT_SQL = (
    "SELECT EXISTS (SELECT 1 FROM deletions WHERE store_key = ? AND resource = ?),"
    " EXISTS (SELECT 1 FROM redactions WHERE store_key = ?),"
    " EXISTS (SELECT 1 FROM quarantine WHERE store_key = ? AND resource = ? AND NOT resolved),"
    " EXISTS (SELECT 1 FROM derived_pending WHERE store_key = ? AND kind = 'store' AND value = '*')"
    " OR NOT (EXISTS (SELECT 1 FROM customers WHERE store_key = ?) OR EXISTS (SELECT 1 FROM orders WHERE store_key = ?))"
)


def consult(conn: Connection, store_key: str, resource: Resource) -> Consult:
    """What the store holds that a batch of ``resource`` must consult (one statement)."""
    [row] = fetch(
        conn, _CONSULT_SQL, (store_key, resource.value, store_key, store_key, resource.value, *[store_key] * 3)
    )
    return Consult(*(bool(flag) for flag in row))


def stored_rows(conn: Connection, table: Table, store_key: str, ids: list[str], *columns: str) -> dict[str, Any]:
    """The stored ``columns`` of those of ``ids`` the store holds, by id, typed as SQLAlchemy
    types them."""
    quote = conn.dialect.identifier_preparer.quote
    names = "".join(f", {quote(name)}" for name in columns)
    sql = f"SELECT id{names} FROM {quote(table.name)} WHERE store_key = ? AND id IN ({{}})"
    types = [None, *(table.c[name].type for name in columns)]
    return {row[0]: dict(zip(columns, row[1:], strict=True)) for row in select_in(conn, sql, (store_key,), ids, types)}


def redacted_hashes(conn: Connection, store_key: str, emails: Iterable[str | None]) -> set[str]:
    hashes = {rows.email_hash(store_key, email) for email in emails if email}
    sql = "SELECT email_hash FROM redactions WHERE store_key = ? AND email_hash IN ({})"
    return {row[0] for row in select_in(conn, sql, (store_key,), hashes)}


def redacted_customers(conn: Connection, store_key: str, ids: Iterable[str]) -> set[str]:
    """Those of ``ids`` whose customer is redacted (possibly a stub redacted by id alone, which
    left no email hash behind)."""
    sql = "SELECT id FROM customers WHERE store_key = ? AND id IN ({}) AND redacted"
    return {row[0] for row in select_in(conn, sql, (store_key,), set(ids))}


def expand(conn: Connection, store_key: str, ids: set[str], emails: set[str]) -> tuple[set[str], set[str]]:
    """Widen a page's customer ids and emails to every customer and buyer whose facts may change.

    Customers with one of the emails (guest orders link to them by email) join the ids; the
    customers named by id bring their emails (their orders count for that buyer).
    """
    found_ids, found_emails = set(ids), set(emails)
    for column, values in (("id", ids), ("lower_email", emails)):
        sql = f"SELECT id, lower_email FROM customers WHERE store_key = ? AND {column} IN ({{}})"
        for customer_id, lower_email in select_in(conn, sql, (store_key,), values):
            found_ids.add(customer_id)
            if lower_email:
                found_emails.add(lower_email)
    return found_ids, found_emails


def _settle(
    conn: Connection, store_key: str, ids: set[str], emails: set[str], *, defer: bool, seen: Consult
) -> None:
    """The derived facts of the customers and buyers a batch touched: recomputed now, over the
    widened sets, or recorded as they are (the deferred recompute widens them; see
    :func:`derive.recompute_pending`), or as the whole store (:attr:`Consult.whole_store`)."""
    if not defer:
        ids, emails = expand(conn, store_key, ids, emails)
    derive.settle(conn, store_key, ids, emails, defer=defer, whole_store=seen.whole_store)


_OLDEST = datetime.min.replace(tzinfo=timezone.utc)


def latest_by_id(records: Iterable[Any]) -> list[Any]:
    """The newest copy of each record (the later of equal ``updated_at``), in the order of the
    ids' first appearance. Most batches repeat no id: then that is the batch as it is, found with
    one dict of the ids instead of a comparison per record."""
    records = list(records)
    if len({record.id: None for record in records}) == len(records):
        return records
    latest: dict[str, Any] = {}
    for record in records:
        kept = latest.get(record.id)
        if kept is None or (record.updated_at or _OLDEST) >= (kept.updated_at or _OLDEST):
            latest[record.id] = record
    return list(latest.values())


def _current(
    conn: Connection, store_key: str, resource: Resource, records: list[Any], seen: Consult | None
) -> tuple[list[Any], int, Consult]:
    """The newest copy of each record, without those refused by a tombstone (looked up only when
    the resource has tombstones), how many were refused, and what else the batch must consult."""
    seen = seen or consult(conn, store_key, resource)
    records = latest_by_id(records)
    if not seen.tombstones:
        return records, 0, seen
    records, refused = tombstones.refuse_deleted(conn, store_key, resource, records)
    return records, refused, seen


def write_customers(
    conn: Connection, store_key: str, records: list[model.Customer], *, defer: bool = False,
    seen: Consult | None = None,
) -> tuple[int, int]:
    records, refused, seen = _current(conn, store_key, Resource.CUSTOMERS, records, seen)
    if not records:
        return 0, refused
    existing = stored_rows(
        conn, tables.customers, store_key, [c.id for c in records], "updated_at", "lower_email", "redacted"
    )
    lower = [normalize_email(c.email) for c in records]
    forgotten = redacted_hashes(conn, store_key, lower) if seen.redactions else set()
    out = params.rows_for(conn, "upsert", tables.customers, store_key)
    ids: set[str] = set()
    emails: set[str] = set()
    for customer, lower_email in zip(records, lower, strict=True):
        old = existing.get(customer.id)
        if old is not None and (old["redacted"] or old["updated_at"] > customer.updated_at):
            continue
        if old is not None and old["lower_email"]:
            emails.add(old["lower_email"])
        if forgotten and lower_email and rows.email_hash(store_key, lower_email) in forgotten:
            out.add(customer, {**REDACTED_CUSTOMER, "redacted": True, "deleted_at": utcnow()})
        else:
            out.add(customer)
            if lower_email:
                emails.add(lower_email)
        ids.add(customer.id)
    out.execute(stored=existing)
    _settle(conn, store_key, ids, emails, defer=defer, seen=seen)
    return len(ids), len(records) - len(ids) + refused


def write_orders(
    conn: Connection, store_key: str, records: list[model.Order], *, defer: bool = False,
    seen: Consult | None = None,
) -> tuple[int, int]:
    records, refused, seen = _current(conn, store_key, Resource.ORDERS, records, seen)
    if not records:
        return 0, refused
    existing = stored_rows(
        conn, tables.orders, store_key, [o.id for o in records], "updated_at", "lower_email", "customer_id",
        "fulfilled_at", "delivered_at",
    )
    lower = [normalize_email(o.email) for o in records]
    redacted = redacted_customers(conn, store_key, (o.customer_id for o in records if o.customer_id))
    forgotten = redacted_hashes(conn, store_key, lower) if seen.redactions else set()
    out = params.rows_for(conn, "upsert", tables.orders, store_key)
    kept: list[model.Order] = []
    ids: set[str] = set()
    emails: set[str] = set()
    for order, lower_email in zip(records, lower, strict=True):
        old = existing.get(order.id)
        if old is not None and old["updated_at"] > order.updated_at:
            continue
        changes: dict[str, Any] = {}
        if old is not None:
            changes.update(_earlier(old, order, "fulfilled_at", "delivered_at"))
            if old["customer_id"]:
                ids.add(old["customer_id"])
            if old["lower_email"]:
                emails.add(old["lower_email"])
        if order.customer_id in redacted or (
            forgotten and lower_email and rows.email_hash(store_key, lower_email) in forgotten
        ):
            changes.update(REDACTED_ORDER)
        elif lower_email:
            emails.add(lower_email)
        if order.customer_id:
            ids.add(order.customer_id)
        out.add(order, changes)
        kept.append(order)
    out.execute(stored=existing)
    write_lines(conn, store_key, kept, set(existing))
    _settle(conn, store_key, ids, emails, defer=defer, seen=seen)
    return len(kept), len(records) - len(kept) + refused


_LINE_COLUMNS = tuple(column.name for column in tables.order_lines.columns)
_STORED_LINES = (
    f"SELECT {', '.join(_LINE_COLUMNS)} FROM order_lines WHERE store_key = ? AND order_id IN ({{}})"
    " ORDER BY order_id, position"
)


def write_lines(conn: Connection, store_key: str, orders: list[model.Order], stored: set[str]) -> None:
    """Store the lines of ``orders``. A new order's lines are inserted; a stored order's lines are
    replaced only when they differ from the stored ones (a re-read order rarely changes its lines,
    and rewriting them costs a delete and an insert per line with their index updates)."""
    lines = tables.order_lines
    known = {order.id: order for order in orders if order.id in stored}
    current: dict[str, list[tuple[Any, ...]]] = {order_id: [] for order_id in known}
    for row in select_in(conn, _STORED_LINES, (store_key,), known, [column.type for column in lines.columns]):
        current[row[1]].append(row)
    changed = {
        order_id for order_id, order in known.items()
        if current[order_id] != [tuple(line.get(name) for name in _LINE_COLUMNS)
                                 for line in rows.line_rows(store_key, order)]
    }
    for chunk in chunks(changed):
        conn.execute(delete(lines).where(lines.c.store_key == store_key, lines.c.order_id.in_(chunk)))
    out = params.rows_for(conn, "insert", lines, store_key)
    for order in orders:
        if order.id in changed or order.id not in known:
            out.add_each(order)
    out.execute()


def _earlier(old: Mapping[str, Any], order: model.Order, *columns: str) -> dict[str, Any]:
    """A fulfilment time already stored wins over a later one: Ecwid only says "shipped" with the
    order's ``updateDate``, which moves on every later edit, so the first sighting is the closest
    to when it happened. A platform that no longer reports the fact clears it (``None`` stays).
    Returns the columns whose stored time is the earlier one, with it."""
    earlier = {}
    for column in columns:
        stored, new = old.get(column), getattr(order, column)
        if stored is not None and new is not None and stored < new:
            earlier[column] = stored
    return earlier


def write_products(
    conn: Connection, store_key: str, records: list[model.Product], *, seen: Consult | None = None
) -> tuple[int, int]:
    records, refused, seen = _current(conn, store_key, Resource.PRODUCTS, records, seen)
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
