"""Insert and upsert statements built and compiled once, executed through the driver.

Why
    A sync writes the same few statements thousands of times. Building an ``INSERT .. ON CONFLICT
    DO UPDATE`` construct (its ``excluded`` proxies, coercions) and letting SQLAlchemy look up its
    compiled form and process every parameter of every row on each execution cost more than
    SQLite's own work for a batch of rows. Here each statement is built once per dialect, table
    and column set, compiled once, and run through the driver as multi-row ``INSERT`` statements
    (:class:`Prepared` on SQLite, :class:`MultiRow` on PostgreSQL); the values still pass through
    each column type's own bind processor (the same function SQLAlchemy would call), so what lands
    in the database is identical.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import Boolean, Connection, Dialect, Table
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


ROWS_PER_SQLITE_INSERT = 256
"""Rows per multi-row ``INSERT`` on SQLite (27 columns × 256 stays far under the 32,766 bound
parameters SQLite allows by default since 3.32). Why not more: SQLite keeps each distinct
statement compiled (the driver's cache), and one of 512 rows held about twice the memory: a live
Ecwid sync peaked at 134 MB with 512, 127 MB with 256 and 123 MB with 128 at 20k orders (142, 134
and 136 MB at 60k), in the same wall time."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement compiled once for SQLite, with a function turning one row's dict into the
    driver's parameters, run as ``INSERT .. VALUES (..), (..), ..`` with up to
    :data:`ROWS_PER_SQLITE_INSERT` rows per execution.

    Why not the driver's ``executemany``: it binds and steps each row in turn, giving up the GIL
    for every step and waiting to take it back, so while the event loop's thread runs Python (a
    page being decoded) the store's thread advanced one row per handover. Inserting the 20k orders
    and 32k lines of a first sync took 0.29 s alone and 121 s beside a thread busy in Python;
    statements of 256 rows take 0.31 s alone and 1.7 s beside it, their rows stepped in one
    stretch without the GIL. In a live sync the store's commits took twice their CPU in wall time,
    and the two threads never ran at once (pinned to one core, the sync took as long). The values
    pass through each column type's own bind processor, as SQLAlchemy's would, so what is stored
    is identical; a remainder of fewer rows is split into powers of two, so every statement's text
    is one of a few, compiled once per connection."""

    statement: Any
    """The construct compiled (SQLAlchemy's own ``conn.execute(statement, values)`` stores the same)."""
    row: Callable[[dict[str, Any]], Any]
    names: tuple[str, ...]
    """The columns in the order of the parameters :attr:`row` makes (positional drivers)."""
    head: str
    """The compiled statement up to ``VALUES``; then the row's ``(?, ..)`` :attr:`group`, then
    :attr:`tail` (``ON CONFLICT ..``)."""
    group: str
    tail: str

    @classmethod
    def of(cls, conn: Connection, stmt: Any, table: Table, columns: Iterable[str]) -> Prepared:
        columns = list(columns)
        compiled = stmt.compile(dialect=conn.dialect, column_keys=columns)
        if not compiled.positional:
            raise ValueError(f"{conn.dialect.name}: positional parameters expected")
        names = tuple(compiled.positiontup)
        sql = compiled.string
        head, group, tail = _values_group(sql)
        if group.count("?") != len(names) or sql.count("?") != len(names):
            raise ValueError(f"cannot batch {sql!r}: unexpected VALUES")
        return cls(stmt, _row_function(conn.dialect, table, names, True), names, head, group, tail)

    def execute(self, conn: Connection, values: list[dict[str, Any]]) -> None:
        self.execute_rows(conn, list(map(self.row, values)))

    def execute_rows(self, conn: Connection, rows: list[Any]) -> None:
        """Execute for ``rows`` that are already the driver's parameters, as :attr:`row` makes them
        (see :mod:`winback.sync.params`, which builds them from the model without a dict), in their
        order."""
        start = 0
        for count in _chunk_sizes(len(rows), _rows_per_insert(conn, len(self.names))):
            params = tuple(chain.from_iterable(rows[start : start + count]))
            conn.exec_driver_sql(_sqlite_multi_sql(self.head, self.group, self.tail, count), params)
            start += count


def _values_group(sql: str) -> tuple[str, str, str]:
    """``sql`` cut around its one ``VALUES (..)`` group: before it, the group, after it."""
    start = sql.index(" VALUES (") + len(" VALUES ")
    conflict = sql.find(" ON CONFLICT ", start)
    end = sql.rindex(")", start, len(sql) if conflict < 0 else conflict) + 1
    return sql[:start], sql[start:end], sql[end:]


def _rows_per_insert(conn: Connection, width: int) -> int:
    """:data:`ROWS_PER_SQLITE_INSERT`, or the largest power of two of rows of ``width`` parameters
    under the connection's bound-parameter limit when that is lower (999 before SQLite 3.32)."""
    limit = conn.connection.dbapi_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)  # type: ignore[union-attr]
    most = ROWS_PER_SQLITE_INSERT
    while most > 1 and most * width > limit:
        most //= 2
    return most


