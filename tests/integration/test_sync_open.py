"""Opening the local store: file permissions, schema migrations on open, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from winback import errors
from winback.connectors.base import Page, Resource
from winback.model import Customer
from winback.sync import migrate, open_store
from winback.sync.database import default_database_path
from winback.sync.tables import metadata

from tests.integration.later_migration import ship_later_migration
from tests.unit.test_sync_support import KEY, customer

pytestmark = pytest.mark.integration



def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_sqlite_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "data" / "winback.db"
    with open_store(str(path)) as store:
        assert _mode(path) == 0o600
        assert _mode(path.parent) == 0o700
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        store.upsert_store(_store_info())
        sidecars = list(path.parent.glob("winback.db-*"))
        assert sidecars and all(_mode(sidecar) & 0o077 == 0 for sidecar in sidecars)


def test_every_sqlite_connection_checkpoints_its_log_every_10000_pages(tmp_path: Path) -> None:
    """Not SQLite's 1,000: a sync's batches rewrite the same index pages, and each checkpoint
    copies them all into the file again (see ``WAL_CHECKPOINT_PAGES``). Every pooled connection
    gets it, the store's writers and readers alike."""
    from winback.sync.database import WAL_CHECKPOINT_PAGES

    assert WAL_CHECKPOINT_PAGES == 10_000
    with open_store(str(tmp_path / "winback.db")) as store:
        with store.engine.connect() as first, store.engine.connect() as second:
            for conn in (first, second):
                assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == WAL_CHECKPOINT_PAGES


def _store_info():
    from winback.model import Store

    return Store(platform="fake", store_id="shop1", name="Shop One", currency="EUR")


def test_default_path_follows_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WINBACK_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_database_path() == tmp_path / "xdg" / "winback" / "winback.db"
    monkeypatch.setenv("WINBACK_HOME", str(tmp_path / "home"))
    with open_store(None) as store:
        assert store.list_stores() == []
    assert _mode(tmp_path / "home" / "winback.db") == 0o600
    with open_store(None, default_path=tmp_path / "explicit.db"):
        pass
    assert (tmp_path / "explicit.db").is_file()


def test_unsupported_url_is_a_sync_error() -> None:
    with pytest.raises(errors.SyncError, match="unsupported database URL"):
        open_store("mysql://localhost/winback")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("sync_postgres_url")


def test_schema_matches_the_tables_module(db_url: str) -> None:
    with open_store(db_url) as store, store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": migrate.VERSION_TABLE, "compare_type": True}
        )
        assert compare_metadata(context, metadata) == []
        assert migrate.current_revision(conn) == migrate.head_revision()


def test_old_revision_is_upgraded_on_open(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a database written by the current release ...
    with open_store(db_url) as store:
        store.upsert_store(_store_info())
        store.commit_page(KEY, Resource.CUSTOMERS, Page(records=[customer("c1")]), None)

    # ... opened by a later release that ships one more migration
    ship_later_migration(tmp_path, monkeypatch)

    with open_store(db_url) as store:
        with store.engine.connect() as conn:
            assert migrate.current_revision(conn) == "9999"
            assert "nickname" in {c["name"] for c in inspect(conn).get_columns("customers")}
        [row] = store.iter_rows(KEY, "customers")
        assert Customer.model_validate({k: row[k] for k in Customer.model_fields}) == customer("c1")

    # opening again is a no-op
    with open_store(db_url) as store, store.engine.connect() as conn:
        assert migrate.current_revision(conn) == "9999"


def test_empty_database_with_foreign_tables_is_initialised(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE someone_elses (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with open_store(str(path)) as store, store.engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
        assert {"someone_elses", "customers", "orders", "buyers", "action_ledger", migrate.VERSION_TABLE} <= names


def test_a_0010_store_loses_the_unused_orders_updated_index_on_open(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        migrate.upgrade(engine, "0010")
        with engine.connect() as conn:
            assert "ix_orders_store_updated" in {ix["name"] for ix in inspect(conn).get_indexes("orders")}
    finally:
        engine.dispose()
    with open_store(db_url) as store, store.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
        assert "ix_orders_store_updated" not in {ix["name"] for ix in inspect(conn).get_indexes("orders")}
