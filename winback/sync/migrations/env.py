"""Alembic environment for winback's local store.

Run only through :func:`winback.sync.migrate.upgrade_to_head`, which hands over an open
connection in ``config.attributes["connection"]``; there is no ``alembic.ini``.
"""

from __future__ import annotations

from alembic import context

from winback.sync.migrate import VERSION_TABLE
from winback.sync.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("winback migrations run through winback.sync.migrate.upgrade_to_head only")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