def _chunk_sizes(total: int, most: int) -> Iterator[int]:
    """``total`` as full chunks of ``most`` (a power of two), then the powers of two of the rest."""
    for _ in range(total // most):
        yield most
    rest = total % most
    size = most
    while rest:
        size //= 2
        if rest >= size:
            yield size
            rest -= size


@lru_cache(maxsize=64)
def _sqlite_multi_sql(head: str, group: str, tail: str, count: int) -> str:
    return head + ", ".join([group] * count) + tail


ROWS_PER_INSERT = 500
"""Rows per multi-row ``INSERT`` on PostgreSQL (26 columns × 500 stays far under its 65,535
bound parameters)."""
_NAMED = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True, slots=True)
class MultiRow:
    """A statement compiled once for PostgreSQL, run as ``INSERT .. VALUES (..), (..), ..`` with
    up to :data:`ROWS_PER_INSERT` rows per execution instead of one execution per row.

    Why: the server parses, plans and executes each of ``executemany``'s rows as a statement of
    its own (tens of microseconds each, most of PostgreSQL's time in a sync); one statement per
    500 rows pays that once. The values pass through the same bind processors as
    :class:`Prepared`'s, so what is stored is identical. The rows of one call must not repeat a
    primary key (``ON CONFLICT DO UPDATE`` cannot touch a row twice in one statement); the
    store's writers deduplicate them first."""

    statement: Any
    head: str
    group: str
    tail: str
    row: Callable[[dict[str, Any]], Any]

    @classmethod
    def of(cls, conn: Connection, stmt: Any, table: Table, columns: Iterable[str]) -> MultiRow:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(columns))
        sql = compiled.string
        head, group, tail = _values_group(sql)
        names = tuple(_NAMED.findall(group))
        if not names or len(names) != sql.count("%") or len(names) != len(_NAMED.findall(sql)):
            raise ValueError(f"cannot batch {sql!r}: unexpected VALUES")
        return cls(stmt, head, _NAMED.sub("%s", group), tail, _row_function(conn.dialect, table, names, True))

    def execute(self, conn: Connection, values: list[dict[str, Any]]) -> None:
        row = self.row
        with _batch_cursor(conn) as cursor:
            for first in range(0, len(values), ROWS_PER_INSERT):
                chunk = values[first : first + ROWS_PER_INSERT]
                cursor.execute(self._sql(len(chunk)), [param for value in chunk for param in row(value)])

    def _sql(self, count: int) -> str:
        return _multi_sql(self.head, self.group, self.tail, count)


def _batch_cursor(conn: Connection) -> Any:
    """A psycopg ``RawCursor`` on the connection, in the caller's transaction.

    Why raw: a plain psycopg cursor rewrites a query's ``%s`` placeholders into ``$n`` on every
    execution and caches that only for queries of at most 50 parameters, so these statements of
    thousands, run again and again, cost more client CPU than their rows' values. A raw cursor
    takes PostgreSQL's own ``$n`` placeholders as they are (:func:`_multi_sql` writes them)."""
    import psycopg

    return psycopg.RawCursor(conn.connection.dbapi_connection)


@lru_cache(maxsize=32)
def _multi_sql(head: str, group: str, tail: str, count: int) -> str:
    """``head`` + ``count`` copies of the row ``group`` + ``tail``, the groups' ``%s`` numbered
    as PostgreSQL's ``$1, $2, ...`` across the statement."""
    pieces = group.split("%s")
    width = len(pieces) - 1
    groups = []
    for index in range(count):
        numbers = [f"${index * width + position + 1}" for position in range(width)] + [""]
        groups.append("".join(piece + number for piece, number in zip(pieces, numbers, strict=True)))
    return head + ", ".join(groups) + tail


def _row_function(dialect: Dialect, table: Table, names: tuple[str, ...], positional: bool) -> Callable[..., Any]:
    """``row(value)``: the parameters for one row dict, each column's value through its type's
    bind processor (the function SQLAlchemy itself would call, so what is stored is the same).

    Written out as the source of one function and compiled (as :mod:`dataclasses` does for
    ``__init__``): a loop over the columns per row cost several times more than the work. A
    processor is skipped for None when it maps None to None (all but JSON's, which writes
    ``null``), and for ``True``/``False`` when it is Boolean's (both drivers bind a bool as
    exactly what the processor returns for it: ``1``/``0`` on SQLite, a boolean on PostgreSQL).
    """
    scope: dict[str, Any] = {}
    items = []
    for position, name in enumerate(names):
        value = f"v[{name!r}]"
        process = table.c[name].type._cached_bind_processor(dialect)
        if process is not None:
            scope[f"p{position}"] = process
            if isinstance(table.c[name].type, Boolean):
                value = f"(x if (x := {value}) is True or x is False else p{position}(x))"
            elif process(None) is not None:
                value = f"p{position}({value})"
            else:
                value = f"(None if (x := {value}) is None else p{position}(x))"
        items.append(value if positional else f"{name!r}: {value}")
    body = f"({', '.join(items)},)" if positional else f"{{{', '.join(items)}}}"
    exec(f"def row(v):\n    return {body}\n", scope)  # noqa: S102 - source built from the table's column names
    return scope["row"]  # type: ignore[no-any-return]


