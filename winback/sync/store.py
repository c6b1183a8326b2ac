"""The local store: one SQLite file or PostgreSQL database holding many stores' records.

:func:`winback.sync.database.open_store` opens (creating and migrating as needed) and returns a
:class:`LocalStore`. Its write methods are synchronous and each runs in one transaction; the sync engine calls
:meth:`LocalStore.commit_pages` once per batch of consecutive pages so their records, quarantined
rejects and cursor land together or not at all (derived facts: see :meth:`LocalStore.recompute_derived`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from winback import errors, model
from winback.connectors.base import Deletion, DeletionPage, Page, Resource
from winback.sync import deletions, derive, redact, rows, tables, writes
from winback.sync.planner_stats import PlannerStats
from winback.sync.tables import store_key as make_store_key

P = ParamSpec("P")
R = TypeVar("R")

EXPORTABLE = ("customers", "orders", "products", "buyers")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def db_errors(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: SQLAlchemy errors become :class:`~winback.errors.SyncError` saying ``what``
    failed, with the first line of the driver's message only (no SQL or parameters dumped)."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @wraps(method)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except SQLAlchemyError as exc:
                detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise errors.SyncError(f"{what} failed: {detail}") from exc

        return wrapper

    return decorate


_wrap_db_errors = db_errors("the local store")


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


@dataclass(frozen=True, slots=True)
class DeletionResult:
    """What :meth:`LocalStore.commit_deletions` did with one page of deletions."""

    removed: int
    """Stored records removed (deletions of records never stored only leave a tombstone)."""
    cursor: datetime | None
    """The resource's deletion cursor after the commit (never earlier than before)."""


# --- the store ---------------------------------------------------------------------------------


