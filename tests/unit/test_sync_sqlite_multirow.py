"""SQLite's inserts and upserts run as multi-row statements: up to ``ROWS_PER_SQLITE_INSERT`` rows
per execution, the rest in powers of two, in the rows' order, under the connection's
bound-parameter limit, and with exactly what one statement per row would store."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event

from winback.sync import statements, tables


@pytest.fixture()
def engine(tmp_path: Path) -> Engine:
    made = create_engine(f"sqlite:///{tmp_path / 'multi.db'}")
    tables.metadata.create_all(made, tables=[tables.products])
    return made


def _product(n: int, title: str = "") -> dict[str, Any]:
    return {"store_key": "shop:1", "id": f"p{n:05d}", "title": title or f"Product {n}", "handle": None, "url": None,
            "image_url": None, "status": "active", "price": None, "currency": None, "created_at": None,
            "updated_at": None}


def _executions(engine: Engine) -> list[tuple[int, bool]]:
    """(parameters bound, executemany) of every INSERT the engine runs from now on."""
    seen: list[tuple[int, bool]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if statement.startswith("INSERT"):
            seen.append((len(parameters), many))

    return seen


def test_chunk_sizes_are_full_chunks_then_powers_of_two() -> None:
    assert list(statements._chunk_sizes(0, 512)) == []
    assert list(statements._chunk_sizes(1, 512)) == [1]
    assert list(statements._chunk_sizes(1300, 512)) == [512, 512, 256, 16, 4]
    assert list(statements._chunk_sizes(1300, 256)) == [256] * 5 + [16, 4]
    assert list(statements._chunk_sizes(511, 32)) == [32] * 15 + [16, 8, 4, 2, 1]
    for total in range(0, 1100, 7):
        sizes = list(statements._chunk_sizes(total, 64))
        assert sum(sizes) == total and all(size & (size - 1) == 0 and size <= 64 for size in sizes)


def test_1300_rows_are_seven_statements_not_1300_steps(engine: Engine) -> None:
    seen = _executions(engine)
    values = [_product(n) for n in range(1300)]
    with engine.begin() as conn:
        statements.insert(conn, tables.products, values)
        stored = conn.exec_driver_sql("SELECT id, title FROM products ORDER BY id").fetchall()
    width = len(values[0])
    assert statements.ROWS_PER_SQLITE_INSERT == 256
    assert seen == [(256 * width, False)] * 5 + [(16 * width, False), (4 * width, False)]
    assert stored == [(value["id"], value["title"]) for value in values]


def test_an_upsert_repeating_a_key_keeps_the_last_row_as_one_statement_per_row_would(engine: Engine) -> None:
    values = [_product(1, "first"), _product(2, "two"), _product(1, "second"), _product(3, "three")]
    with engine.begin() as conn:
        statements.upsert(conn, tables.products, [_product(3, "stored before")])
        statements.upsert(conn, tables.products, values)
        stored = conn.exec_driver_sql("SELECT id, title FROM products ORDER BY id").fetchall()
    assert stored == [("p00001", "second"), ("p00002", "two"), ("p00003", "three")]


def test_a_low_bound_parameter_limit_makes_smaller_statements(engine: Engine) -> None:
    """SQLite before 3.32 allows 999 bound parameters: 11 columns × 64 rows fits, × 128 does not."""
    seen = _executions(engine)
    values = [_product(n) for n in range(200)]
    with engine.begin() as conn:
        conn.connection.dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)  # type: ignore[union-attr]
        statements.insert(conn, tables.products, values)
        count = conn.exec_driver_sql("SELECT count(*) FROM products").scalar()
    width = len(values[0])
    assert [bound for bound, _ in seen] == [64 * width, 64 * width, 64 * width, 8 * width]
    assert all(bound <= 999 for bound, _ in seen) and count == 200


def test_a_failing_row_fails_its_statement_and_the_transaction_keeps_nothing(engine: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    values = [_product(n) for n in range(600)]
    values[550]["title"] = None  # NOT NULL
    with pytest.raises(IntegrityError), engine.begin() as conn:
        statements.insert(conn, tables.products, values)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM products").scalar() == 0
