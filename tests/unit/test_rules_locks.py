"""The per-store run lock: a second run (another connection, thread or process) is refused."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from winback.rules.locks import StoreBusyError, lock_path, store_lock
from winback.sync import open_store


def test_a_second_holder_waits_then_gives_up_with_a_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    first, second = open_store(str(db)), open_store(str(db))
    try:
        with store_lock(first, "shopify:acme.myshopify.com"):
            started = time.monotonic()
            with (
                pytest.raises(StoreBusyError, match="another winback run is working on shopify:acme.myshopify.com"),
                store_lock(second, "shopify:acme.myshopify.com", wait=0.3),
            ):
                pass
            assert time.monotonic() - started >= 0.3
            with store_lock(second, "ecwid:1003", wait=0):  # other stores are independent
                pass
        with store_lock(second, "shopify:acme.myshopify.com", wait=0):  # released
            pass
    finally:
        first.close()
        second.close()
    name = lock_path(db, "shopify:acme.myshopify.com").name
    assert name.startswith("w.db.shopify_acme.myshopify.com-") and name.endswith(".lock")


def test_a_waiting_thread_gets_the_lock_when_it_is_released(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    store = open_store(str(db))
    got: list[float] = []

    def contender() -> None:
        with store_lock(open_store(str(db)), "k", wait=5):
            got.append(time.monotonic())

    try:
        with store_lock(store, "k"):
            thread = threading.Thread(target=contender)
            thread.start()
            time.sleep(0.3)
            released = time.monotonic()
            assert got == []
        thread.join(5)
        assert got and got[0] >= released
    finally:
        store.close()


def test_another_process_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    store = open_store(str(db))
    script = textwrap.dedent(
        f"""
        from winback.rules.locks import StoreBusyError, store_lock
        from winback.sync import open_store
        try:
            with store_lock(open_store({str(db)!r}), "k", wait=0.2):
                print("acquired")
        except StoreBusyError as exc:
            print("busy:", exc)
        """
    )
    try:
        with store_lock(store, "k"):
            busy = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
        free = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    finally:
        store.close()
    assert busy.stdout.startswith("busy: another winback run is working on k"), busy.stderr
    assert free.stdout.strip() == "acquired", free.stderr


def test_postgres_advisory_lock(sync_postgres_url: str) -> None:
    first, second = open_store(sync_postgres_url), open_store(sync_postgres_url)
    try:
        with store_lock(first, "k"), pytest.raises(StoreBusyError), store_lock(second, "k", wait=0.2):
            pass
        with store_lock(second, "k", wait=0):
            pass
    finally:
        first.close()
        second.close()
