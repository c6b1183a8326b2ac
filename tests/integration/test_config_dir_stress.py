"""An agency's config dir under stress: many clients, each with its own SQLite file, plus clients
sharing one PostgreSQL database, synced with high concurrency, from fresh and from existing
databases, with SIGKILLs in the middle of first-time migrations. Every run syncs every client and
every store ends equal to its emulator."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from winback.emulator.ecwid import ALL_SCOPES, start_ecwid_emulator
from winback.emulator.generate import generate_world
from winback.sync import open_store

from tests.integration import sync_compare as compare
from tests.integration.test_migrations_concurrent import assert_current

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SQLITE_CLIENTS = 20
SHARED_PG_CLIENTS = 3
TOKEN = "stress_token"


@dataclass
class Platform:
    server: Any
    app: Any

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/api/v3"


@pytest.fixture(scope="module")
def ecwid_stores() -> Iterator[list[Platform]]:
    """One emulated store for the SQLite clients, one per PostgreSQL client (distinct store ids)."""
    platforms = []
    try:
        for n in range(1 + SHARED_PG_CLIENTS):
            world = generate_world(300 + n, customers=40, products=12)
            server, app = start_ecwid_emulator(world, scopes=ALL_SCOPES, store_id=5000 + n, token=TOKEN, requests_per_minute=1_000_000)
            platforms.append(Platform(server, app))
        yield platforms
    finally:
        for platform in platforms:
            platform.server.stop()


def _client(path: Path, name: str, platform: Platform, url: str) -> None:
    path.write_text(
        f"""\
[client]
name = "{name}"

[store]
platform = "ecwid"
store_id = "{platform.app.store_id}"
token = "${{WB_STRESS_TOKEN}}"
base_url = "{platform.base_url}"
requests_per_minute = 1000000

[database]
url = "{url}"
""",
        encoding="utf-8",
    )


def write_config_dir(folder: Path, stores: list[Platform], pg_url: str) -> Path:
    folder.mkdir(parents=True)
    for n in range(SQLITE_CLIENTS):
        _client(folder / f"c{n:02d}.toml", f"Client {n:02d}", stores[0], f"sqlite:///{folder / f'c{n:02d}.db'}")
    for n, platform in enumerate(stores[1:]):
        _client(folder / f"pg{n}.toml", f"Shared PG {n}", platform, pg_url)
    return folder


def _sync_command(folder: Path, command: str = "sync") -> list[str]:
    return [sys.executable, "-m", "winback.cli.main", command, "--config-dir", str(folder), "--concurrency", "32"]


ENV = {**os.environ, "WB_STRESS_TOKEN": TOKEN}
TOTAL = SQLITE_CLIENTS + SHARED_PG_CLIENTS


def sync_all(folder: Path, command: str = "sync") -> subprocess.CompletedProcess[str]:
    """``winback sync`` (or ``run``, which syncs first) over the whole folder: every client ok."""
    done = subprocess.run(
        _sync_command(folder, command), env=ENV, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    expected = f"{TOTAL} synced, 0 failed" if command == "sync" else f"{TOTAL} ok, 0 partial, 0 failed"
    assert expected in done.stdout, done.stdout
    assert "Traceback" not in done.stderr
    return done


def assert_stores_equal_emulators(folder: Path, stores: list[Platform], pg_url: str) -> None:
    expected = compare.ecwid_fingerprints(stores[0].app.state)
    for n in range(SQLITE_CLIENTS):
        url = f"sqlite:///{folder / f'c{n:02d}.db'}"
        assert_current(url)
        with open_store(url) as store:
            compare.assert_store_equals(store, f"ecwid:{stores[0].app.store_id}", expected)
    assert_current(pg_url)
    with open_store(pg_url) as store:
        for platform in stores[1:]:
            compare.assert_store_equals(
                store, f"ecwid:{platform.app.store_id}", compare.ecwid_fingerprints(platform.app.state)
            )


def test_many_clients_from_fresh_then_existing_databases(
    ecwid_stores: list[Platform], sync_postgres_url: str, tmp_path: Path
) -> None:
    folder = write_config_dir(tmp_path / "clients", ecwid_stores, sync_postgres_url)
    for command in ("run", "sync", "run"):  # fresh, then existing databases twice
        sync_all(folder, command)
    assert_stores_equal_emulators(folder, ecwid_stores, sync_postgres_url)


def test_kills_during_first_time_migrations_then_every_client_syncs(
    ecwid_stores: list[Platform], sync_postgres_url: str, tmp_path: Path
) -> None:
    rng = random.Random(20)
    for round_ in range(3):
        folder = write_config_dir(tmp_path / f"round{round_}", ecwid_stores, sync_postgres_url)
        run = subprocess.Popen(_sync_command(folder), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not list(folder.glob("c*.db")) and time.monotonic() < deadline and run.poll() is None:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.6))  # first-time migrations of 21 databases take about this long
        finally:
            run.send_signal(signal.SIGKILL)
            run.wait(timeout=30)
        sync_all(folder, "run" if round_ % 2 else "sync")
        sync_all(folder)
        assert_stores_equal_emulators(folder, ecwid_stores, sync_postgres_url)
