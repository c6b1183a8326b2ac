"""Ctrl-C in the middle of a sync: a word on what was kept (not click's bare ``Aborted!``), exit
status 130, and the pages committed before the interrupt are still there for the next run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.kill_harness import emulator_process

pytestmark = pytest.mark.integration


def _customers(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM customers").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_ctrl_c_says_what_was_kept(tmp_path: Path) -> None:
    with emulator_process("ecwid", "--customers", "3000", "--requests-per-minute", "300") as info:
        settings = info["settings"]
        config = tmp_path / "shop.toml"
        config.write_text(
            f"""\
[client]
name = "Big Shop"

[store]
platform = "ecwid"
store_id = "{settings['store_id']}"
token = "${{WB_INT_TOKEN}}"
base_url = "{settings['base_url']}"

[database]
url = "shop.db"
""",
            encoding="utf-8",
        )
        env = {**os.environ, "WB_INT_TOKEN": settings["token"]}
        run = subprocess.Popen(
            [sys.executable, "-m", "winback.cli.main", "sync", "--config", str(config)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 60
        while _customers(tmp_path / "shop.db") == 0 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.05)
        assert run.poll() is None, "the sync ended before it could be interrupted"
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=60)

    assert run.returncode == 130, (out, err)
    assert "interrupted: nothing done so far is lost" in err
    assert "Aborted!" not in err and "Traceback" not in err
    assert _customers(tmp_path / "shop.db") > 0
