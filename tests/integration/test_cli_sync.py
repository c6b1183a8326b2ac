"""``winback sync`` / ``status`` / ``export`` end to end: real emulators over sockets, real SQLite,
the CLI both as a real subprocess and through click's CliRunner."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from winback.cli.main import cli
from winback.emulator.ecwid import ALL_SCOPES, start_ecwid_emulator
from winback.emulator.generate import generate_world
from winback.emulator.shopify import start_shopify_emulator
from winback.model import Order
from winback.sync import open_store
from winback.sync.export_csv import csv_columns

pytestmark = pytest.mark.integration


@dataclass
class Emulators:
    shopify_server: Any
    shop: Any
    ecwid_server: Any
    ecwid: Any

    @property
    def env(self) -> dict[str, str]:
        return {"WB_IT_SHOP_TOKEN": self.shop.access_token, "WB_IT_ECWID_TOKEN": self.ecwid.token}

    def expected(self) -> dict[str, dict[str, int]]:
        return {
            f"shopify:{self.shop.shop_domain}": {
                "customers": len(self.shop.customers),
                "orders": len(self.shop.orders),
                "products": len(self.shop.products),
            },
            f"ecwid:{self.ecwid.store_id}": {
                name: len(self.ecwid.state.snapshot(name)) for name in ("customers", "orders", "products")
            },
        }


@pytest.fixture(scope="module")
def emulators() -> Iterator[Emulators]:
    world = generate_world(2027, customers=300)
    shopify_server, shop = start_shopify_emulator(world, restore_rate=1000, bucket_size=20000)
    ecwid_server, ecwid = start_ecwid_emulator(world, scopes=ALL_SCOPES, requests_per_minute=100000)
    try:
        yield Emulators(shopify_server, shop, ecwid_server, ecwid)
    finally:
        shopify_server.stop()
        ecwid_server.stop()


def write_configs(directory: Path, emu: Emulators, *, shopify_token: str = "${WB_IT_SHOP_TOKEN}") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "acme.toml").write_text(
        f"""\
[client]
name = "Acme Apparel"

[store]
platform = "shopify"
shop = "{emu.shop.shop_domain}"
access_token = "{shopify_token}"
base_url = "{emu.shopify_server.url}"
max_attempts = 2
retry_base_delay_s = 0.01

[database]
url = "clients.db"
""",
        encoding="utf-8",
    )
    (directory / "beta.toml").write_text(
        f"""\
secrets_file = "beta.secrets.toml"

[client]
name = "Beta Books"

[store]
platform = "ecwid"
store_id = "{emu.ecwid.store_id}"
base_url = "{emu.ecwid_server.url}/api/v3"
requests_per_minute = 100000