def bound_row(conn: Connection, table: Table, names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """``row(value)``: one row dict's values for the columns ``names``, in that order, each through
    its type's bind processor, as this module's statements bind them (for ``COPY``, see
    :mod:`winback.sync.pg_copy`)."""
    return _row_function(conn.dialect, table, names, True)  # type: ignore[no-any-return]


_PREPARED: dict[tuple[str, str, str, tuple[str, ...]], Prepared | MultiRow] = {}


def prepared(conn: Connection, kind: str, table: Table, columns: tuple[str, ...]) -> Prepared | MultiRow:
    """The statement :func:`upsert` (``kind`` "upsert"), :func:`insert` ("insert") or
    :func:`insert_new` ("insert-new") runs for rows with ``columns``, prepared once."""
    key = (conn.dialect.name, kind, table.name, columns)
    found = _PREPARED.get(key)
    if found is None:
        if kind == "upsert":
            stmt = upsert_statement(conn, table, columns)
        elif kind == "insert-new":
            stmt = dialect_insert(conn, table).on_conflict_do_nothing()
        else:
            stmt = table.insert()
        of = MultiRow.of if conn.dialect.name == "postgresql" else Prepared.of
        found = _PREPARED[key] = of(conn, stmt, table, columns)
    return found


def upsert(conn: Connection, table: Table, values: list[dict[str, Any]]) -> None:
    """Insert ``values`` (dicts with the same keys), updating the rows whose primary key exists."""
    if values:
        prepared(conn, "upsert", table, tuple(values[0])).execute(conn, values)


def insert(conn: Connection, table: Table, values: list[dict[str, Any]]) -> None:
    """Insert ``values`` (dicts with the same keys)."""
    if values:
        prepared(conn, "insert", table, tuple(values[0])).execute(conn, values)


def insert_new(conn: Connection, table: Table, values: list[dict[str, Any]]) -> None:
    """Insert those of ``values`` (dicts with the same keys) whose primary key is not stored yet."""
    if values:
        prepared(conn, "insert-new", table, tuple(values[0])).execute(conn, values)


IN_CHUNK = 500
"""Values per ``IN`` list: well under every driver's bound-parameter limit."""


def select_in(
    conn: Connection, sql: str, params: Sequence[Any], values: Collection[Any], types: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """The rows ``sql`` returns for ``values``, run through the driver ``IN_CHUNK`` values at a time.

    ``sql`` writes its parameters as ``?`` (``%s`` for PostgreSQL's driver is substituted) and
    its one list as ``IN ({})``; ``params`` are bound before each chunk's values. ``types`` (one
    per leading column, None for none) convert what the driver returns as SQLAlchemy would for
    columns of those types; the other values come back as the driver gives them.

    Why not SQLAlchemy's expanding parameters: rendering and processing them cost a few
    microseconds per value on every execution, more than the database's index probes for them,
    and a sync looks up every record of every batch this way.

    On PostgreSQL the list travels as one array, ``= ANY(%s)``, in one statement whatever its
    length: each chunk was a round trip of its own, which the batch's transaction waits for (a
    first 20k Ecwid sync sent 46 lookups of stored orders where it now sends 8, 22 of stored
    customers where it sends 5, and 18 of redacted customers where it sends 8).
    """
    values = list(values)
    if conn.dialect.name == "postgresql":
        return fetch(conn, sql.replace("IN ({})", "= ANY(?)"), (*params, values), types) if values else []
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(values), IN_CHUNK):
        chunk = values[start : start + IN_CHUNK]
        found += fetch(conn, sql.format(_marks(len(chunk))), (*params, *chunk), types)
    return found


def fetch(conn: Connection, sql: str, params: Sequence[Any], types: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (parameters written ``?``; ``types`` as for :func:`select_in`)."""
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    result = conn.exec_driver_sql(sql, tuple(params))
    process = [
        None if type_ is None else type_._cached_result_processor(conn.dialect, column[1])
        for type_, column in zip(types, result.cursor.description or ())
    ]
    rows = [tuple(row) for row in result.fetchall()]
    if not any(process):
        return rows
    return [
        tuple(value if convert is None else convert(value) for value, convert in zip(row, process))
        + tuple(row[len(process):])
        for row in rows
    ]


@lru_cache(maxsize=64)
def _marks(count: int) -> str:
    return ", ".join(["?"] * count)
