"""Shared fixtures. Several engineers add fixtures here: append, keep sections self-contained."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


# --- running in parallel (pytest-xdist) ------------------------------------------------------------
#
# ``make test`` runs the suite on two pytest-xdist workers (``-n 2 --dist loadfile
# --no-loadscope-reorder``). A test must therefore not depend on running alone:
# * ports: bind port 0 (or ``free_port()`` in tests/integration/serve_harness.py), never a fixed port;
# * files: write under ``tmp_path`` / ``tmp_path_factory``, never a fixed path, the home directory
#   or the default database (pass ``--config``/``--dir``/``WINBACK_HOME``);
# * PostgreSQL: use ``sync_postgres_url`` / ``sync_db_url`` (a fresh schema per test), never a fixed
#   database, schema or table name; brokers: a fresh queue name (see tests/integration/test_workers.py);
# * a module's tests all run on one worker (``loadfile``), so a module- or class-scoped fixture (an
#   emulator, a demo run) is built once: write expensive shared set-up as such a fixture;
# * mark a test that takes more than ~20 s ``@pytest.mark.slow``: slow modules are started first,
#   so that they do not end up running alone at the end of the run.


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one pytest-xdist worker")


def _shares_fixture_across_tests(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs and defs[-1].scope in ("module", "class", "package") for defs in info.name2fixturedefs.values())


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):
    """Order and group the tests for pytest-xdist (harmless without it).

    ``--dist loadfile`` sends each module to one worker, in this order (``--no-loadscope-reorder``):
    modules with a ``slow`` test first, then the other integration modules, then the unit tests; a
    module's tests stay together and in their order. The xdist groups set here take effect only
    with ``--dist loadgroup`` (not used by ``make test`` yet: with pytest-xdist 3.8 they were not
    applied in our set-up, see the cispeed report).
    """
    rank: dict[str, int] = {}
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        here = 0 if item.get_closest_marker("slow") else 1 if module.startswith("tests/integration/") else 2
        rank[module] = min(rank.get(module, here), here)
        if _shares_fixture_across_tests(item):
            item.add_marker(pytest.mark.xdist_group(module))
    order = {id(item): n for n, item in enumerate(items)}
    items.sort(key=lambda item: (rank[item.nodeid.split("::", 1)[0]], order[id(item)]))
    # A wrapper, so the groups exist before pytest-xdist's own hook turns them into node ids.
    return (yield)


# --- the real Shopify Admin schema (used by the Shopify emulator's subset test) -------------------


@pytest.fixture(scope="session")
def real_shopify_schema_path() -> Path:
    """Shopify's real Admin GraphQL SDL, kept outside the repo in ``../shared/shopify/``."""
    path = Path(__file__).parents[1].parent / "shared/shopify/admin-2026-07.graphql"
    if not path.is_file():
        message = "../shared/shopify/admin-2026-07.graphql is absent: cannot check against Shopify's real schema"
        if os.environ.get("WINBACK_REQUIRE_SHARED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


# --- winback.sync: the local store on SQLite and on PostgreSQL ---------------------------------


def _sync_postgres_base_url() -> str:
    return os.environ.get("WINBACK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def sync_postgres_url():
    """A PostgreSQL URL whose ``search_path`` is a fresh schema, dropped afterwards.

    Skips when PostgreSQL is unreachable, unless ``WINBACK_REQUIRE_POSTGRES=1`` (CI): then fails.
    """
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    base = _sync_postgres_base_url()
    admin = create_engine(base, connect_args={"connect_timeout": 3}, isolation_level="AUTOCOMMIT")
    schema = f"wb_sync_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL at {base} is unreachable ({str(exc).splitlines()[0]}); set WINBACK_TEST_POSTGRES_URL"
        if os.environ.get("WINBACK_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def sync_sqlite_template(tmp_path_factory) -> Path:
    """One SQLite store migrated to head, built once per worker: ``sync_db_url`` hands each test a
    copy, which ``open_store`` finds up to date (migrating a fresh file per test cost ~1/3 of the
    unit tests' time). First-time migration keeps its own tests (test_migrations_concurrent.py,
    test_sync_open.py), which open fresh files themselves."""
    import sqlite3

    from winback.sync import open_store

    path = tmp_path_factory.mktemp("sqlite-template") / "winback.db"
    open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:  # fold the WAL into the file, so copying the file is enough
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def sync_db_url(request, tmp_path):
    """The same local-store test on a SQLite file (a copy of the migrated template, mode 0600 like
    a store winback creates) and on a private PostgreSQL schema."""
    if request.param == "sqlite":
        import shutil

        path = tmp_path / "winback.db"
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        shutil.copyfile(request.getfixturevalue("sync_sqlite_template"), path)
        return f"sqlite:///{path}"
    return request.getfixturevalue("sync_postgres_url")


@pytest.fixture
def sync_db(sync_db_url):
    """An opened :class:`winback.sync.LocalStore`, closed afterwards."""
    from winback.sync import open_store

    store = open_store(sync_db_url)
    try:
        yield store
    finally:
        store.close()
