"""Shared fixtures. Several engineers add fixtures here: append, keep sections self-contained."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def sync_db_url(request, tmp_path):
    """The same local-store test on a SQLite file and on a private PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'winback.db'}"
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
