"""A new Ecwid custom app's token (orders and products only), end to end over real sockets and
real SQLite: ``check`` names what is out of reach and the real remedy, ``sync`` reads what it can
and says it was partial, ``plan`` holds the rules that need customers or coupons with that reason,
and nothing is written to the store."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from winback.cli.main import cli
from winback.emulator.ecwid import DEFAULT_SCOPES, start_ecwid_emulator
from winback.emulator.generate import generate_world
from winback.sync import open_store
from winback.sync.tables import store_key

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ecwid() -> Iterator[tuple[Any, Any]]:
    server, app = start_ecwid_emulator(generate_world(41, customers=40), requests_per_minute=100_000)  # default scopes
    try:
        yield server, app
    finally:
        server.stop()


def config(tmp_path: Path, server: Any, app: Any) -> Path:
    path = tmp_path / "shop.toml"
    path.write_text(textwrap.dedent(f"""\
        [client]
        name = "New App Shop"

        [store]
        platform = "ecwid"
        store_id = "{app.store_id}"
        token = "{app.token}"
        base_url = "{server.url}/api/v3"
        retry_attempts = 1

        [database]
        url = "shop.db"

        [email]
        from_address = "Shop <hello@shop.example>"
        unsubscribe_mailto = "unsubscribe@shop.example"

        [rules.auto_create_accounts]
        since_days = 3650

        [rules.discount_codes]
        segment = {{ min_orders = 1 }}
        kind = "percentage"
        value = 10
        """), encoding="utf-8")
    return path


def test_a_new_apps_token_is_checked_synced_in_part_and_its_rules_held(ecwid: tuple[Any, Any], tmp_path: Path) -> None:
    server, app = ecwid
    assert app.scopes == DEFAULT_SCOPES
    path = config(tmp_path, server, app)
    runner = CliRunner()

    checked = runner.invoke(cli, ["check", "--config", str(path)])
    assert checked.exit_code == 1, checked.output
    assert "missing read_customers, read_discount_coupons" in checked.output
    assert "not known until the first write: create_customers, create_discount_coupons, update_customers" in checked.output
    assert "ask Ecwid" in checked.output and "Reinstall" not in checked.output

    synced = runner.invoke(cli, ["sync", "--config", str(path)])
    assert synced.exit_code == 0, synced.output
    assert "partial" in synced.output and "customers unreachable" in synced.output
    assert "read_customers" in synced.output
    key = store_key("ecwid", str(app.store_id))
    with open_store(str(tmp_path / "shop.db")) as store:
        assert store.get_cursor(key, "orders") is not None and store.get_cursor(key, "products") is not None
        assert store.get_cursor(key, "customers") is None

    planned = runner.invoke(cli, ["plan", "--config", str(path), "--json"])
    assert planned.exit_code == 0, planned.output
    [entry] = json.loads(planned.stdout)
    held = entry["rules_held"]
    assert set(held) == {"auto_create_accounts", "discount_codes"}
    assert "read_customers" in held["auto_create_accounts"] and "ask Ecwid" in held["auto_create_accounts"]
    assert "read_discount_coupons" in held["discount_codes"]
    assert entry["actions"] == []
    assert entry["held_actions"] and {h["held"] for h in entry["held_actions"]} == {"unreachable"}

    ran = runner.invoke(cli, ["run", "--config", str(path), "--no-sync"])
    assert ran.exit_code == 0, ran.output
    assert "rule discount_codes held: cannot create discount codes" in ran.output
    assert app.writes() and not any(app.writes().values()), app.writes()
