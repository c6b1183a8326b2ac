"""The whole catalogue of a SQLite or PostgreSQL database as plain data, to compare two databases.

Everything that defines the schema is read. On SQLite: every ``sqlite_master`` entry, its SQL text
with whitespace and identifier quotes normalised (``ALTER TABLE ADD COLUMN`` and ``RENAME`` change
only those) and table constraints sorted, and the ``PRAGMA`` view of every table (columns with
their types, defaults and keys, indexes and their columns, foreign keys, STRICT / WITHOUT ROWID).
On PostgreSQL: the schema's columns, comments, relations and their options, indexes, constraints,
sequences, triggers, views, functions and types. The version table's rows are compared by the
tests themselves.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, text


def catalog(connection: Connection) -> dict[str, Any]:
    if connection.dialect.name == "sqlite":
        return sqlite_catalog(connection)
    return postgresql_catalog(connection)


_CONSTRAINT = re.compile(r"(CONSTRAINT|PRIMARY KEY|UNIQUE|FOREIGN KEY|CHECK)\b")


def _top_level_items(body: str) -> list[str]:
    items, depth, start = [], 0, 0
    for at, char in enumerate(body):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(body[start:at].strip())
            start = at + 1
    return [*items, body[start:].strip()]


def _normalised_sql(sql: str | None) -> str | None:
    """Whitespace and identifier quotes aside, and a table's constraints in name order: Alembic's
    batch mode rebuilds a SQLite table from a *set* of constraints, so even two databases built by
    the same migrations list them in either order (the columns' order is kept and compared)."""
    if sql is None:
        return None
    sql = re.sub(r"\s+", " ", re.sub(r'"(\w+)"', r"\1", sql)).strip()
    table = re.fullmatch(r"(CREATE TABLE \w+ \()(.*)\)", sql)
    if table is None:
        return sql
    items = _top_level_items(table.group(2))
    columns = [item for item in items if not _CONSTRAINT.match(item)]
    constraints = sorted(item for item in items if _CONSTRAINT.match(item))
    return f"{table.group(1)} {', '.join(columns + constraints)} )"


def _rows(connection: Connection, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in connection.execute(text(sql), params)]


def sqlite_catalog(connection: Connection) -> dict[str, Any]:
    master = _rows(connection, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
    result: dict[str, Any] = {
        "master": [(type_, name, table, _normalised_sql(sql)) for type_, name, table, sql in master],
        "settings": {
            pragma: connection.exec_driver_sql(f"PRAGMA {pragma}").scalar()
            for pragma in ("user_version", "application_id", "encoding", "auto_vacuum")
        },
        "table_list": sorted(_rows(connection, "SELECT name, type, ncol, wr, strict FROM pragma_table_list")),
    }
    for (name,) in _rows(connection, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        indexes = _rows(connection, "SELECT * FROM pragma_index_list(:t) ORDER BY name", t=name)
        result[f"table {name}"] = {
            "columns": _rows(connection, "SELECT * FROM pragma_table_xinfo(:t) ORDER BY cid", t=name),
            "indexes": [
                (row[1:], _rows(connection, "SELECT * FROM pragma_index_xinfo(:i) ORDER BY seqno", i=row[1]))
                for row in indexes
            ],
            "foreign_keys": _rows(connection, "SELECT * FROM pragma_foreign_key_list(:t) ORDER BY id, seq", t=name),
        }
    return result


_PG_QUERIES = {
    "columns": """
        SELECT table_name, column_name, ordinal_position, column_default, is_nullable, data_type, udt_name,
               character_maximum_length, numeric_precision, numeric_scale, datetime_precision,
               is_identity, identity_generation, is_generated, generation_expression, collation_name
        FROM information_schema.columns WHERE table_schema = current_schema()
        ORDER BY table_name, ordinal_position""",
    "comments": """
        SELECT c.relname, a.attname, col_description(c.oid, a.attnum), obj_description(c.oid, 'pg_class')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = current_schema() ORDER BY c.relname, a.attname""",
    "relations": """
        SELECT c.relname, c.relkind, c.relpersistence, c.reloptions, c.relhasindex, c.relhastriggers,
               c.relrowsecurity, am.amname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_am am ON am.oid = c.relam
        WHERE n.nspname = current_schema() ORDER BY c.relname""",
    "indexes": """
        SELECT tablename, indexname, replace(indexdef, current_schema() || '.', '')
        FROM pg_indexes WHERE schemaname = current_schema() ORDER BY tablename, indexname""",
    "constraints": """
        SELECT cl.relname, co.conname, co.contype, replace(pg_get_constraintdef(co.oid), current_schema() || '.', ''),
               co.condeferrable, co.condeferred, co.convalidated
        FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid JOIN pg_namespace n ON n.oid = co.connamespace
        WHERE n.nspname = current_schema() ORDER BY cl.relname, co.conname""",
    "sequences": """
        SELECT sequence_name, data_type, start_value, minimum_value, maximum_value, increment, cycle_option
        FROM information_schema.sequences WHERE sequence_schema = current_schema() ORDER BY sequence_name""",
    "sequence_owners": """
        SELECT s.relname, t.relname, a.attname
        FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
        JOIN pg_class t ON t.oid = d.refobjid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
        JOIN pg_namespace n ON n.oid = s.relnamespace
        WHERE n.nspname = current_schema() ORDER BY s.relname""",
    "triggers": """
        SELECT c.relname, t.tgname, t.tgisinternal, t.tgenabled,
               replace(pg_get_triggerdef(t.oid), current_schema() || '.', '')
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND NOT t.tgisinternal ORDER BY c.relname, t.tgname""",
    "views": """
        SELECT table_name, view_definition FROM information_schema.views
        WHERE table_schema = current_schema() ORDER BY table_name""",
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema() ORDER BY 1, 2""",
    "types": """
        SELECT t.typname, t.typtype FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = current_schema() ORDER BY 1""",
}


def postgresql_catalog(connection: Connection) -> dict[str, Any]:
    return {name: _rows(connection, sql) for name, sql in _PG_QUERIES.items()}
