"""Where the local store lives and how it is opened: URLs, the SQLite file and its settings.

:func:`open_store` opens a SQLite file or PostgreSQL database (creating and migrating it as needed)
and returns a :class:`~winback.sync.store.LocalStore`. A new SQLite file is created private (mode
0600) before anything else touches it, and every SQLite connection runs in WAL mode with a busy
timeout, writers taking the write lock up front.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from winback import errors
from winback.sync.migrate import current_revision, upgrade_to_head
from winback.sync.store import LocalStore

BUSY_TIMEOUT_MS = 30_000
WAL_CHECKPOINT_PAGES = 10_000
"""How many pages SQLite's write-ahead log may hold before a commit copies them into the database
file (SQLite's default is 1,000, about 4 MB). Why: a sync's batches rewrite the same index pages
(emails, customers and products are spread over their indexes), and each checkpoint copies every
page the log holds, so at 1,000 a 20k-order first sync ran a checkpoint every second commit and
wrote the busiest pages to the file again each time. At 10,000 (about 40 MB of log at 4 KiB
pages) such a sync checkpoints once or twice: about 10 MB less written per 20k orders and a few
percent less of the store's CPU (README, "Performance"). The log file is deleted when the last
connection closes; a long-lived process (``winback serve``) keeps it at its largest size."""
_encode_json = json.JSONEncoder().encode


def _json_text(value: Any) -> str:
    """The text JSON columns store (SQLite's text, PostgreSQL's ``json``): exactly
    ``json.dumps(value)`` (an encoder with the same defaults), without its per-call argument
    checks, and ``[]`` (most orders' discount codes, most customers' tags) without the encoder at
    all."""
    if value.__class__ is list and not value:
        return "[]"
    return _encode_json(value)


def default_database_path() -> Path:
    """``$WINBACK_HOME/winback.db``, else ``$XDG_DATA_HOME/winback/winback.db`` (``~/.local/share``)."""
    home = os.environ.get("WINBACK_HOME")
    if home:
        return Path(home).expanduser() / "winback.db"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "winback" / "winback.db"


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
        parsed,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        json_serializer=_json_text,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide where transactions begin (see the "begin" hook).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front so a read-then-write transaction cannot fail with
        # SQLITE_BUSY half-way; readers stay deferred and never block the writer under WAL.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("winback_write") else "BEGIN")

    return engine


def database_url(url: str | None = None, *, default_path: Path | str | None = None) -> str:
    """The SQLAlchemy URL :func:`open_store` opens for ``url`` (see there)."""
    if url is None:
        url = str(default_path if default_path is not None else default_database_path())
    if "://" not in url:
        url = f"sqlite:///{Path(url).expanduser()}"
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL (``None`` for PostgreSQL and in-memory databases)."""
    if not url.startswith("sqlite"):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def shown_url(url: str) -> str:
    """The URL as it may be printed: any password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def open_store(
    url: str | None = None, *, default_path: Path | str | None = None, create: bool = True
) -> LocalStore:
    """Open the local store, creating and upgrading its schema as needed.

    ``url`` is a SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://user@host/db``;
    ``postgresql://`` and ``postgres://`` mean psycopg 3) or a plain file path for SQLite. ``None``
    opens ``default_path`` (by default :func:`default_database_path`). A new SQLite file is created
    with mode 0600 before anything else touches it: it holds customers' personal data.

    ``create=False`` is for commands that only read: a SQLite file that does not exist yet, or a
    PostgreSQL database without winback's tables, raises :class:`~winback.errors.LocalStoreMissingError`
    instead of being created.
    """
    url = database_url(url, default_path=default_path)
    path = sqlite_file(url)
    if not create and path is not None and not path.exists():
        raise errors.LocalStoreMissingError(f"no local store at {path} yet: run `winback sync` first")
    try:
        if url.startswith("sqlite"):
            engine = _sqlite_engine(url)
        elif url.startswith("postgresql"):
            engine = create_engine(url, pool_pre_ping=True, json_serializer=_json_text)
        else:
            raise errors.SyncError(
                f"unsupported database URL scheme {url.split(':', 1)[0]!r}: use sqlite:///path or "
                "postgresql+psycopg://user@host/database"
            )
        if not create and path is None:
            with engine.connect() as conn:
                if current_revision(conn) is None:
                    engine.dispose()
                    raise errors.LocalStoreMissingError(
                        f"no winback tables in {shown_url(url)} yet: run `winback sync` first"
                    )
        upgrade_to_head(engine)
    except SQLAlchemyError as exc:
        raise errors.SyncError(
            f"could not open the local store at {shown_url(url)}: {str(exc).splitlines()[0]}"
        ) from exc
    return LocalStore(engine)
