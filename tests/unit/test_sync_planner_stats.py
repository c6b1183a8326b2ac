"""PostgreSQL planner statistics kept up while a sync grows the tables (winback.sync.planner_stats)."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest
from sqlalchemy import create_engine, text

from tests.unit.test_sync_support import KEY, FakeConnector, customer, order
from winback.connectors.base import Page, Resource
from winback.sync import LocalStore, open_store
from winback.sync.planner_stats import MIN_ROWS, PlannerStats


def _recording(stored: float) -> tuple[PlannerStats, list[str]]:
    """A PlannerStats that believes it talks to PostgreSQL, with a table of ``stored`` rows, and
    records the tables it would analyze."""
    stats = PlannerStats(create_engine("sqlite://"))
    stats.enabled = True
    analyzed: list[str] = []
    stats._stored_rows = lambda table: stored  # type: ignore[method-assign]
    stats._analyze = lambda table, columns=None: analyzed.append(table)  # type: ignore[method-assign]
    return stats, analyzed


def test_a_growing_table_is_analyzed_each_time_it_doubles() -> None:
    stats, analyzed = _recording(stored=0)
    when = []
    for batch in range(1, 41):
        stats.committed(Resource.ORDERS, 60)
        stats.settle()
        if analyzed:
            when.append(batch * 60)
            analyzed.clear()
    assert when == [120, 240, 480, 960, 1920]


def test_a_few_records_into_a_large_table_analyze_nothing() -> None:
    stats, analyzed = _recording(stored=50_000)
    for _ in range(20):
        stats.committed(Resource.ORDERS, 100)
        stats.committed(Resource.CUSTOMERS, 100)
    stats.settle()
    assert analyzed == []
    stats.committed(Resource.CUSTOMERS, 50_000)
    stats.settle()
    assert analyzed == ["customers"]


def test_a_commit_does_not_wait_for_its_analyze_but_the_recompute_and_close_do() -> None:
    """The writer goes on with the next batch while the table is analyzed; the recomputation
    starts only once every statistic is gathered, and closing the store waits for them too."""
    stats, analyzed = _recording(stored=0)
    release = threading.Event()
    started = threading.Event()

    def slow(table: str, columns: str | None = None) -> None:
        started.set()
        assert release.wait(5)
        analyzed.append(table)

    stats._analyze = slow  # type: ignore[method-assign]
    stats.committed(Resource.ORDERS, 500)  # due: analyzed beside
    assert started.wait(5) and analyzed == []  # committed() returned while it runs
    stats.committed(Resource.ORDERS, 10)  # not due
    waiting = threading.Thread(target=stats.before_recompute)
    waiting.start()
    waiting.join(0.2)
    assert waiting.is_alive() and analyzed == []  # the recompute waits for the orders' statistics
    release.set()
    waiting.join(5)
    assert analyzed == ["orders", "derived_pending"]
    stats.committed(Resource.ORDERS, 2000)
    stats.close()
    assert analyzed == ["orders", "derived_pending", "orders"]
    assert stats._analyzer is None


def test_a_forked_child_neither_waits_for_its_parents_analyze_nor_uses_its_thread() -> None:
    """After a fork the child holds the parent's executor and futures, but not its thread: it
    starts a thread of its own, and never waits for a future no thread of its will finish."""
    stats, analyzed = _recording(stored=0)
    stats.committed(Resource.ORDERS, 500)
    stats.settle()
    assert analyzed == ["orders"]
    parents = stats._analyzer
    stats._analyzer_pid = -1  # as a forked child sees it
    stats._running.append(Future())  # the parent's, still running: never finished in the child
    stats.settle()  # returns
    stats.committed(Resource.ORDERS, 1000)
    stats.settle()
    assert analyzed == ["orders", "orders"] and stats._analyzer is not parents
    stats.close()
    parents.shutdown()


def test_sqlite_is_left_alone(tmp_path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        assert store.planner_stats.enabled is False
    finally:
        store.close()


def _explain(conn, sql: str) -> str:
    return "\n".join(conn.exec_driver_sql(f"EXPLAIN {sql}").scalars())


def _last_analyze(conn, table: str):
    return conn.execute(
        text("SELECT last_analyze FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = :t"),
        {"t": table},
    ).scalar()


@pytest.mark.integration
async def test_lookups_by_id_use_the_primary_key_once_orders_are_committed(sync_postgres_url) -> None:
    """The foreign-key check of every order line runs ``store_key = $1 AND id = $2`` on orders
    with a plan PostgreSQL keeps for the session. Planned while the table was empty, that plan
    walked the store's orders through another ``(store_key, ...)`` index: the ANALYZE after the
    commit must replace it with a probe of the primary key."""
    store = open_store(sync_postgres_url)
    try:
        store.upsert_store(await FakeConnector().store_info())
        with store.engine.connect() as conn:
            conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            conn.exec_driver_sql("PREPARE by_id AS SELECT 1 FROM orders x WHERE store_key = $1 AND id = $2")
            _explain(conn, "EXECUTE by_id('k', 'o1')")  # the generic plan, made while orders is empty
            conn.commit()
            orders = [order(f"o{n:04d}", email=f"b{n % 40}@example.com", lines=2) for n in range(3 * MIN_ROWS)]
            store.commit_pages(KEY, Resource.ORDERS, [Page(records=orders)], None, defer_derived=True)
            store.planner_stats.settle()  # analyzed beside the next batch, which this test has not
            plan = _explain(conn, "EXECUTE by_id('k', 'o1')")
            analyzed = _last_analyze(conn, "orders")
        conditions = [line for line in plan.splitlines() if "Index Cond" in line]
        assert "pk_orders" in plan and "id = $2" in conditions[0], plan
        assert analyzed is not None
    finally:
        store.close()


@pytest.mark.integration
async def test_the_recomputation_plans_with_what_is_pending(sync_postgres_url) -> None:
    store: LocalStore = open_store(sync_postgres_url)
    try:
        store.upsert_store(await FakeConnector().store_info())
        people = [customer(f"c{n}", email=f"c{n}@example.com") for n in range(50)]
        orders = [order(f"o{n}", customer_id=f"c{n % 50}", total="5.00") for n in range(150)]
        store.commit_pages(KEY, Resource.CUSTOMERS, [Page(records=people)], None, defer_derived=True)
        store.commit_pages(KEY, Resource.ORDERS, [Page(records=orders)], None, defer_derived=True)
        store.recompute_derived(KEY)
        with store.engine.connect() as conn:
            analyzed = _last_analyze(conn, "derived_pending")
        spent = {row["id"]: row["real_orders_count"] for row in store.iter_rows(KEY, "customers")}
        assert analyzed is not None
        assert spent == {f"c{n}": 3 for n in range(50)}
    finally:
        store.close()
