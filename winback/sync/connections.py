"""Whether winback may still reach a store: an ``app/uninstalled`` webhook marks it disconnected.

``winback sync``, ``winback run`` and ``winback status`` read the mark (sync and run refuse a
disconnected store). Reinstalling the app through ``winback connect`` (either way: its own
listener or ``--via-serve``) clears it; after a reinstall by other means, ``winback webhooks
reconnect`` does.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from winback.sync import tables
from winback.sync.store import LocalStore, db_errors

_connections = tables.store_connections
_db_errors = db_errors("the store connection marks")


@_db_errors
def disconnected_at(store: LocalStore, store_key: str) -> datetime | None:
    """When the app was uninstalled from the store, or ``None`` while it is connected."""
    with store.reading() as conn:
        row = conn.execute(select(_connections.c.disconnected_at).where(_connections.c.store_key == store_key)).first()
    return None if row is None else row[0]


@_db_errors
def mark_disconnected(store: LocalStore, store_key: str, at: datetime, reason: str) -> None:
    with store.writing() as conn:
        conn.execute(delete(_connections).where(_connections.c.store_key == store_key))
        conn.execute(_connections.insert().values(store_key=store_key, disconnected_at=at, reason=reason))


@_db_errors
def mark_connected(store: LocalStore, store_key: str) -> bool:
    with store.writing() as conn:
        return bool(conn.execute(delete(_connections).where(_connections.c.store_key == store_key)).rowcount)
