"""The local store: one SQLite file or PostgreSQL database holding many stores' records.

:func:`open_store` opens (creating and migrating as needed) and returns a :class:`LocalStore`.
Its write methods are synchronous and each runs in one transaction; the sync engine calls
:meth:`LocalStore.commit_page` once per page so a page's records, quarantined rejects, derived
facts and cursor land together or not at all.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, Table, create_engine, delete, event, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from winback import errors, model
from winback.connectors.base import Page, Resource
from winback.sync import derive, rows, tables
from winback.sync.migrate import upgrade_to_head
from winback.sync.tables import store_key as make_store_key

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

BUSY_TIMEOUT_MS = 30_000
EXPORTABLE = ("customers", "orders", "products", "buyers")


def default_database_path() -> Path:
    """``$WINBACK_HOME/winback.db``, else ``$XDG_DATA_HOME/winback/winback.db`` (``~/.local/share``)."""
    home = os.environ.get("WINBACK_HOME")
    if home:
        return Path(home).expanduser() / "winback.db"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "winback" / "winback.db"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _wrap_db_errors(method: Callable[P, R]) -> Callable[P, R]:
    @wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except SQLAlchemyError as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise errors.SyncError(f"the local store failed: {detail}") from exc

    return wrapper


@dataclass(frozen=True, slots=True)
class PageResult:
    """What :meth:`LocalStore.commit_page` did with one page."""

    upserted: int
    """Records written (inserted or updated)."""
    skipped: int
    """Records not written because the stored copy is newer."""
    rejected: int
    """Records quarantined."""
    cursor: datetime | None
    """The resource's cursor after the commit (never earlier than before)."""


# --- opening -----------------------------------------------------------------------------------


