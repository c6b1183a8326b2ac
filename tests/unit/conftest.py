"""Fixtures shared by the unit tests of the rules: a fresh local store per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from winback.sync import LocalStore, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    """An empty SQLite store in the test's own directory."""
    opened = open_store(f"sqlite:///{tmp_path / 'winback.db'}")
    yield opened
    opened.close()


@pytest.fixture
def any_store(sync_db_url: str) -> Iterator[LocalStore]:
    """An empty store on each backend the ``sync_db_url`` fixture gives (SQLite, and PostgreSQL
    when it is reachable)."""
    opened = open_store(sync_db_url)
    yield opened
    opened.close()
