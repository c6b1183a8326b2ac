"""Migrations never run concurrently, never run on an up-to-date database, never stop half-way.

An agency's config dir opens many databases at once (one SQLite file per client, or one shared
PostgreSQL). Alembic's ``context``/``op`` proxies are process-global, so two threads migrating two
files at once corrupted both. These tests open many fresh databases from many threads, SIGKILL
processes in the middle of first-time migrations, and repair databases an older winback damaged.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from winback import errors
from winback.model import Store
from winback.sync import migrate, open_store
from winback.sync.tables import metadata

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OURS = set(metadata.tables) | {migrate.VERSION_TABLE}


def assert_current(url: str) -> None:
    """The database's schema is exactly the tables module's, at head, with no stray tables."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"version_table": migrate.VERSION_TABLE, "compare_type": True}
            )
            assert compare_metadata(context, metadata) == [], url
            assert migrate.current_revision(conn) == migrate.head_revision()
            assert not [n for n in inspect(conn).get_table_names() if n.startswith(migrate.STRAY_PREFIX)]
    finally:
        engine.dispose()


def test_many_fresh_files_opened_from_many_threads_are_all_migrated(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / f'client{n:02d}.db'}" for n in range(24)]

    def open_and_write(url: str) -> str:
        with open_store(url) as store:
            store.upsert_store(Store(platform="fake", store_id=url[-8:], name="x", currency="EUR"))
        return url

    for _ in range(3):  # from fresh, then twice from existing databases
        with ThreadPoolExecutor(max_workers=24) as pool:
            assert sorted(pool.map(open_and_write, urls)) == sorted(urls)
        for url in urls:
            assert_current(url)


def test_opening_an_up_to_date_database_does_not_run_alembic(tmp_path: Path, monkeypatch) -> None:
    import alembic.command
    import alembic.script

    url = f"sqlite:///{tmp_path / 'current.db'}"
    open_store(url).close()

    def refuse(*_args, **_kwargs):
        raise AssertionError("alembic ran on an up-to-date database")

    monkeypatch.setattr(alembic.command, "upgrade", refuse)
    monkeypatch.setattr(alembic.script.ScriptDirectory, "from_config", refuse)
    with open_store(url) as store:
        assert store.list_stores() == []


WITHOUT_ALEMBIC = """
import sys
from winback.sync import open_store
for url in sys.argv[1:]:
    with open_store(url) as store:
        store.list_stores()
print(sorted(name for name in sys.modules if name.split(".")[0] in ("alembic", "mako")))
"""


def test_a_process_that_opens_a_new_and_a_current_database_never_imports_alembic(tmp_path: Path) -> None:
    """Alembic (with Mako) is about 10 MB of a sync's memory: only a replay loads it. (Pygments
    comes with httpx, whose command line it imports when click and rich are installed.)"""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    opened = subprocess.run(
        [sys.executable, "-c", WITHOUT_ALEMBIC, url, url], capture_output=True, text=True, timeout=120, check=True
    )
    assert opened.stdout.strip() == "[]", opened.stdout + opened.stderr
    assert_current(url)


def _at_revision(url: str, revision: str) -> None:
    engine = create_engine(url)
    try:
        migrate.upgrade(engine, revision)
    finally:
        engine.dispose()


def test_damaged_empty_database_is_rebuilt(tmp_path: Path) -> None:
    """What the thread race left behind: at 0001, tables missing, a stray batch copy."""
    path = tmp_path / "damaged.db"
    url = f"sqlite:///{path}"
    _at_revision(url, "0001")
    with sqlite3.connect(path) as conn:
        for name in ("orders", "order_lines", "products", "sync_cursors", "quarantine"):
            conn.execute(f"DROP TABLE {name}")
        conn.execute("CREATE TABLE _alembic_tmp_action_ledger (id INTEGER)")
    with open_store(url) as store:
        assert store.list_stores() == []
    assert_current(url)