def _create_private_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        _create_private_file(Path(database).expanduser())
    engine = create_engine(
        parsed, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide where transactions begin (see the "begin" hook).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front so a read-then-write transaction cannot fail with
        # SQLITE_BUSY half-way; readers stay deferred and never block the writer under WAL.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("winback_write") else "BEGIN")

    return engine


def open_store(url: str | None = None, *, default_path: Path | str | None = None) -> LocalStore:
    """Open the local store, creating and upgrading its schema as needed.

    ``url`` is a SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://user@host/db``;
    ``postgresql://`` and ``postgres://`` mean psycopg 3) or a plain file path for SQLite. ``None``
    opens ``default_path`` (by default :func:`default_database_path`). A new SQLite file is created
    with mode 0600 before anything else touches it: it holds customers' personal data.
    """
    if url is None:
        url = str(default_path if default_path is not None else default_database_path())
    if "://" not in url:
        url = f"sqlite:///{Path(url).expanduser()}"
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        if url.startswith("sqlite"):
            engine = _sqlite_engine(url)
        elif url.startswith("postgresql"):
            engine = create_engine(url, pool_pre_ping=True)
        else:
            raise errors.SyncError(
                f"unsupported database URL scheme {url.split(':', 1)[0]!r}: use sqlite:///path or "
                "postgresql+psycopg://user@host/database"
            )
        upgrade_to_head(engine)
    except SQLAlchemyError as exc:
        raise errors.SyncError(
            f"could not open the local store at {make_url(url).render_as_string(hide_password=True)}: "
            f"{str(exc).splitlines()[0]}"
        ) from exc
    return LocalStore(engine)


# --- the store ---------------------------------------------------------------------------------


class LocalStore:
    """Records of many stores in one database. Thread-safe; one instance per process is enough."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(winback_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _insert(self, conn: Connection, table: Table) -> Any:
        if conn.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def _upsert(self, conn: Connection, table: Table, values: list[dict[str, Any]]) -> None:
        if not values:
            return
        stmt = self._insert(conn, table)
        keys = [column.name for column in table.primary_key.columns]
        stmt = stmt.on_conflict_do_update(
            index_elements=keys,
            set_={name: stmt.excluded[name] for name in values[0] if name not in keys},
        )
        conn.execute(stmt, values)

    # --- stores and cursors --------------------------------------------------------------------

    @_wrap_db_errors
    def upsert_store(self, info: model.Store) -> str:
        """Record what the platform says about a store; returns its ``store_key``."""
        key = make_store_key(info.platform, info.store_id)
        with self._write() as conn:
            self._upsert(
                conn,
                tables.stores,
                [
                    {
                        "key": key,
                        "platform": info.platform,
                        "store_id": info.store_id,
                        "name": info.name,
                        "currency": info.currency,
                        "url": info.url,
                        "email": info.email,
                        "timezone": info.timezone,
                        "logo_url": info.logo_url,
                    }
                ],
            )
        return key

    @_wrap_db_errors
    def mark_sync_started(self, store_key: str, at: datetime | None = None) -> None:
        self._update_store(store_key, last_sync_started=at or _utcnow())

    @_wrap_db_errors
    def mark_sync_finished(self, store_key: str, at: datetime | None = None) -> None:
        """A sync ended well: stamps the time and clears ``last_error``."""
        self._update_store(store_key, last_sync_finished=at or _utcnow(), last_error=None)

    @_wrap_db_errors
    def record_error(self, store_key: str, message: str) -> None:
        """Keep a failed sync's message for ``winback status``; a no-op for an unknown store."""
        self._update_store(store_key, last_error=message)

    def _update_store(self, store_key: str, **values: Any) -> None:
        with self._write() as conn:
            conn.execute(update(tables.stores).where(tables.stores.c.key == store_key).values(**values))

    @_wrap_db_errors
    def get_store(self, store_key: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(select(tables.stores).where(tables.stores.c.key == store_key)).mappings().first()
        return None if row is None else dict(row)

    @_wrap_db_errors
    def list_stores(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            return [dict(row) for row in conn.execute(select(tables.stores).order_by(tables.stores.c.key)).mappings()]

    @_wrap_db_errors
    def get_cursor(self, store_key: str, resource: Resource | str) -> datetime | None:
        with self._read() as conn:
            return conn.execute(
                select(tables.sync_cursors.c.cursor_updated_at).where(
                    tables.sync_cursors.c.store_key == store_key,
                    tables.sync_cursors.c.resource == str(resource),
                )
            ).scalar_one_or_none()

    @_wrap_db_errors
    def cursors(self, store_key: str) -> list[dict[str, Any]]:
        with self._read() as conn:
            return [
                dict(row)
                for row in conn.execute(
                    select(tables.sync_cursors)
                    .where(tables.sync_cursors.c.store_key == store_key)
                    .order_by(tables.sync_cursors.c.resource)
                ).mappings()
            ]

    @_wrap_db_errors
    def count(self, store_key: str, resource: str) -> int:
        """Rows of one store in ``customers``, ``orders``, ``products``, ``buyers`` or ``quarantine``
        (unresolved only)."""
        table = tables.metadata.tables[resource]
        query = select(func.count()).select_from(table).where(table.c.store_key == store_key)
        if resource == "quarantine":
            query = query.where(~table.c.resolved)
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    def _move_cursor(
        self, conn: Connection, store_key: str, resource: str, cursor: datetime | None, seen: int
    ) -> datetime | None:
        table = tables.sync_cursors
        current = conn.execute(
            select(table.c.cursor_updated_at).where(table.c.store_key == store_key, table.c.resource == resource)
        ).first()
        now = _utcnow()
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

    # --- pages ---------------------------------------------------------------------------------

    @_wrap_db_errors
    def commit_page(
        self, store_key: str, resource: Resource | str, page: Page[Any], cursor: datetime | None
    ) -> PageResult:
        """Write one page, its quarantined rejects, the derived facts and the cursor atomically.

        Idempotent: committing the same page again changes nothing. A record older than the
        stored copy (``updated_at`` earlier) is skipped; a redacted customer stays redacted. The
        cursor only moves forward: a ``cursor`` earlier than the stored one is ignored.
        """
        resource = Resource(resource)
        with self._write() as conn:
            if resource is Resource.CUSTOMERS:
                upserted, skipped = self._write_customers(conn, store_key, page.records)
            elif resource is Resource.ORDERS:
                upserted, skipped = self._write_orders(conn, store_key, page.records)
            else:
                upserted, skipped = self._write_products(conn, store_key, page.records)
            self._resolve_quarantine(conn, store_key, resource, [record.id for record in page.records])
            self._quarantine(conn, store_key, resource, page)
            new_cursor = self._move_cursor(
                conn, store_key, resource.value, cursor, len(page.records) + len(page.rejected)
            )
        return PageResult(upserted=upserted, skipped=skipped, rejected=len(page.rejected), cursor=new_cursor)

    def _existing(self, conn: Connection, table: Table, store_key: str, ids: list[str], *columns: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for chunk in derive._chunks(ids):
            query = select(table.c.id, *(table.c[name] for name in columns)).where(
                table.c.store_key == store_key, table.c.id.in_(chunk)
            )
            for row in conn.execute(query).mappings():
                found[row["id"]] = row
        return found

    def _redacted_hashes(self, conn: Connection, store_key: str, emails: Iterable[str | None]) -> set[str]:
        hashes = {rows.email_hash(store_key, email) for email in emails if email}
        if not hashes:
            return set()
        table = tables.redactions
        found: set[str] = set()
        for chunk in derive._chunks(hashes):
            found.update(
                conn.execute(
                    select(table.c.email_hash).where(table.c.store_key == store_key, table.c.email_hash.in_(chunk))
                ).scalars()
            )
        return found

    def _expand(
        self, conn: Connection, store_key: str, ids: set[str], emails: set[str]
    ) -> tuple[set[str], set[str]]:
        """Customers whose facts may change: by id or by email; and their emails (buyers)."""
        table = tables.customers
        ids, emails = set(ids), set(emails)
        for id_chunk in derive._chunks(ids or {""}):
            for email_chunk in derive._chunks(emails or {""}):
                query = select(table.c.id, table.c.lower_email).where(
                    table.c.store_key == store_key, or_(table.c.id.in_(id_chunk), table.c.lower_email.in_(email_chunk))
                )
                for found_id, found_email in conn.execute(query):
                    ids.add(found_id)
                    if found_email:
                        emails.add(found_email)
        ids.discard("")
        emails.discard("")
        return ids, emails

    def _latest_by_id(self, records: Iterable[Any]) -> list[Any]:
        latest: dict[str, Any] = {}
        for record in records:
            kept = latest.get(record.id)
            if kept is None or (record.updated_at or datetime.min.replace(tzinfo=timezone.utc)) >= (
                kept.updated_at or datetime.min.replace(tzinfo=timezone.utc)
            ):
                latest[record.id] = record
        return list(latest.values())

    def _write_customers(self, conn: Connection, store_key: str, records: list[model.Customer]) -> tuple[int, int]:
        records = self._latest_by_id(records)
        if not records:
            return 0, 0
        existing = self._existing(
            conn, tables.customers, store_key, [c.id for c in records], "updated_at", "lower_email", "redacted"
        )
        values = [rows.customer_row(store_key, c) for c in records]
        forgotten = self._redacted_hashes(conn, store_key, (v["lower_email"] for v in values))
        kept: list[dict[str, Any]] = []
        emails: set[str] = set()
        for value in values:
            old = existing.get(value["id"])
            if old is not None and (old["redacted"] or old["updated_at"] > value["updated_at"]):
                continue
            if old is not None and old["lower_email"]:
                emails.add(old["lower_email"])
            if value["lower_email"] and rows.email_hash(store_key, value["lower_email"]) in forgotten:
                value.update(_REDACTED_CUSTOMER, redacted=True, deleted_at=_utcnow())
            if value["lower_email"]:
                emails.add(value["lower_email"])
            kept.append(value)
        self._upsert(conn, tables.customers, kept)
        ids, emails = self._expand(conn, store_key, {v["id"] for v in kept}, emails)
        derive.recompute_customers(conn, store_key, ids)
        derive.recompute_buyers(conn, store_key, emails)
        return len(kept), len(values) - len(kept)

    def _write_orders(self, conn: Connection, store_key: str, records: list[model.Order]) -> tuple[int, int]:
        records = self._latest_by_id(records)
        if not records:
            return 0, 0
        existing = self._existing(
            conn, tables.orders, store_key, [o.id for o in records], "updated_at", "lower_email", "customer_id"
        )
        by_id = {o.id: o for o in records}
        values = [rows.order_row(store_key, o) for o in records]
        customer_ids = {v["customer_id"] for v in values if v["customer_id"]}
        redacted_customers = set()
        for chunk in derive._chunks(customer_ids):
            redacted_customers.update(
                conn.execute(
                    select(tables.customers.c.id).where(
                        tables.customers.c.store_key == store_key,
                        tables.customers.c.id.in_(chunk),
                        tables.customers.c.redacted,
                    )
                ).scalars()
            )
        forgotten = self._redacted_hashes(conn, store_key, (v["lower_email"] for v in values))
        kept: list[dict[str, Any]] = []
        ids: set[str] = set()
        emails: set[str] = set()
        for value in values:
            old = existing.get(value["id"])
            if old is not None and old["updated_at"] > value["updated_at"]:
                continue
            if old is not None:
                ids.update(filter(None, [old["customer_id"]]))
                emails.update(filter(None, [old["lower_email"]]))
            if value["customer_id"] in redacted_customers or (
                value["lower_email"] and rows.email_hash(store_key, value["lower_email"]) in forgotten
            ):
                value.update(_REDACTED_ORDER)
            ids.update(filter(None, [value["customer_id"]]))
            emails.update(filter(None, [value["lower_email"]]))
            kept.append(value)
        self._upsert(conn, tables.orders, kept)
        written = [v["id"] for v in kept]
        lines = tables.order_lines
        for chunk in derive._chunks(written):
            conn.execute(delete(lines).where(lines.c.store_key == store_key, lines.c.order_id.in_(chunk)))
        line_values = [line for order_id in written for line in rows.line_rows(store_key, by_id[order_id])]
        if line_values:
            conn.execute(lines.insert(), line_values)
        ids, emails = self._expand(conn, store_key, ids, emails)
        derive.recompute_customers(conn, store_key, ids)
        derive.recompute_buyers(conn, store_key, emails)
        return len(kept), len(values) - len(kept)

    def _write_products(self, conn: Connection, store_key: str, records: list[model.Product]) -> tuple[int, int]:
        records = self._latest_by_id(records)
        values = [rows.product_row(store_key, p) for p in records]
        self._upsert(conn, tables.products, values)
        return len(values), 0

    def _quarantine(self, conn: Connection, store_key: str, resource: Resource, page: Page[Any]) -> None:
        if not page.rejected:
            return
        now = _utcnow()
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
        stmt = self._insert(conn, table)
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

    def _resolve_quarantine(self, conn: Connection, store_key: str, resource: Resource, ids: list[str]) -> None:
        table = tables.quarantine
        for chunk in derive._chunks(set(ids)):
            conn.execute(
                update(table)
                .where(
                    table.c.store_key == store_key,
                    table.c.resource == resource.value,
                    table.c.record_key.in_(chunk),
                    ~table.c.resolved,
                )
                .values(resolved=True, resolved_at=_utcnow())
            )

    @_wrap_db_errors
    def quarantined(self, store_key: str, *, include_resolved: bool = False) -> list[dict[str, Any]]:
        table = tables.quarantine
        query = select(table).where(table.c.store_key == store_key).order_by(table.c.id)
        if not include_resolved:
            query = query.where(~table.c.resolved)
        with self._read() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    # --- redaction -----------------------------------------------------------------------------

    @_wrap_db_errors
    def redact_customer(
        self, store_key: str, customer_id: str | None = None, *, email: str | None = None, at: datetime | None = None
    ) -> None:
        """Forget a customer's personal data (GDPR / Shopify ``customers/redact``).

        Nulls the customer's name, email, phone, address and tags and flags the row redacted
        (creating a flagged stub if the customer was never synced), scrubs the email and billing
        address of their orders and of guest orders with their email, drops their buyer row and
        their email from the action ledger, and remembers a hash of the email so later syncs do
        not bring the data back. Order amounts and dates stay: they are not personal.
        """
        if customer_id is None and email is None:
            raise ValueError("redact_customer needs a customer id or an email")
        at = at or _utcnow()
        c, o = tables.customers, tables.orders
        with self._write() as conn:
            emails = {e for e in [rows.normalize_email(email)] if e}
            if customer_id is not None:
                old = conn.execute(
                    select(c.c.lower_email).where(c.c.store_key == store_key, c.c.id == customer_id)
                ).first()
                if old is None:
                    conn.execute(
                        c.insert().values(
                            store_key=store_key, id=customer_id, updated_at=at, account_state="guest",
                            consent_state="unknown", tags=[], redacted=True, deleted_at=at, is_guest=True,
                        )
                    )
                elif old[0]:
                    emails.add(old[0])
            ids: set[str] = {customer_id} if customer_id else set()
            if emails:
                ids.update(
                    conn.execute(select(c.c.id).where(c.c.store_key == store_key, c.c.lower_email.in_(emails))).scalars()
                )
            for lower in emails:
                self._upsert(
                    conn,
                    tables.redactions,
                    [{"store_key": store_key, "email_hash": rows.email_hash(store_key, lower), "redacted_at": at}],
                )
            if ids:
                conn.execute(
                    update(c)
                    .where(c.c.store_key == store_key, c.c.id.in_(ids))
                    .values(**_REDACTED_CUSTOMER, redacted=True, deleted_at=func.coalesce(c.c.deleted_at, at))
                )
            match = []
            if ids:
                match.append(o.c.customer_id.in_(ids))
            if emails:
                match.append(o.c.lower_email.in_(emails))
            conn.execute(update(o).where(o.c.store_key == store_key, or_(*match)).values(**_REDACTED_ORDER))
            if emails:
                conn.execute(
                    delete(tables.buyers).where(
                        tables.buyers.c.store_key == store_key, tables.buyers.c.lower_email.in_(emails)
                    )
                )
            ledger = tables.action_ledger
            ledger_match = [func.lower(ledger.c.email).in_(emails)] if emails else []
            if ids:
                ledger_match.append(ledger.c.customer_id.in_(ids))
            conn.execute(update(ledger).where(ledger.c.store_key == store_key, or_(*ledger_match)).values(email=None))
            q = tables.quarantine
            if ids:
                conn.execute(
                    delete(q).where(q.c.store_key == store_key, q.c.resource == "customers", q.c.record_id.in_(ids))
                )
            derive.recompute_customers(conn, store_key, ids)

    # --- reading for export --------------------------------------------------------------------

    def iter_rows(self, store_key: str, resource: str, *, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Stream one store's ``customers``, ``orders`` (with ``line_items``), ``products`` or
        ``buyers`` as dicts with the common model's field names plus derived facts.

        Reads in primary-key order, ``batch`` rows per short transaction (keyset pagination), so
        memory stays flat and no long transaction holds the database.
        """
        if resource not in EXPORTABLE:
            raise ValueError(f"cannot export {resource!r}: choose one of {', '.join(EXPORTABLE)}")
        info = self.get_store(store_key)
        if info is None:
            raise errors.SyncError(f"no store {store_key!r} in the local store: run `winback sync` first")
        platform, store_id, currency = info["platform"], info["store_id"], info["currency"]
        table = tables.metadata.tables[resource]
        key_column = table.c.lower_email if resource == "buyers" else table.c.id
        after: str | None = None
        while True:
            query = select(table).where(table.c.store_key == store_key).order_by(key_column).limit(batch)
            if after is not None:
                query = query.where(key_column > after)
            try:
                with self._read() as conn:
                    chunk = [dict(row) for row in conn.execute(query).mappings()]
                    lines = self._lines_for(conn, store_key, [r["id"] for r in chunk]) if resource == "orders" else {}
            except SQLAlchemyError as exc:
                raise errors.SyncError(f"could not read {resource} from the local store: {exc}") from exc
            if not chunk:
                return
            for row in chunk:
                if resource == "customers":
                    yield rows.customer_dict(row, platform=platform, store_id=store_id, currency=currency)
                elif resource == "orders":
                    yield rows.order_dict(row, lines.get(row["id"], []), platform=platform, store_id=store_id)
                elif resource == "products":
                    yield rows.product_dict(row, platform=platform, store_id=store_id)
                else:
                    yield rows.buyer_dict(row, currency=currency)
            after = chunk[-1][key_column.name]
            if len(chunk) < batch:
                return

    def _lines_for(self, conn: Connection, store_key: str, order_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        lines = tables.order_lines
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        if not order_ids:
            return found
        query = (
            select(lines)
            .where(lines.c.store_key == store_key, lines.c.order_id.in_(order_ids))
            .order_by(lines.c.order_id, lines.c.position)
        )
        for row in conn.execute(query).mappings():
            found[row["order_id"]].append(rows.line_dict(row))
        return found


_REDACTED_CUSTOMER: Mapping[str, Any] = {
    "email": None,
    "lower_email": None,
    "first_name": None,
    "last_name": None,
    "phone": None,
    "default_address": None,
    "tags": [],
}
_REDACTED_ORDER: Mapping[str, Any] = {"email": None, "lower_email": None, "billing_address": None}
