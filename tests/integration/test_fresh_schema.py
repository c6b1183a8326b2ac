"""A brand-new database created from the tables module is the database the migrations build.

``open_store`` on a new database runs ``metadata.create_all`` and stamps the version table (see
winback.sync.fresh_schema) instead of replaying every migration. These tests build one database
each way, on SQLite and on PostgreSQL, and compare their whole catalogues, their version rows and
Alembic's own comparison with the tables module; they also check that any other head still
replays the migrations and that processes racing to create one new file end with one schema.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from winback.sync import migrate, open_store
from winback.sync.fresh_schema import SCHEMA_REVISION
from winback.sync.tables import metadata

from tests.integration.later_migration import ship_later_migration
from tests.integration.schema_catalog import catalog

pytestmark = pytest.mark.integration



@pytest.fixture(params=["sqlite", "postgresql"])
def two_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty databases of one kind: two SQLite files, or two PostgreSQL schemas."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'stepwise.db'}", f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    first = request.getfixturevalue("sync_postgres_url")
    match = re.search(r"search_path%3D(\w+)", first)
    assert match, first
    schema = f"{match.group(1)}_b"
    second = first.replace(match.group(0), f"search_path%3D{schema}")
    admin = create_engine(first, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield first, second
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _build_stepwise(url: str) -> None:
    """Every migration replayed: up to the one before head (never from scratch), then head."""
    head = migrate.head_revision()
    before_head = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(head).down_revision
    assert isinstance(before_head, str)
    engine = create_engine(url)
    try:
        migrate.upgrade(engine, before_head)
        with engine.connect() as conn:
            assert migrate.current_revision(conn) == before_head
        migrate.upgrade(engine)
    finally:
        engine.dispose()


def _build_from_scratch(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``open_store`` does with a new database; replaying a migration here fails the test."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a brand-new database replayed the migrations")

    with monkeypatch.context() as patch:
        patch.setattr(migrate, "replay", refuse)
        open_store(url).close()


def _describe(url: str) -> tuple[dict, list, list]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text(f"SELECT * FROM {migrate.VERSION_TABLE}")).all()
            context = MigrationContext.configure(
                conn, opts={"version_table": migrate.VERSION_TABLE, "compare_type": True}
            )
            return catalog(conn), [tuple(row) for row in versions], compare_metadata(context, metadata)
    finally:
        engine.dispose()


def test_the_tables_module_describes_the_shipped_head() -> None:
    assert SCHEMA_REVISION == migrate.scripted_head() == migrate.head_revision(), (
        "a new migration changes winback/sync/tables.py and fresh_schema.SCHEMA_REVISION together"
    )


def test_a_new_database_is_identical_to_one_built_by_every_migration(
    two_urls: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stepwise_url, fresh_url = two_urls
    _build_stepwise(stepwise_url)
    _build_from_scratch(fresh_url, monkeypatch)
    stepwise, fresh = _describe(stepwise_url), _describe(fresh_url)

    stepwise_catalog, fresh_catalog = stepwise[0], fresh[0]
    assert sorted(stepwise_catalog) == sorted(fresh_catalog)
    for part in stepwise_catalog:
        assert fresh_catalog[part] == stepwise_catalog[part], part
    assert any(stepwise_catalog.values())  # the catalogue was read at all
    assert stepwise[1] == fresh[1] == [(migrate.head_revision(),)]
    assert stepwise[2] == fresh[2] == []


def test_a_new_database_with_a_later_head_replays_the_migrations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A head the tables module does not describe (here a later release's extra script)."""
    ship_later_migration(tmp_path, monkeypatch)
    with open_store(f"sqlite:///{tmp_path / 'later.db'}") as store, store.engine.connect() as conn:
        assert migrate.current_revision(conn) == "9999"
        assert "nickname" in {c["name"] for c in inspect(conn).get_columns("customers")}
        assert "birth_md" in {c["name"] for c in inspect(conn).get_columns("customers")}


OPENER = """
import sys
from winback.sync import open_store
open_store(sys.argv[1]).close()
print("done", flush=True)
"""


def test_processes_racing_to_create_one_new_sqlite_file_end_with_one_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'raced.db'}"
    workers = [
        subprocess.Popen([sys.executable, "-c", OPENER, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [worker.communicate(timeout=120) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), results
    catalog_, versions, differences = _describe(url)
    assert versions == [(migrate.head_revision(),)]
    assert differences == []
    assert {name for _type, name, *_ in catalog_["master"]} >= set(metadata.tables)