def test_damaged_database_with_data_keeps_it_and_gets_its_missing_tables(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    url = f"sqlite:///{path}"
    with open_store(url) as store:
        store.upsert_store(Store(platform="fake", store_id="s1", name="Kept", currency="EUR"))
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE quarantine")
        conn.execute("CREATE TABLE _alembic_tmp_customers (id INTEGER)")
    with open_store(url) as store:
        assert [row["name"] for row in store.list_stores()] == ["Kept"]
    assert_current(url)


def test_a_table_that_lacks_columns_is_reported_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "edited.db"
    url = f"sqlite:///{path}"
    with open_store(url) as store:
        store.upsert_store(Store(platform="fake", store_id="s1", name="Kept", currency="EUR"))
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE suppressions")
        conn.execute("CREATE TABLE suppressions (id INTEGER PRIMARY KEY)")
    with pytest.raises(errors.SyncError, match="suppressions lacks columns"):
        open_store(url)


# --- SIGKILL in the middle of first-time migrations --------------------------------------------

MIGRATING_WORKER = """
import sys
from pathlib import Path
from winback.sync import open_store
folder = Path(sys.argv[1])
print("ready", flush=True)
n = 0
while True:
    open_store(f"sqlite:///{folder / f'db{n:04d}.db'}").close()
    n += 1
"""


def _state(path: Path) -> str:
    """``empty`` (no winback table), ``head`` (complete), or a description of a half-migration."""
    with sqlite3.connect(path) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        ours = names & OURS
        if not ours and not any(n.startswith(migrate.STRAY_PREFIX) for n in names):
            return "empty"
        if ours == OURS and not any(n.startswith(migrate.STRAY_PREFIX) for n in names):
            [[version]] = conn.execute(f"SELECT version_num FROM {migrate.VERSION_TABLE}").fetchall()
            return "head" if version == migrate.head_revision() else f"at {version}"
        return f"half-migrated: {sorted(names)}"


def test_sigkill_during_first_time_migrations_never_leaves_a_half_migrated_file(tmp_path: Path) -> None:
    rng = random.Random(8)
    states: list[str] = []
    for round_ in range(8):
        folder = tmp_path / f"round{round_}"
        folder.mkdir()
        worker = subprocess.Popen(
            [sys.executable, "-c", MIGRATING_WORKER, str(folder)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.05, 0.8))
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)
        files = sorted(folder.glob("db*.db"))
        assert files, "the worker migrated nothing before the kill"
        round_states = [_state(path) for path in files]
        assert all(state in ("empty", "head") for state in round_states), round_states
        states += round_states
        for path in files:  # the next open finishes whatever the kill interrupted
            open_store(f"sqlite:///{path}").close()
            assert_current(f"sqlite:///{path}")
    assert "head" in states


PG_WORKER = """
import sys
from winback.sync import open_store
print("ready", flush=True)
open_store(sys.argv[1]).close()
print("done", flush=True)
"""


def test_sigkill_during_a_postgresql_migration_leaves_it_untouched_or_done(sync_postgres_url: str) -> None:
    rng = random.Random(9)
    engine = create_engine(sync_postgres_url)
    try:
        for _ in range(4):
            with engine.begin() as conn:  # start from nothing each round
                for name in [*(t.name for t in reversed(metadata.sorted_tables)), migrate.VERSION_TABLE]:
                    conn.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
            worker = subprocess.Popen(
                [sys.executable, "-c", PG_WORKER, sync_postgres_url], stdout=subprocess.PIPE, text=True
            )
            try:
                assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
                time.sleep(rng.uniform(0.0, 0.4))
            finally:
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=30)
            with engine.connect() as conn:
                names = set(inspect(conn).get_table_names()) & OURS
            assert names in (set(), OURS), sorted(names)
            open_store(sync_postgres_url).close()
            assert_current(sync_postgres_url)
    finally:
        engine.dispose()


def test_concurrent_processes_migrating_one_postgresql_database(sync_postgres_url: str) -> None:
    workers = [
        subprocess.Popen([sys.executable, "-c", PG_WORKER, sync_postgres_url], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs
    assert all("done" in output for output in outputs)
    assert_current(sync_postgres_url)

