"""Bring a database to the newest schema; called by :func:`winback.sync.store.open_store`.

The migration scripts ship inside the package (``winback/sync/migrations``), so upgrading winback
and running any command upgrades the database: there is no manual step. On PostgreSQL an advisory
lock serialises concurrent openers (two cron jobs starting together); SQLite relies on its write
lock and ``busy_timeout``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

SCRIPT_LOCATION = Path(__file__).with_name("migrations")
VERSION_TABLE = "winback_alembic_version"
_PG_LOCK_ID = 0x77696E6261636B  # "winback"


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


with _quiet_alembic():  # importing alembic announces its plugins at INFO
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (default: the newest)."""
    with _quiet_alembic(), engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            with connection.begin():
                connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _PG_LOCK_ID})
        try:
            before = current_revision(connection)
            if connection.in_transaction():
                connection.commit()
            command.upgrade(alembic_config(connection), revision)
            after = current_revision(connection)
            if connection.in_transaction():
                connection.commit()
            if before is None:
                log.info("local store created (schema %s)", after)
            elif before != after:
                log.info("local store schema upgraded from %s to %s", before, after)
        finally:
            if connection.dialect.name == "postgresql":
                if connection.in_transaction():
                    connection.rollback()
                with connection.begin():
                    connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_LOCK_ID})


def upgrade_to_head(engine: Engine) -> None:
    upgrade(engine, "head")
