"""An Ecwid sync whose parser builds models unvalidated (``_Frozen.from_checked``) stores exactly
the rows a sync with validated models stores: every table, every column, byte for byte, including
a quarantined order."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from winback import model
from winback.connectors.ecwid import parse, typed
from winback.connectors.ecwid import values as ecwid_values
from winback.connectors.registry import load_connector_class
from winback.emulator.ecwid import ALL_SCOPES, start_ecwid_emulator
from winback.emulator.generate import generate_world
from winback.sync import open_store, sync_store

pytestmark = pytest.mark.integration

VOLATILE = {
    "stores": {"last_sync_started", "last_sync_finished"},
    "sync_cursors": {"last_run_at"},
    "quarantine": {"first_seen", "last_seen"},
}
"""Columns holding when the sync ran, not what it read."""


def _tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    db = sqlite3.connect(path)
    try:
        out = {}
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            columns = [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')
                       if row[1] not in VOLATILE.get(table, set())]
            listed = ", ".join(f'"{c}"' for c in columns)
            out[table] = sorted(db.execute(f'SELECT {listed} FROM "{table}"').fetchall(), key=repr)
        return out
    finally:
        db.close()


async def _sync(settings: dict[str, Any], path: Path) -> int:
    store = open_store(f"sqlite:///{path}")
    try:
        async with load_connector_class("ecwid").from_settings(settings) as connector:
            report = await sync_store(connector, store, full=True)
    finally:
        store.close()
    return report.rejected


async def test_unvalidated_models_store_the_same_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server, app = start_ecwid_emulator(generate_world(11, customers=300, products=30), scopes=ALL_SCOPES,
                                       requests_per_minute=60_000)
    try:
        app.corrupt_record("orders", sorted(app.state.orders)[10])
        assert app.seed_birthdays("birthday") > 0
        settings = {"store_id": str(app.store_id), "token": app.token, "base_url": f"{server.url}/api/v3",
                    "requests_per_minute": 60_000, "page_size": 50, "birth_date_field": "birthday"}
        assert await _sync(settings, tmp_path / "checked.db") == 1

        built: list[type] = []

        def validated(cls: type[model._Frozen], values: dict[str, Any]) -> model._Frozen:
            built.append(cls)
            return cls(**values)

        monkeypatch.setattr(model._Frozen, "from_checked", classmethod(validated))
        for module in (parse, typed):  # the parser's and the typed fast path's own aliases
            for name in ("_new_address", "_new_line", "_new_order", "_new_customer"):
                monkeypatch.setattr(module, name, getattr(module, name).__self__.from_checked)
        monkeypatch.setattr(ecwid_values, "_new_money", model.Money.from_checked)
        monkeypatch.setattr(ecwid_values, "_AMOUNTS", {})
        monkeypatch.setattr(typed, "_ADDRESSES", {})
        assert await _sync(settings, tmp_path / "validated.db") == 1
    finally:
        server.stop()
    assert {model.Order, model.Customer, model.LineItem, model.Money, model.Address} <= set(built)
    checked, reference = _tables(tmp_path / "checked.db"), _tables(tmp_path / "validated.db")
    assert len(reference["orders"]) > 500 and len(reference["customers"]) > 200 and len(reference["quarantine"]) == 1
    assert checked.keys() == reference.keys()
    for table in reference:
        assert checked[table] == reference[table], table

