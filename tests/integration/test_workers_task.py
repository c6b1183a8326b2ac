"""The task body on a real PostgreSQL store, without a broker: "already running" and refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from winback.config import load_config
from winback.errors import ClientRunFailed
from winback.rules.locks import store_lock
from winback.sync import open_store
from winback.sync.connections import mark_disconnected
from winback.workers import runs_of
from winback.workers.tasks import execute

pytestmark = pytest.mark.integration


def config_file(tmp_path: Path, database: str) -> Path:
    path = tmp_path / "acme.toml"
    path.write_text(
        '[client]\nname = "acme"\n[store]\nplatform = "shopify"\nshop = "acme.myshopify.com"\n'
        'access_token = "shpat_unit"\nbase_url = "http://127.0.0.1:1"\n'
        f'[database]\nurl = "{database}"\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def test_a_client_already_running_is_not_started_twice(tmp_path: Path, sync_postgres_url: str) -> None:
    path = config_file(tmp_path, sync_postgres_url)
    config = load_config(path)
    store = open_store(sync_postgres_url)
    try:
        with store_lock(store, config.store_key, wait=0):  # another worker's run holds the store
            done = execute(str(path), "acme", task_id="t-busy", worker="w9@host", attempt=0, will_retry=True)
        assert done["outcome"] == "busy"
        assert [(r["task_id"], r["outcome"], r["worker"]) for r in runs_of(store, config.store_key)] == [
            ("t-busy", "busy", "w9@host")]

        # Free, the run goes ahead; the platform is unreachable, so it fails and asks to be retried.
        with pytest.raises(ClientRunFailed):
            execute(str(path), "acme", task_id="t-2", worker="w9@host", attempt=0, will_retry=True)
        last = runs_of(store, config.store_key)[-1]
        assert (last["outcome"], last["finished_at"] is not None) == ("retrying", True) and last["error"]
    finally:
        store.close()


def test_a_sqlite_client_is_refused_by_the_worker(tmp_path: Path) -> None:
    path = config_file(tmp_path, "local.db")
    done = execute(str(path), "acme", task_id="t-sqlite", worker="w1@host", attempt=0, will_retry=True)
    assert done["outcome"] == "refused" and "SQLite" in done["error"] and str(path) in done["error"]
    assert not (tmp_path / "local.db").exists()


def test_a_failure_only_the_merchant_can_fix_is_not_retried(tmp_path: Path, sync_postgres_url: str) -> None:
    """An uninstalled app fails the same way on every attempt: one ``failed`` row, no retry."""
    path = config_file(tmp_path, sync_postgres_url)
    config = load_config(path)
    store = open_store(sync_postgres_url)
    try:
        mark_disconnected(store, config.store_key, datetime(2026, 11, 30, 8, 0, tzinfo=UTC), "app/uninstalled")
        done = execute(str(path), "acme", task_id="t-gone", worker="w1@host", attempt=0, will_retry=True)
        assert done["outcome"] == "failed" and "disconnected" in done["error"]
        last = runs_of(store, config.store_key)[-1]
        assert (last["task_id"], last["outcome"]) == ("t-gone", "failed") and "reconnect" in last["error"]
    finally:
        store.close()


def test_a_run_that_ended_without_a_word_is_marked_lost_by_the_next(tmp_path: Path, sync_postgres_url: str) -> None:
    """A hard time limit replaces the process before it records anything: the store's next run,
    holding the run lock, marks that row ``lost``; a run that finds the store busy touches nothing."""
    from winback.workers.runs import RunStart, record_start

    path = config_file(tmp_path, sync_postgres_url)
    config = load_config(path)
    store = open_store(sync_postgres_url)
    try:
        record_start(store, RunStart(client="acme", store_key=config.store_key, task_id="t-old", worker="w1@host"))
        with store_lock(store, config.store_key, wait=0):
            execute(str(path), "acme", task_id="t-busy2", worker="w2@host", attempt=0, will_retry=True)
        assert {r["task_id"]: r["outcome"] for r in runs_of(store, config.store_key)}["t-old"] == "running"
        with pytest.raises(ClientRunFailed):  # the platform is unreachable: retried later
            execute(str(path), "acme", task_id="t-new", worker="w2@host", attempt=0, will_retry=True)
        outcomes = {r["task_id"]: r["outcome"] for r in runs_of(store, config.store_key)}
        assert (outcomes["t-old"], outcomes["t-new"]) == ("lost", "retrying")
    finally:
        store.close()