[database]
url = "clients.db"
""",
        encoding="utf-8",
    )
    secrets = directory / "beta.secrets.toml"
    secrets.write_text('token = "${WB_IT_ECWID_TOKEN}"\n', encoding="utf-8")
    secrets.chmod(0o600)
    return directory


def stored_counts(db: Path) -> dict[str, dict[str, int]]:
    with open_store(str(db)) as store:
        return {
            row["key"]: {name: store.count(row["key"], name) for name in ("customers", "orders", "products")}
            for row in store.list_stores()
        }


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "winback.cli.main", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_subprocess_sync_twice_second_run_incremental(emulators: Emulators, tmp_path: Path) -> None:
    configs = write_configs(tmp_path / "clients", emulators)
    shopify_before = emulators.shopify_server.requests_served
    ecwid_before = emulators.ecwid_server.requests_served

    first = run_cli("sync", "--config-dir", str(configs), env=emulators.env)
    assert first.returncode == 0, first.stderr
    shopify_first = emulators.shopify_server.requests_served - shopify_before
    ecwid_first = emulators.ecwid_server.requests_served - ecwid_before
    assert stored_counts(configs / "clients.db") == emulators.expected()
    assert "ok      Acme Apparel" in first.stdout and "ok      Beta Books" in first.stdout
    assert "2 clients: 2 synced, 0 failed" in first.stdout

    second = run_cli("--json-log", "sync", "--config-dir", str(configs), env=emulators.env)
    assert second.returncode == 0, second.stderr
    shopify_second = emulators.shopify_server.requests_served - shopify_before - shopify_first
    ecwid_second = emulators.ecwid_server.requests_served - ecwid_before - ecwid_first
    assert 0 < shopify_second < shopify_first
    assert 0 < ecwid_second < ecwid_first
    assert stored_counts(configs / "clients.db") == emulators.expected()
    logged = [json.loads(line) for line in second.stderr.splitlines() if line.strip()]
    assert any(entry["message"].startswith("synced ecwid:") for entry in logged)
    # off a terminal there are no progress bars: each phase is a log line
    shop_key = f"shopify:{emulators.shop.shop_domain}"
    assert f"{shop_key} customers: reading everything" in first.stderr
    assert f"{shop_key} orders: {len(emulators.shop.orders)} records in " in first.stderr
    phases = [entry["message"] for entry in logged if entry.get("resource") == "orders"]
    assert any(message.startswith(f"{shop_key} orders: reading changes since ") for message in phases)
    for output in (first.stdout, first.stderr, second.stdout, second.stderr):
        assert emulators.shop.access_token not in output and emulators.ecwid.token not in output


def test_clirunner_sync_status_and_export(emulators: Emulators, tmp_path: Path, monkeypatch) -> None:
    for name, value in emulators.env.items():
        monkeypatch.setenv(name, value)
    configs = write_configs(tmp_path / "clients", emulators)
    runner = CliRunner()

    synced = runner.invoke(cli, ["sync", "--config-dir", str(configs), "--concurrency", "1"])
    assert synced.exit_code == 0, synced.output
    expected = emulators.expected()
    assert stored_counts(configs / "clients.db") == expected

    status = runner.invoke(cli, ["status", "--json", "--config-dir", str(configs)])
    assert status.exit_code == 0, status.output
    entries = {entry["store_key"]: entry for entry in json.loads(status.stdout)}
    assert set(entries) == set(expected)
    for key, entry in entries.items():
        assert entry["synced"] is True and entry["last_error"] is None
        assert entry["last_sync_finished"] is not None
        assert set(entry["cursors"]) == {"customers", "orders", "products"}
        assert all(cursor["cursor"] for cursor in entry["cursors"].values())
        assert {name: entry["counts"][name] for name in ("customers", "orders", "products")} == expected[key]
        assert entry["counts"]["buyers"] > 0 and entry["counts"]["quarantined"] == 0

    plain_status = runner.invoke(cli, ["status", "--config", str(configs / "acme.toml")])
    assert plain_status.exit_code == 0 and "counts: customers" in plain_status.stdout

    orders = expected[f"shopify:{emulators.shop.shop_domain}"]["orders"]
    acme = str(configs / "acme.toml")
    jsonl = runner.invoke(cli, ["export", "orders", "--config", acme, "--format", "jsonl"])
    assert jsonl.exit_code == 0, jsonl.output
    rows = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert len(rows) == orders
    assert all(list(row) == list(Order.model_fields) for row in rows)
    assert all(Order.model_validate(row) for row in rows[:50])

    out = tmp_path / "out" / "orders.csv"
    exported = runner.invoke(cli, ["export", "orders", "--config", acme, "--format", "csv", "--output", str(out)])
    assert exported.exit_code == 0, exported.output
    assert out.stat().st_mode & 0o077 == 0
    table = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(table) == orders
    assert list(table[0]) == [column.header for column in csv_columns(Order, list(Order.model_fields))]
    assert Decimal(table[0]["total_amount"]) >= 0 and len(table[0]["total_currency"]) == 3
    for text in (synced.output, status.output, jsonl.stdout, out.read_text(encoding="utf-8")):
        assert emulators.shop.access_token not in text and emulators.ecwid.token not in text


def test_wrong_token_fails_only_that_client(emulators: Emulators, tmp_path: Path, monkeypatch) -> None:
    for name, value in emulators.env.items():
        monkeypatch.setenv(name, value)
    configs = write_configs(tmp_path / "clients", emulators, shopify_token="shpat_wrong_token_000000")

    result = CliRunner().invoke(cli, ["sync", "--config-dir", str(configs)])

    assert result.exit_code == 1, result.output
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "Acme Apparel" in failed[0] and emulators.shop.shop_domain in failed[0]
    assert "ok      Beta Books" in result.stdout
    counts = stored_counts(configs / "clients.db")
    ecwid_key = f"ecwid:{emulators.ecwid.store_id}"
    assert counts == {ecwid_key: emulators.expected()[ecwid_key]}
    assert "shpat_wrong_token_000000" not in result.output


async def test_sync_clients_isolates_unexpected_failures_and_bounds_concurrency(
    emulators: Emulators, tmp_path: Path, monkeypatch
) -> None:
    from winback import clients
    from winback.config import ClientConfig, load_config_dir

    for name, value in emulators.env.items():
        monkeypatch.setenv(name, value)
    configs = [c for c in load_config_dir(write_configs(tmp_path / "clients", emulators)) if isinstance(c, ClientConfig)]
    active, most = 0, 0
    real_sync_store = clients.sync_store

    async def counting_sync_store(connector, store, **kwargs):
        nonlocal active, most
        active += 1
        most = max(most, active)
        try:
            if connector.platform == "shopify":
                raise RuntimeError("plugin bug")
            return await real_sync_store(connector, store, **kwargs)
        finally:
            active -= 1

    monkeypatch.setattr(clients, "sync_store", counting_sync_store)
    seen: list[tuple[str, str]] = []
    results = await clients.sync_clients(
        configs, concurrency=1, resources=["products"], progress=lambda client, event: seen.append((client, event.resource.value))
    )

    assert most == 1
    assert [(r.client, r.ok) for r in results] == [("Acme Apparel", False), ("Beta Books", True)]
    assert results[0].error == f"{emulators.shop.shop_domain}: unexpected RuntimeError: plugin bug"
    assert results[1].sync is not None and set(results[1].sync.resources) == {"products"}
    assert set(seen) == {("Beta Books", "products")}
