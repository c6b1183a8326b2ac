"""Insert and upsert statements built and compiled once, executed through the driver.

Why
    A sync writes the same few statements thousands of times. Building an ``INSERT .. ON CONFLICT
    DO UPDATE`` construct (its ``excluded`` proxies, coercions) and letting SQLAlchemy look up its
    compiled form and process every parameter of every row on each execution cost more than
    SQLite's own work for a batch of rows. Here each statement is built once per dialect, table
    and column set, compiled once, and run with the driver's ``executemany``; the values still
    pass through each column type's own bind processor (the same function SQLAlchemy would call),
    so what lands in the database is identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

def dialect_insert(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


_UPSERTS: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def upsert_statement(conn: Connection, table: Table, columns: Iterable[str]) -> Any:
    """``INSERT .. ON CONFLICT (primary key) DO UPDATE`` setting ``columns``, built once per
    dialect, table and column set and then reused: building it (``excluded`` proxies, coercions)
    costs more than executing it for a page of rows, and a reused construct also hits SQLAlchemy's
    compiled cache at once."""
    key = (conn.dialect.name, table.name, tuple(columns))
    stmt = _UPSERTS.get(key)
    if stmt is None:
        stmt = dialect_insert(conn, table)
        keys = {column.name for column in table.primary_key.columns}
        stmt = stmt.on_conflict_do_update(
            index_elements=[column.name for column in table.primary_key.columns],
            set_={name: stmt.excluded[name] for name in key[2] if name not in keys},
        )
        _UPSERTS[key] = stmt
    return stmt


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement compiled once for one dialect, with its parameters' order and the columns'
    bind processors: executing it costs the driver's ``executemany`` and one Python pass over the
    values, not SQLAlchemy's per-execution compilation lookup and per-row parameter processing."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool

    @classmethod
    def of(cls, conn: Connection, stmt: Any, table: Table, columns: Iterable[str]) -> Prepared:
        columns = list(columns)
        compiled = stmt.compile(dialect=conn.dialect, column_keys=columns)
        names = tuple(compiled.positiontup) if compiled.positional else tuple(columns)
        processors = tuple(table.c[name].type._cached_bind_processor(conn.dialect) for name in names)
        return cls(compiled.string, names, processors, bool(compiled.positional))

    def execute(self, conn: Connection, values: list[dict[str, Any]]) -> None:
        pairs = tuple(zip(self.names, self.processors, strict=True))
        rows: list[Any] = [
            tuple(value[name] if process is None else process(value[name]) for name, process in pairs)
            for value in values
        ]
        if not self.positional:
            rows = [dict(zip(self.names, row, strict=True)) for row in rows]
        conn.exec_driver_sql(self.sql, rows)


_PREPARED: dict[tuple[str, str, str, tuple[str, ...]], Prepared] = {}


def _prepared(conn: Connection, kind: str, table: Table, columns: tuple[str, ...]) -> Prepared:
    key = (conn.dialect.name, kind, table.name, columns)
    found = _PREPARED.get(key)
    if found is None:
        stmt = upsert_statement(conn, table, columns) if kind == "upsert" else table.insert()
        found = _PREPARED[key] = Prepared.of(conn, stmt, table, columns)
    return found


def upsert(conn: Connection, table: Table, values: list[dict[str, Any]]) -> None:
    """Insert ``values`` (dicts with the same keys), updating the rows whose primary key exists."""
    if values:
        _prepared(conn, "upsert", table, tuple(values[0])).execute(conn, values)


def insert(conn: Connection, table: Table, values: list[dict[str, Any]]) -> None:
    """Insert ``values`` (dicts with the same keys)."""
    if values:
        _prepared(conn, "insert", table, tuple(values[0])).execute(conn, values)
