"""A brand-new database gets its schema in one step, not by replaying every migration.

This is Alembic's cookbook recipe "Building an Up to Date Database from Scratch": create the tables
from the models' ``MetaData`` (:mod:`winback.sync.tables`), then stamp the version table. Replaying
the eleven migrations cost a new database several times more CPU (every ``batch_alter_table`` and
``create_table`` builds and reflects SQLAlchemy tables; ``env.py`` and every script are executed
again), and hundreds of tests and every new client's first sync pay it.

What the caller may rely on:

- **Identical to the migrations.** The migrations do nothing ``create_all`` would not: no rows,
  triggers, views, partial indexes or dialect options; constraint names come from the same naming
  convention; server defaults and comments are the same expressions. The one thing that differed,
  the position of ``stores.postal_address`` (``ALTER TABLE ADD COLUMN`` puts a column last), is
  now declared last in the tables module. ``tests/integration/test_fresh_schema.py`` builds one
  database each way on SQLite and PostgreSQL and compares their whole catalogues.
- **Only when it is exact.** :data:`SCHEMA_REVISION` names the revision the tables module
  describes. The caller uses this path only when that is the shipped head; any other head (a
  test's extra script, a tables module ahead of its migration) replays the migrations as before.
- **No Alembic.** The version table is declared here as Alembic declares it, so a new database
  is made without importing Alembic (with Mako, about 8 MB of a sync's peak memory), which a
  sync or any command on a current database never needs either.
- **Inside the caller's transaction.** Nothing here commits: the caller holds the database's write
  lock (see :mod:`winback.sync.migrate`), so the tables and the version row appear together or not
  at all, and a second process that waited on the lock finds the schema complete.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, MetaData, PrimaryKeyConstraint, String, Table, inspect

from winback.sync.tables import metadata

SCHEMA_REVISION = "0011"
"""The migration whose result :data:`winback.sync.tables.metadata` describes. A new migration
changes the tables module and this constant together (a test fails until both agree with head)."""


def is_brand_new(connection: Connection, version_table: str) -> bool:
    """True when neither winback's tables nor its version table exist (other tables may)."""
    names = set(inspect(connection).get_table_names())
    return version_table not in names and not names & set(metadata.tables)


def version_table(name: str) -> Table:
    """Alembic's version table as its ``MigrationContext.stamp`` creates it (``DefaultImpl.
    version_table_impl``: one ``String(32)`` column, its primary key named ``<name>_pkc``); the
    catalogue test compares it with Alembic's own."""
    return Table(
        name, MetaData(), Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name=f"{name}_pkc"),
    )


def create_schema(connection: Connection, version_table_name: str) -> str:
    """Create every table and index at :data:`SCHEMA_REVISION` and record it; return the revision.

    The version table is Alembic's own shape, so later migrations run on this database exactly
    as on one built step by step.
    """
    metadata.create_all(connection, checkfirst=False)
    versions = version_table(version_table_name)
    versions.create(connection)
    connection.execute(versions.insert().values(version_num=SCHEMA_REVISION))
    return SCHEMA_REVISION
