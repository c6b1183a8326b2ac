"""``statements.select_in``: the rows for a list of values, however long, on SQLite (chunks of
``IN (...)``) and on PostgreSQL (one ``= ANY(array)`` statement)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from winback.model import Store
from winback.sync import tables
from winback.sync.statements import IN_CHUNK, select_in

SQL = "SELECT record_id, resource FROM deletions WHERE store_key = ? AND record_id IN ({})"
WHEN = datetime(2026, 5, 1, 12, tzinfo=UTC)


def _fill(store, count: int) -> str:
    key = store.upsert_store(Store(platform="fake", store_id="1", name="x", currency="EUR"))
    rows = [{"store_key": key, "resource": "orders", "record_id": f"c{i}",
             "deleted_at": WHEN + timedelta(seconds=i), "applied_at": WHEN} for i in range(count)]
    with store.writing() as conn:
        conn.execute(tables.deletions.insert(), rows)
    return key


def test_every_value_is_looked_up_in_one_statement_on_postgresql(sync_db) -> None:
    count = IN_CHUNK * 2 + 7
    key = _fill(sync_db, count)
    asked = [f"c{i}" for i in range(0, count, 2)] + ["missing"]
    statements_run: list[str] = []

    def note(conn, cursor, statement, *rest) -> None:
        if "deletions" in statement:
            statements_run.append(statement)

    event.listen(sync_db.engine, "before_cursor_execute", note)
    with sync_db.reading() as conn:
        found = select_in(conn, SQL, (key,), asked)
    assert sorted(found) == sorted((f"c{i}", "orders") for i in range(0, count, 2))
    expected_statements = 1 if sync_db.engine.dialect.name == "postgresql" else -(-len(asked) // IN_CHUNK)
    assert len(statements_run) == expected_statements
    with sync_db.reading() as conn:
        assert select_in(conn, SQL, (key,), []) == []
        assert select_in(conn, SQL, ("s:2",), ["c1"]) == []


def test_types_convert_the_leading_columns(sync_db) -> None:
    key = _fill(sync_db, 3)
    sql = "SELECT record_id, deleted_at, resource FROM deletions WHERE store_key = ? AND record_id IN ({})"
    with sync_db.reading() as conn:
        found = select_in(conn, sql, (key,), ["c1", "c2"], [None, tables.deletions.c.deleted_at.type])
    assert sorted(found) == [
        ("c1", WHEN + timedelta(seconds=1), "orders"), ("c2", WHEN + timedelta(seconds=2), "orders"),
    ]
