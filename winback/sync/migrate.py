"""Bring a database to the newest schema; called by :func:`winback.sync.database.open_store`.

The migration scripts ship inside the package (``winback/sync/migrations``), so upgrading winback
and running any command upgrades the database: there is no manual step.

What the caller may rely on:

- **Up to date costs a few catalogue reads and no Alembic.** :func:`upgrade_to_head` first reads
  the version table, the table list and their columns with plain SQL; when the schema is at head
  and complete it returns without touching Alembic (whose ``context``/``op`` proxies are
  process-global). Alembic is not even imported until a migration replays: the shipped head is
  :data:`~winback.sync.fresh_schema.SCHEMA_REVISION` (a test holds the two together), and a new
  database is made without it. Importing it (Mako comes with it) cost a live 20k-order sync about
  8 MB of its peak memory, and 0.17 s of start-up, in every process that opens a store.
- **Never two migrations at once.** In one process a module lock serialises every Alembic run
  (its proxies are not thread-safe: two threads migrating two SQLite files at once corrupted
  both). Across processes the migration's own transaction takes the database's write lock first:
  ``BEGIN IMMEDIATE`` on SQLite, ``pg_advisory_xact_lock`` on PostgreSQL.
- **All or nothing.** Every pending migration runs inside that one transaction (both databases
  have transactional DDL), so a process killed at any point leaves the schema exactly as it was
  before, and the next open simply runs the migrations again.
- **A new database in one step.** A database with none of winback's tables is created from the
  tables module and stamped at head (Alembic's from-scratch recipe, see
  :mod:`winback.sync.fresh_schema`), in the same locked transaction, instead of replaying every
  migration; the result is the same catalogue (tested on SQLite and PostgreSQL).
- **Self-repair.** A database damaged by an older winback (a stray ``_alembic_tmp_*`` table left by
  an interrupted batch migration, tables missing under a recorded revision) is repaired on open:
  stray copies are dropped, a damaged schema that holds no rows yet is rebuilt from scratch, and
  tables missing beside real data are created. A table that lacks columns is reported, not
  guessed at.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, column, func, inspect, select, table, text

from winback import errors
from winback.sync.fresh_schema import SCHEMA_REVISION, create_schema, is_brand_new
from winback.sync.tables import metadata

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

SCRIPT_LOCATION = Path(__file__).with_name("migrations")
SHIPPED_SCRIPTS = SCRIPT_LOCATION
"""The scripts this package ships, whose head is :data:`SCHEMA_REVISION`. Tests point
:data:`SCRIPT_LOCATION` elsewhere (a later release's extra script); that head is read from the scripts."""
VERSION_TABLE = "winback_alembic_version"
STRAY_PREFIX = "_alembic_tmp_"
_PG_LOCK_ID = 0x77696E6261636B  # "winback"

_ALEMBIC_LOCK = threading.Lock()
"""Held around every use of Alembic's process-global migration context."""

_scripts: dict[Path, ScriptDirectory] = {}
_heads: dict[Path, str] = {}


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic announces its context at INFO on every run; we log one line when something changes."""
    alembic_log = logging.getLogger("alembic")
    previous = alembic_log.level
    if not log.isEnabledFor(logging.DEBUG):
        alembic_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        alembic_log.setLevel(previous)


def _load_alembic() -> None:
    """Import Alembic on first use (see the module's docstring), quietly: it announces its plugins
    at INFO."""
    with _quiet_alembic():
        import alembic.command  # noqa: F401
        import alembic.config  # noqa: F401
        import alembic.script  # noqa: F401


def alembic_config(connection: Connection | None = None) -> Config:
    _load_alembic()
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _script_directory() -> ScriptDirectory:
    """The scripts in :data:`SCRIPT_LOCATION`, read once per location (a read executes every one)."""
    location = SCRIPT_LOCATION
    if location not in _scripts:
        config = alembic_config()
        from alembic.script import ScriptDirectory  # loaded by alembic_config

        with _ALEMBIC_LOCK:
            _scripts[location] = ScriptDirectory.from_config(config)
    return _scripts[location]


def head_revision() -> str:
    """The newest revision in :data:`SCRIPT_LOCATION`: :data:`SCHEMA_REVISION` for the shipped
    scripts (no Alembic), else :func:`scripted_head`."""
    if SCRIPT_LOCATION == SHIPPED_SCRIPTS:
        return SCHEMA_REVISION
    return scripted_head()


def scripted_head() -> str:
    """The newest revision of the scripts in :data:`SCRIPT_LOCATION`, as Alembic reads them
    (once per location)."""
    location = SCRIPT_LOCATION
    if location not in _heads:
        script = _script_directory()
        with _ALEMBIC_LOCK:
            head = script.get_current_head()
        if head is None:
            raise errors.SyncError(f"no migration scripts found in {location}: reinstall winback")
        _heads[location] = head
    return _heads[location]


def current_revision(connection: Connection) -> str | None:
    """The revision recorded in the database, read with plain SQL (``None``: never migrated)."""
    if VERSION_TABLE not in inspect(connection).get_table_names():
        return None
    version = table(VERSION_TABLE, column("version_num"))
    return connection.execute(select(version.c.version_num)).scalars().first()


def _schema_problems(connection: Connection, head: str) -> list[str]:
    """Why the database is not simply "at head": empty when nothing needs doing."""
    names = set(inspect(connection).get_table_names())
    problems = []
    revision = current_revision(connection) if VERSION_TABLE in names else None
    if revision != head:
        problems.append(f"schema at {revision or 'nothing'}, head is {head}")
    missing = sorted(set(metadata.tables) - names)
    if missing:
        problems.append(f"missing tables {', '.join(missing)}")
    stray = sorted(name for name in names if name.startswith(STRAY_PREFIX))
    if stray:
        problems.append(f"stray tables {', '.join(stray)}")
    if not problems:
        inspector = inspect(connection)
        for name, spec in metadata.tables.items():
            if set(spec.columns.keys()) - {column["name"] for column in inspector.get_columns(name)}:
                problems.append(f"table {name} lacks columns")
    return problems


def upgrade_to_head(engine: Engine) -> None:
    """Make the database behind ``engine`` current; cheap and Alembic-free when it already is."""
    head = head_revision()
    with engine.connect() as connection:
        if not _schema_problems(connection, head):
            return
    upgrade(engine, head)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` in one transaction, repairing first.

    A brand-new database going to head is created from the tables module and stamped (see
    :mod:`winback.sync.fresh_schema`) when the shipped head is the revision that module describes;
    any other upgrade replays the migrations one by one.
    """
    head = head_revision()
    target = head if revision == "head" else revision
    with _ALEMBIC_LOCK, _quiet_alembic(), engine.connect() as connection:
        connection.execution_options(winback_write=True)  # SQLite: BEGIN IMMEDIATE
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
            before = current_revision(connection)
            _repair_before(connection, before)
            before = current_revision(connection)
            if before is None and target == head == SCHEMA_REVISION and is_brand_new(connection, VERSION_TABLE):
                after = create_schema(connection, VERSION_TABLE)  # whole: nothing to repair
            else:
                if before != target:
                    replay(connection, revision)
                after = current_revision(connection)
                if target == head:
                    _repair_after(connection)
        if before is None:
            log.info("local store created (schema %s)", after)
        elif before != after:
            log.info("local store schema upgraded from %s to %s", before, after)


def replay(connection: Connection, revision: str) -> None:
    """Run the migrations from the database's revision to ``revision`` on ``connection``: Alembic
    joins the transaction the caller holds, so every migration commits (or not) with it."""
    config = alembic_config(connection)
    from alembic import command  # loaded by alembic_config

    command.upgrade(config, revision)


def _repair_before(connection: Connection, revision: str | None) -> None:
    """Undo what an interrupted migration of an older winback may have left behind."""
    names = set(inspect(connection).get_table_names())
    for name in sorted(names):
        if name.startswith(STRAY_PREFIX):
            log.warning("dropping %s left by an interrupted migration", name)
            connection.execute(text(f'DROP TABLE "{name}"'))
    ours = [name for name in metadata.tables if name in names]
    if revision is None or len(ours) == len(metadata.tables):
        return
    if any(connection.execute(select(func.count()).select_from(table(name))).scalar_one() for name in ours):
        return  # real data: keep it; missing tables are created after the upgrade
    log.warning("the schema recorded at %s is incomplete and holds no rows: rebuilding it", revision)
    for name in [t.name for t in reversed(metadata.sorted_tables) if t.name in names]:
        connection.execute(text(f'DROP TABLE "{name}"'))
    connection.execute(text(f'DROP TABLE "{VERSION_TABLE}"'))


def _repair_after(connection: Connection) -> None:
    """Create tables missing beside real data; refuse to go on with tables that lack columns."""
    inspector = inspect(connection)
    names = set(inspector.get_table_names())
    missing = [t for t in metadata.sorted_tables if t.name not in names]
    if missing:
        log.warning("creating missing tables: %s", ", ".join(t.name for t in missing))
        metadata.create_all(connection, tables=missing)
    for name, spec in metadata.tables.items():
        if name not in names:
            continue
        have = {column["name"] for column in inspector.get_columns(name)}
        lacking = sorted(set(spec.columns.keys()) - have)
        if lacking:
            raise errors.SyncError(
                f"the local store's table {name} lacks columns {', '.join(lacking)}: the database was "
                "changed outside winback; restore it from a backup or move it aside to resync"
            )
