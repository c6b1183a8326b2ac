"""Can this database be used? Answered without creating, migrating or writing anything.

``winback check`` must not create a database as a side effect, yet must say whether the first
``winback sync`` will be able to write it: a SQLite file in a folder this user cannot write, a
read-only file, a PostgreSQL replica or a user without the right to create tables all fail there.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from winback.sync.migrate import current_revision, head_revision
from winback.sync.database import BUSY_TIMEOUT_MS, database_url, shown_url, sqlite_file


@dataclass(frozen=True, slots=True)
class StoreProbe:
    """What :func:`probe_store` found."""

    url: str
    """The database as it may be printed (password hidden)."""
    exists: bool
    """A SQLite file exists, or a PostgreSQL database answers."""
    revision: str | None
    """winback's schema revision in it; ``None`` when it has no winback tables yet."""
    head: str
    problem: str | None = None
    """Why winback could not use it, in words a merchant can act on; ``None`` when usable."""

    @property
    def ok(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        if self.problem is not None:
            return f"{self.url}: {self.problem}"
        if not self.exists or self.revision is None:
            return f"{self.url}: writable; winback's tables are created at the first sync"
        if self.revision != self.head:
            return f"{self.url}: writable; schema {self.revision} is upgraded to {self.head} at the next sync"
        return f"{self.url}: writable, schema up to date"


def _first_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe_sqlite(shown: str, path: Path) -> StoreProbe:
    head = head_revision()
    if not path.exists():
        ancestor = _first_existing(path.parent)
        if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
            return StoreProbe(shown, False, None, head, f"cannot create it: {ancestor} is not a writable folder")
        return StoreProbe(shown, False, None, head)
    if not os.access(path, os.R_OK | os.W_OK):
        return StoreProbe(shown, True, None, head, "the file is not readable and writable by this user")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return StoreProbe(shown, True, None, head, f"{path.parent} is not writable (SQLite keeps its journal there)")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")  # takes the write lock, writes nothing
            conn.execute("ROLLBACK")
        finally:
            conn.close()
        engine = create_engine(f"sqlite:///{path}")
        try:
            with engine.connect() as connection:
                revision = current_revision(connection)
        finally:
            engine.dispose()
    except (sqlite3.Error, SQLAlchemyError) as exc:
        return StoreProbe(shown, True, None, head, f"cannot be written: {str(exc).splitlines()[0]}")
    return StoreProbe(shown, True, revision, head)


def _probe_postgresql(shown: str, url: str) -> StoreProbe:
    head = head_revision()
    engine = create_engine(url, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            revision = current_revision(conn)
            read_only = conn.execute(text("SELECT current_setting('transaction_read_only')")).scalar_one() == "on"
            if revision is None:
                allowed = conn.execute(text("SELECT has_schema_privilege(current_schema(), 'CREATE')")).scalar()
                needed = "the right to create tables in its schema"
            else:
                allowed = conn.execute(text("SELECT has_table_privilege('stores', 'INSERT,UPDATE,DELETE')")).scalar()
                needed = "the right to write winback's tables"
    except SQLAlchemyError as exc:
        return StoreProbe(shown, False, None, head, f"cannot connect: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    if read_only:
        return StoreProbe(shown, True, revision, head, "the server is read-only (a replica?)")
    if not allowed:
        return StoreProbe(shown, True, revision, head, f"the user lacks {needed}")
    return StoreProbe(shown, True, revision, head)


def probe_store(url: str | None = None) -> StoreProbe:
    """Whether winback could open and write the database at ``url`` (as :func:`open_store` takes it)."""
    full = database_url(url)
    shown = shown_url(full)
    path = sqlite_file(full)
    if path is not None:
        return _probe_sqlite(shown, path)
    if full.startswith("postgresql"):
        return _probe_postgresql(shown, full)
    return StoreProbe(shown, False, None, head_revision(), "unsupported database URL: use sqlite:///path or postgresql://…")