class LocalStore:
    """Records of many stores in one database. Thread-safe; one instance per process is enough."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.planner_stats = PlannerStats(engine)

    def close(self) -> None:
        self.planner_stats.close()
        self.engine.dispose()

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction, committed when the block ends (rolled back on an exception).

        On SQLite it takes the write lock up front (``BEGIN IMMEDIATE``), so a transaction that
        reads before it writes cannot fail half-way with "database is locked"."""
        with self.engine.connect() as conn:
            conn.execution_options(winback_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """One read transaction: a consistent view that never blocks a writer (WAL on SQLite)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    # --- stores and cursors --------------------------------------------------------------------

    @_wrap_db_errors
    def upsert_store(self, info: model.Store) -> str:
        """Record what the platform says about a store; returns its ``store_key``."""
        key = make_store_key(info.platform, info.store_id)
        with self.writing() as conn:
            writes.upsert(
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
                        "postal_address": info.postal_address,
                    }
                ],
            )
        return key

    @_wrap_db_errors
    def mark_sync_started(self, store_key: str, at: datetime | None = None) -> None:
        self._update_store(store_key, last_sync_started=at or _utcnow())

    @_wrap_db_errors
    def mark_sync_finished(self, store_key: str, at: datetime | None = None, partial: str | None = None) -> None:
        """A sync ended: stamps the time and clears ``last_error``, or sets it to ``partial`` (what
        was out of the credentials' reach) so a partial sync stays visible in ``winback status``."""
        self._update_store(store_key, last_sync_finished=at or _utcnow(), last_error=partial)

    @_wrap_db_errors
    def record_error(self, store_key: str, message: str) -> None:
        """Keep a failed sync's message for ``winback status``; a no-op for an unknown store."""
        self._update_store(store_key, last_error=message)

    def _update_store(self, store_key: str, **values: Any) -> None:
        with self.writing() as conn:
            conn.execute(update(tables.stores).where(tables.stores.c.key == store_key).values(**values))

    @_wrap_db_errors
    def get_store(self, store_key: str) -> dict[str, Any] | None:
        with self.reading() as conn:
            row = conn.execute(select(tables.stores).where(tables.stores.c.key == store_key)).mappings().first()
        return None if row is None else dict(row)

    @_wrap_db_errors
    def list_stores(self) -> list[dict[str, Any]]:
        with self.reading() as conn:
            return [dict(row) for row in conn.execute(select(tables.stores).order_by(tables.stores.c.key)).mappings()]

    @_wrap_db_errors
    def get_cursor(self, store_key: str, resource: Resource | str) -> datetime | None:
        with self.reading() as conn:
            return conn.execute(
                select(tables.sync_cursors.c.cursor_updated_at).where(
                    tables.sync_cursors.c.store_key == store_key,
                    tables.sync_cursors.c.resource == str(resource),
                )
            ).scalar_one_or_none()

    @_wrap_db_errors
    def cursors(self, store_key: str) -> list[dict[str, Any]]:
        with self.reading() as conn:
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
        with self.reading() as conn:
            return int(conn.execute(query).scalar_one())

    # --- pages ---------------------------------------------------------------------------------

    def commit_page(
        self, store_key: str, resource: Resource | str, page: Page[Any], cursor: datetime | None
    ) -> PageResult:
        """Write one page, its quarantined rejects, the derived facts and the cursor atomically.

        Idempotent: committing the same page again changes nothing. A record older than the
        stored copy (``updated_at`` earlier) is skipped; a redacted customer stays redacted. The
        cursor only moves forward: a ``cursor`` earlier than the stored one is ignored.
        """
        return self.commit_pages(store_key, resource, [page], cursor)

    @_wrap_db_errors
    def commit_pages(
        self,
        store_key: str,
        resource: Resource | str,
        pages: Sequence[Page[Any]],
        cursor: datetime | None,
        *,
        defer_derived: bool = False,
    ) -> PageResult:
        """:meth:`commit_page` for several consecutive pages in one transaction, with the cursor
        reached after the last of them: the outcome is the same as committing them one by one, in
        order, but the statements, the derived facts and the commit are paid once for the batch.

        Rejects and quarantine are settled page by page in order (a record rejected on one page
        and read fine on a later one ends resolved, and the other way round); the quarantine is
        only touched when it holds something or the batch adds to it.

        ``defer_derived``: the customers and buyers the batch touched are recorded in
        ``derived_pending`` (same transaction; on a store's first sync one mark for the whole
        store) instead of recomputed; :meth:`recompute_derived` settles them. The sync engine does this and recomputes once when the sync ends.
        """
        resource = Resource(resource)
        records = [record for page in pages for record in page.records]
        rejected = sum(len(page.rejected) for page in pages)
        with self.writing() as conn:
            seen = writes.consult(conn, store_key, resource)
            if resource is Resource.CUSTOMERS:
                upserted, skipped = writes.write_customers(conn, store_key, records, defer=defer_derived, seen=seen)
            elif resource is Resource.ORDERS:
                upserted, skipped = writes.write_orders(conn, store_key, records, defer=defer_derived, seen=seen)
            else:
                upserted, skipped = writes.write_products(conn, store_key, records, seen=seen)
            open_rows = seen.open_quarantine
            for page in pages:
                if open_rows and page.records:
                    writes.resolve_quarantine(conn, store_key, resource, [record.id for record in page.records])
                if page.rejected:
                    writes.quarantine(conn, store_key, resource, page)
                    open_rows = True
            new_cursor = writes.move_cursor(conn, store_key, resource.value, cursor, len(records) + rejected)
        self.planner_stats.committed(resource, upserted)
        superseded = len(records) - len({record.id for record in records})  # an older copy in the same batch
        return PageResult(upserted=upserted, skipped=skipped + superseded, rejected=rejected, cursor=new_cursor)

    @_wrap_db_errors
    def recompute_derived(self, store_key: str) -> None:
        """Recompute the derived facts of every customer and buyer that deferred commits (see
        :meth:`commit_pages`) left pending for the store, including those of a sync killed before
        it could, in one transaction. A no-op when nothing is pending."""
        self.planner_stats.before_recompute()
        with self.writing() as conn:
            derive.recompute_pending(conn, store_key)

    @_wrap_db_errors
    def commit_deletions(
        self, store_key: str, resource: Resource | str, page: DeletionPage, cursor: datetime | None
    ) -> DeletionResult:
        """Apply one page of platform deletions and move ``resource``'s deletion cursor, atomically
        (see :mod:`winback.sync.deletions`). Idempotent, like :meth:`commit_page`."""
        resource = Resource(resource)
        with self.writing() as conn:
            removed = deletions.apply_deletions(conn, store_key, page.deletions)
            new_cursor = writes.move_cursor(
                conn, store_key, deletions.cursor_name(resource), cursor, len(page.deletions) + page.skipped
            )
        return DeletionResult(removed=removed, cursor=new_cursor)

    @_wrap_db_errors
    def apply_deletions(self, store_key: str, items: Sequence[Deletion]) -> int:
        """Apply deletions a webhook announced (``customers/delete``, ``orders/delete``) without
        touching any deletion cursor: the feeds still read their own window. Idempotent."""
        with self.writing() as conn:
            return deletions.apply_deletions(conn, store_key, items)

    @_wrap_db_errors
    def deleted(self, store_key: str, resource: Resource | str | None = None) -> list[dict[str, Any]]:
        """The tombstones of one store (optionally of one resource), oldest deletion first."""
        table = tables.deletions
        query = select(table).where(table.c.store_key == store_key).order_by(table.c.deleted_at, table.c.record_id)
        if resource is not None:
            query = query.where(table.c.resource == Resource(resource).value)
        with self.reading() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    @_wrap_db_errors
    def quarantined(self, store_key: str, *, include_resolved: bool = False) -> list[dict[str, Any]]:
        table = tables.quarantine
        query = select(table).where(table.c.store_key == store_key).order_by(table.c.id)
        if not include_resolved:
            query = query.where(~table.c.resolved)
        with self.reading() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    # --- redaction -----------------------------------------------------------------------------

    @_wrap_db_errors
    def redact_customer(
        self, store_key: str, customer_id: str | None = None, *, email: str | None = None, at: datetime | None = None
    ) -> None:
        """Forget a customer's personal data; see :func:`winback.sync.redact.redact_customer`."""
        with self.writing() as conn:
            redact.redact_customer(conn, store_key, customer_id, email=email, at=at)

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
                with self.reading() as conn:
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
