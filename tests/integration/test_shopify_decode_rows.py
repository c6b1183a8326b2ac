"""The fast decoder of Shopify pages (:mod:`winback.connectors.shopify.decode`) against the ordinary
path, end to end: a full sync over the emulator stores exactly the same rows either way."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.integration.test_sync_emulators import start
from winback.connectors.registry import load_connector_class
from winback.connectors.shopify import decode
from winback.emulator.generate import generate_world
from winback.emulator.world import World
from winback.sync import open_store, sync_store
from winback.sync.tables import metadata

pytestmark = pytest.mark.integration

RUN_TIMES = {"stores": {"last_sync_started", "last_sync_finished"}, "sync_cursors": {"last_run_at"}}
"""Columns that say when the run happened, not what was read (compared by presence only)."""


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(11, customers=150, products=20)


class Counting:
    """A decoder that counts the pages it took."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.taken = inner, 0

    def validate_json(self, data: bytes) -> Any:
        decoded = self.inner.validate_json(data)
        self.taken += 1
        return decoded


class Refusing:
    """A decoder that takes nothing: every page goes the ordinary way."""

    def validate_json(self, data: bytes) -> Any:
        raise decode.refused("every page the ordinary way")


def _rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            found = {}
            for table in metadata.sorted_tables:
                columns = [c.name for c in table.columns]
                rows = conn.execute(text(f"SELECT {', '.join(columns)} FROM {table.name}")).all()
                hidden = RUN_TIMES.get(table.name, set())
                found[table.name] = sorted(
                    (tuple((v is None) if c in hidden else v for c, v in zip(columns, row)) for row in rows),
                    key=repr,
                )
            return found
    finally:
        engine.dispose()


def _sync(world: World, db: Path, *, bulk: bool) -> None:
    running = start("shopify", world, bulk=bulk, page_size=30)
    store = open_store(f"sqlite:///{db}")
    try:
        async def run() -> None:
            async with load_connector_class("shopify").from_settings(running.settings) as connector:
                await sync_store(connector, store, full=True)

        asyncio.run(run())
    finally:
        store.close()
        running.stop()


@pytest.fixture
def decoders(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Counting]]:
    made: dict[str, Counting] = {}
    for name in ("orders_page", "customers_page", "orders_list"):
        original = getattr(decode, name)
        monkeypatch.setattr(decode, name, lambda store_id, _o=original, _n=name: made.setdefault(_n, Counting(_o(store_id))))
    yield made


@pytest.mark.parametrize("bulk", [False, True], ids=["paged", "bulk"])
def test_decoded_pages_store_the_same_rows_as_the_ordinary_path(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decoders: dict[str, Counting], bulk: bool
) -> None:
    _sync(world, tmp_path / "decoded.db", bulk=bulk)
    assert decoders["customers_page"].taken > 1
    assert decoders["orders_list" if bulk else "orders_page"].taken > 1

    for name in ("orders_page", "customers_page", "orders_list"):
        monkeypatch.setattr(decode, name, lambda store_id: Refusing())
    _sync(world, tmp_path / "ordinary.db", bulk=bulk)

    decoded, ordinary = _rows(tmp_path / "decoded.db"), _rows(tmp_path / "ordinary.db")
    assert decoded["orders"] and decoded["customers"]
    for table in ordinary:
        assert decoded[table] == ordinary[table], table
