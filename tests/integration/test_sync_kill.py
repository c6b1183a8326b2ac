"""Crash safety with real processes: the emulator runs as ``winback-emulator`` in its own process,
a sync runs in another (the worker script, or ``winback sync --config``) and is SIGKILLed at random
points several times; one last run then completes. The local store must end up exactly equal to
the emulator's data: nothing lost, nothing duplicated, the same values."""

from __future__ import annotations

import json
import queue
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration import sync_compare as compare
from tests.integration.kill_harness import Lines, stop
from tests.integration.sync_kill_worker import KILL_BATCH_RECORDS
from winback.emulator.ecwid.app import EcwidEmulator
from winback.emulator.generate import generate_world
from winback.emulator.shopify.app import ShopifyEmulator
from winback.sync import LocalStore, open_store

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = 31
CUSTOMERS = {"sqlite": 1200, "postgresql": 1200}
"""About 2.3 orders per customer: big enough that several kills land while orders are still being
read (the store must be part-way through for a kill to prove anything)."""
WORKER = Path(__file__).with_name("sync_kill_worker.py")
BIN = Path(sys.executable).parent
FAULTS = ["--fault-rate", "0.02", "--fault-kinds", "500,502,503,drop,malformed", "--fault-seed", "4"]
EMULATOR_FLAGS = {
    "shopify": ["--no-throttle"],
    "ecwid": ["--requests-per-minute", "100000", "--scopes", "all"],
}
FAST_SETTINGS: dict[str, dict[str, Any]] = {
    "shopify": {"page_size": 50, "bulk_threshold": -1, "timeout_s": 5.0, "max_attempts": 12,
                "retry_base_delay_s": 0.02},
    "ecwid": {"page_size": 50, "requests_per_minute": 100_000, "timeout_s": 5.0, "retry_attempts": 12,
              "retry_base_delay_s": 0.02, "retry_max_delay_s": 0.2},
}
KILLS = 7
START_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 120.0


@contextmanager
def emulator_process(platform: str, customers: int) -> Iterator[dict[str, Any]]:
    """``winback-emulator PLATFORM`` running; yields the JSON line it printed."""
    script = BIN / "winback-emulator"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "winback.emulator"]
    command += [platform, "--seed", str(SEED), "--customers", str(customers), *FAULTS, *EMULATOR_FLAGS[platform]]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = Lines(process.stdout).next(timeout=START_TIMEOUT_S)  # type: ignore[arg-type]
        assert line, f"winback-emulator exited ({process.poll()}) without printing its settings"
        yield json.loads(line)
    finally:
        stop(process, signal.SIGTERM)


def expected_for(platform: str, customers: int) -> compare.Fingerprints:
    """The emulator's records, rendered here from the same seeded world (generation is deterministic)."""
    world = generate_world(SEED, customers=customers)
    if platform == "shopify":
        return compare.shopify_fingerprints(ShopifyEmulator(world))
    return compare.ecwid_fingerprints(EcwidEmulator(world).state)


@dataclass
class Round:
    returncode: int
    pages_seen: int
    counts: dict[str, int]
    cursors: dict[str, Any]

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


@dataclass
class Ledger:
    """What the test observed about the store between processes."""

    url: str
    store_key: str
    rounds: list[Round] = field(default_factory=list)

    def snapshot(self) -> tuple[dict[str, int], dict[str, Any]]:
        store = open_store(self.url)
        try:
            if store.get_store(self.store_key) is None:
                return {r: 0 for r in compare.RESOURCES}, {}
            counts = {r: store.count(self.store_key, r) for r in compare.RESOURCES}
            cursors = {c["resource"]: c["cursor_updated_at"] for c in store.cursors(self.store_key)}
            return counts, cursors
        finally:
            store.close()


def _store_key(platform: str, settings: dict[str, Any]) -> str:
    return f"{platform}:{settings['shop'] if platform == 'shopify' else settings['store_id']}"


