"""Keeping PostgreSQL's planner statistics in step with a sync that fills tables fast.

Why
    PostgreSQL plans each statement from the statistics ``ANALYZE`` last gathered. Tables a sync
    has just filled have none (autovacuum analyzes a minute later at best, and may be off), so the
    planner applies default selectivities to every condition. Every table here leads with
    ``store_key``, which holds one value per store, so "``store_key = $1`` and one more equality"
    is estimated at one row, and any ``(store_key, ...)`` index looks as good as the primary key.
    Two plans then grow with the store, making a sync quadratic:

    - the foreign-key check of each inserted order line (a plan PostgreSQL caches for the whole
      session) looks its order up through ``ix_orders_store_fulfilled`` and filters every order of
      the store by id, instead of probing ``pk_orders``;
    - the final recomputation joins ``derived_pending`` with ``customers``/``orders``/``buyers`` in
      nested loops that rescan all pending rows for each outer row.

    (Ecwid, 20k orders: 50 s of wall time against 10 s on SQLite, and minutes with autovacuum off;
    SQLite's planner prefers a unique index for equality on all its columns without statistics.)

What it does
    :class:`PlannerStats` counts the records committed per resource and analyzes that resource's
    table whenever the count since its last ``ANALYZE`` reaches what it held then (at least
    :data:`MIN_ROWS`): estimates stay within a factor of two while a store grows, and a table of
    *n* rows is analyzed about log₂(*n*) times, each ``ANALYZE`` reading a bounded sample of the
    columns lookups go by (see :data:`TABLES`). The final recomputation first analyzes
    ``derived_pending``, whose size swings from empty to every touched customer and back in each
    sync (sampling it costs in proportion to the work the recomputation does anyway).
    ``ANALYZE`` also invalidates the plans cached on those tables, the foreign-key checks'
    included. On SQLite it does nothing.

    The growing tables' ``ANALYZE`` runs on a thread and connection of its own, beside the next
    batch, not in the commit that made it due: the sync's writer waits for each commit before the
    next, so it waited for every ``ANALYZE`` too (0.19-0.23 s of a 20k Ecwid sync). An
    ``ANALYZE`` and inserts into the same table do not block each other (its lock is
    ``SHARE UPDATE EXCLUSIVE``); one thread runs them in turn, as two on one table would wait for
    each other anyway. The recomputation, whose plans depend most on the statistics, waits for
    them first (:meth:`PlannerStats.before_recompute`), and so does closing the store.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from winback.connectors.base import Resource

log = logging.getLogger("winback.sync.store")

MIN_ROWS = 100
"""Below this many new rows no plan is slow enough to be worth an ``ANALYZE``."""

TABLES: dict[Resource, tuple[str, str]] = {
    Resource.CUSTOMERS: ("customers", "store_key, id, lower_email, redacted"),
    Resource.ORDERS: ("orders", "store_key, id, customer_id, lower_email, counts_as_purchase"),
    Resource.PRODUCTS: ("products", "store_key, id"),
}
"""The table a commit of each resource grows, and the columns the sync's statements select its
rows by. Only those are analyzed: a fifth of the cost of the whole row (JSON, text), and
PostgreSQL does not count a partial ``ANALYZE`` as done, so autovacuum still gathers the rest.
(``order_lines`` is only probed by its primary key's prefix, which the planner picks without
statistics.)"""

PENDING = "derived_pending"


class PlannerStats:
    """Analyzes the tables a sync grows, on PostgreSQL; thread-safe (commits run in threads)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.enabled = engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        self._analyzed_at: dict[Resource, float] = {}
        """Rows the resource's table held at its last ``ANALYZE`` (estimated)."""
        self._written: dict[Resource, int] = {}
        """Records committed since then."""
        self._analyzer: ThreadPoolExecutor | None = None
        """The thread the growing tables' ``ANALYZE`` runs on, started at the first one."""
        self._analyzer_pid = 0
        """The process that started it: a forked child has the executor but not its thread."""
        self._running: list[Future[None]] = []

    def committed(self, resource: Resource, records: int) -> None:
        """``records`` of ``resource`` were just committed: analyze its table if that has doubled
        since it was last analyzed."""
        if not self.enabled or not records or resource not in TABLES:
            return
        with self._lock:
            if resource not in self._analyzed_at:
                self._analyzed_at[resource] = self._stored_rows(TABLES[resource][0])
            written = self._written.get(resource, 0) + records
            base = self._analyzed_at[resource]
            due = written >= max(MIN_ROWS, base)
            if due:
                self._analyzed_at[resource], self._written[resource] = base + written, 0
            else:
                self._written[resource] = written
        if due:
            self._analyze_beside(*TABLES[resource])

    def before_recompute(self) -> None:
        """Give the recomputation of pending derived facts the statistics of the tables the sync
        grew (waiting for those still being gathered) and exact ones of what is pending."""
        if self.enabled:
            self.settle()
            self._analyze(PENDING)

    def settle(self) -> None:
        """Wait for every ``ANALYZE`` started beside the commits (by this process: a forked child
        does not wait for its parent's, which would never end here)."""
        with self._lock:
            running, self._running = self._running, []
            if self._analyzer_pid != os.getpid():
                running = []
        for future in running:
            future.result()  # _analyze logs its failures and never raises

    def close(self) -> None:
        """Wait for the ``ANALYZE`` still running and stop its thread (the store is closing)."""
        self.settle()
        with self._lock:
            analyzer, self._analyzer = self._analyzer, None
        if analyzer is not None and self._analyzer_pid == os.getpid():
            analyzer.shutdown(wait=True)

    def _analyze_beside(self, table: str, columns: str) -> None:
        with self._lock:
            if self._analyzer is None or self._analyzer_pid != os.getpid():
                self._analyzer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="winback-analyze")
                self._analyzer_pid, self._running = os.getpid(), []
            self._running = [future for future in self._running if not future.done()]
            self._running.append(self._analyzer.submit(self._analyze, table, columns))

    def _stored_rows(self, table: str) -> float:
        """The table's size as of its last ``ANALYZE`` or ``VACUUM`` (0 when never analyzed)."""
        try:
            with self.engine.connect() as conn:
                found = conn.execute(
                    text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:table)"), {"table": table}
                ).scalar()
        except SQLAlchemyError as exc:
            log.warning("could not read the size of %s: %s", table, str(exc).splitlines()[0])
            return 0.0
        return max(float(found or 0), 0.0)

    def _analyze(self, table: str, columns: str | None = None) -> None:
        """``ANALYZE`` the table (its ``columns``, else all) in a transaction of its own. A failure
        is logged, not raised: the data is committed already and statistics only speed later
        statements up."""
        try:
            with self.engine.begin() as conn:
                conn.exec_driver_sql(f"ANALYZE {table}" + (f" ({columns})" if columns else ""))
        except SQLAlchemyError as exc:
            log.warning("could not analyze %s: %s", table, str(exc).splitlines()[0])