def run_killed(command: list[str], ledger: Ledger, kill_when: Callable[[subprocess.Popen[str], Lines], int]) -> Round:
    """Start ``command``, let ``kill_when`` wait for its moment (returns pages seen), SIGKILL it."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        lines = Lines(process.stdout)  # type: ignore[arg-type]
        pages = kill_when(process, lines)
        stop(process)
    finally:
        stop(process)
    counts, cursors = ledger.snapshot()
    result = Round(process.returncode, pages, counts, cursors)
    ledger.rounds.append(result)
    return result


def after_pages(rng: random.Random) -> Callable[[subprocess.Popen[str], Lines], int]:
    """Kill a random moment after a random number of committed pages (or when the run ends)."""
    wanted = rng.randint(4, 18)
    jitter = rng.uniform(0.0, 0.15)

    def wait(process: subprocess.Popen[str], lines: Lines) -> int:
        seen = 0
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while seen < wanted and time.monotonic() < deadline:
            try:
                line = lines.next(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None or '"done"' in line:
                return seen
            seen += 1
        time.sleep(jitter)
        return seen

    return wait


def after_time(rng: random.Random) -> Callable[[subprocess.Popen[str], Lines], int]:
    """Kill at a random time after start, wherever the process is (start-up included)."""
    delay = rng.uniform(0.2, 2.5)

    def wait(process: subprocess.Popen[str], lines: Lines) -> int:
        time.sleep(delay)
        return -1

    return wait


def after_store_progress(rng: random.Random, ledger: Ledger,
                         resource: str | None = None) -> Callable[[subprocess.Popen[str], Lines], int]:
    """Kill once the database shows a random amount of new records (for commands that print nothing).

    With ``resource`` only that resource's records count, so the kill lands while it is being read
    (orders come after customers: counting everything, every kill could land among customers)."""
    wanted = rng.randint(50, 350)
    jitter = rng.uniform(0.0, 0.15)

    def stored() -> int:
        counts = ledger.snapshot()[0]
        return counts[resource] if resource else sum(counts.values())

    def wait(process: subprocess.Popen[str], lines: Lines) -> int:
        start = stored()
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while process.poll() is None and time.monotonic() < deadline:
            if stored() - start >= wanted:
                break
            time.sleep(0.05)
        time.sleep(jitter)
        return -1

    return wait


def finish(command: list[str]) -> str:
    completed = subprocess.run(command, check=False, stdout=subprocess.PIPE, text=True, timeout=RUN_TIMEOUT_S)
    assert completed.returncode == 0, completed.stdout[-2000:]
    return completed.stdout


def assert_kills_interrupted_work(ledger: Ledger, expected: compare.Fingerprints) -> None:
    killed = [r for r in ledger.rounds if r.killed]
    assert len(killed) >= 5, [r.returncode for r in ledger.rounds]
    complete = {r: len(expected[r]) for r in compare.RESOURCES}
    # Kills that left the store part-way: some records committed, not all of them.
    partial = [r for r in killed if 0 < sum(r.counts.values()) < sum(complete.values())]
    assert len(partial) >= 3, [(r.returncode, r.counts) for r in ledger.rounds]
    # At least one kill landed while the orders cursor stood between the start and the end.
    final = max(fp[0] for fp in expected["orders"].values())
    assert any(r.cursors.get("orders") is not None and r.cursors["orders"] < final for r in killed), [
        r.cursors for r in ledger.rounds
    ]
    # Committed work survives every kill: counts never go down between rounds.
    for earlier, later in zip(ledger.rounds, ledger.rounds[1:]):
        assert all(later.counts[r] >= earlier.counts[r] for r in compare.RESOURCES)


async def assert_final_store(ledger: Ledger, platform: str, settings: dict[str, Any],
                             expected: compare.Fingerprints) -> None:
    store: LocalStore = open_store(ledger.url)
    try:
        stored = compare.assert_store_equals(store, ledger.store_key, expected)
        assert store.count(ledger.store_key, "quarantine") == 0
    finally:
        store.close()
    # And the rows are exactly what the connector reads from the running emulator now.
    compare.assert_rows_equal_models(stored, await compare.read_models(platform, settings))


@pytest.mark.parametrize("platform", ["shopify", "ecwid"])
async def test_sigkilled_worker_resumes_to_an_exact_copy(platform: str, sync_db_url: str) -> None:
    rng = random.Random(f"{platform}-{SEED}")
    customers = CUSTOMERS[sync_db_url.split(":", 1)[0].split("+", 1)[0]]
    expected = expected_for(platform, customers)
    with emulator_process(platform, customers) as info:
        settings = {**info["settings"], **FAST_SETTINGS[platform]}
        command = [sys.executable, str(WORKER), platform, json.dumps(settings), sync_db_url]
        ledger = Ledger(sync_db_url, _store_key(platform, info["settings"]))
        for number in range(KILLS):
            chooser = after_time if number % 3 == 2 else after_pages
            run_killed(command, ledger, chooser(rng))
        before_final = ledger.snapshot()
        output = finish(command)
        report = json.loads(output.strip().splitlines()[-1])["report"]

        assert_kills_interrupted_work(ledger, expected)
        orders_report = report["resources"]["orders"]
        if before_final[1].get("orders") is not None:
            # The last run resumed from the cursor instead of starting over.
            assert orders_report["since"] is not None
            assert orders_report["upserted"] < len(expected["orders"])
        await assert_final_store(ledger, platform, settings, expected)


def _config_file(tmp_path: Path, platform: str, settings: dict[str, Any], url: str) -> Path:
    def toml(value: Any) -> str:
        return json.dumps(value) if not isinstance(value, bool) else str(value).lower()

    store = "\n".join(f"{key} = {toml(value)}" for key, value in settings.items() if value is not None)
    path = tmp_path / f"{platform}-client.toml"
    path.write_text(
        f'[client]\nname = "kill test {platform}"\n\n[store]\nplatform = "{platform}"\n{store}\n\n'
        f"[database]\nurl = {json.dumps(url)}\n\n[sync]\nbatch_records = {KILL_BATCH_RECORDS}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("platform", ["shopify", "ecwid"])
async def test_sigkilled_winback_sync_command_resumes_to_an_exact_copy(platform: str, tmp_path: Path) -> None:
    """The same proof through ``winback sync --config FILE`` (SQLite only, to stay quick)."""
    cli = BIN / "winback"
    command_base = [str(cli)] if cli.exists() else [sys.executable, "-m", "winback.cli.main"]
    rng = random.Random(f"cli-{platform}-{SEED}")
    sync_db_url = f"sqlite:///{tmp_path / 'winback.db'}"
    expected = expected_for(platform, CUSTOMERS["sqlite"])
    with emulator_process(platform, CUSTOMERS["sqlite"]) as info:
        settings = {**info["settings"], **FAST_SETTINGS[platform]}
        if platform == "ecwid":
            # The command prints no per-page progress and the test polls the database instead:
            # pace the client so a run lasts long enough to be caught part-way.
            settings["requests_per_minute"] = 1_200
        config = _config_file(tmp_path, platform, settings, sync_db_url)
        command = [*command_base, "sync", "--config", str(config)]
        ledger = Ledger(sync_db_url, _store_key(platform, info["settings"]))
        for number in range(KILLS - 1):
            if number % 3 == 2:
                chooser = after_time(rng)
            else:
                chooser = after_store_progress(rng, ledger, "orders" if number > 2 else None)
            run_killed(command, ledger, chooser)
        output = finish(command)
        assert "ok" in output, output

        assert_kills_interrupted_work(ledger, expected)
        await assert_final_store(ledger, platform, settings, expected)
