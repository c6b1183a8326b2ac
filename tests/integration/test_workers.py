"""Client runs on real Celery workers, with a real RabbitMQ and again with a real Redis.

Thirty emulated stores (15 Shopify, 15 Ecwid, in two emulator processes), one PostgreSQL schema
for all of them, an SMTP capture server, and three ``winback worker`` processes. ``winback
dispatch`` sends one task per client; once the first worker is mid-run it is SIGKILLed with its
whole process group (a machine gone). Afterwards every client was synced and acted on, its last
run is ``ok``, the killed worker's run is marked ``lost`` and was run again by another worker,
and no email, discount code, account or invite exists twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.integration.kill_harness import read_capture, smtp_capture_process
from tests.integration.workers_harness import emulators_process, write_client_configs

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

BROKERS = {
    "rabbitmq": ("amqp://guest:guest@127.0.0.1:5672//", 5672),
    "redis": ("redis://127.0.0.1:6379/0", 6379),
}
PER_PLATFORM = 15
WORKERS = 3
TIME_LIMIT_S = 15
"""Short, so Redis's visibility timeout (above it) gives the killed worker's task back soon."""
DEADLINE_S = 150.0
BIN = Path(sys.executable).parent


def winback(*args: str) -> list[str]:
    script = BIN / "winback"
    return [*([str(script)] if script.exists() else [sys.executable, "-m", "winback.cli.main"]), *args]


def broker_up(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as processes:
        yield processes


def start_worker(number: int, env: dict[str, str], queue: str, log: Path) -> subprocess.Popen[bytes]:
    command = winback(
        "--json-log", "worker", "--queue", queue, "--concurrency", "1", "--hostname", f"w{number}@%h",
        "--time-limit", str(TIME_LIMIT_S), "--max-retries", "3", "--retry-backoff", "1", "--retry-backoff-max", "4",
        "--restore-interval", "2",
    )
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def kill_group(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def runs_table(engine: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        if conn.execute(text("SELECT to_regclass('runs')")).scalar() is None:
            return []
        return [dict(row) for row in conn.execute(text("SELECT * FROM runs ORDER BY id")).mappings()]


@pytest.mark.parametrize("broker", ["rabbitmq", "redis"])
def test_thirty_clients_three_workers_one_killed(broker: str, tmp_path: Path, sync_postgres_url: str,
                                                  stack: ExitStack) -> None:
    url, port = BROKERS[broker]
    if not broker_up(port):
        message = f"{broker} is not listening on 127.0.0.1:{port} (.ci/run starts it)"
        if os.environ.get("WINBACK_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    deadline = time.monotonic() + DEADLINE_S
    queue = f"wbtest-{uuid.uuid4().hex[:10]}"
    shopify = stack.enter_context(emulators_process("shopify", PER_PLATFORM, seed_base=300))
    ecwid = stack.enter_context(emulators_process("ecwid", PER_PLATFORM, seed_base=400))
    capture = tmp_path / "smtp.jsonl"
    smtp = stack.enter_context(smtp_capture_process(capture, delay_ms=30))
    stores = [*shopify, *ecwid]
    config_dir = tmp_path / "clients"
    paths, secrets = write_client_configs(config_dir, stores, database_url=sync_postgres_url, smtp_port=smtp["port"])
    env = {**os.environ, "WINBACK_BROKER": url}
    worker_env = {**env, **secrets}

    workers = [start_worker(n, worker_env, queue, tmp_path / f"worker{n}.log") for n in range(1, WORKERS + 1)]
    for process in workers:
        stack.callback(kill_group, process, signal.SIGKILL)

    # The dispatcher holds no secret: the configs' ${VAR} tokens are only in the workers' environment.
    sent = subprocess.run(winback("dispatch", "--config-dir", str(config_dir), "--queue", queue), env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.count("sent client") == len(paths)

    engine = create_engine(sync_postgres_url)
    stack.callback(engine.dispose)
    killed_task = None
    while killed_task is None:
        assert time.monotonic() < deadline, f"worker 1 never started a run; see {tmp_path}/worker1.log"
        running = [r for r in runs_table(engine) if r["worker"].startswith("w1@") and r["outcome"] == "running"]
        done = [r for r in runs_table(engine) if r["outcome"] == "ok"]
        if running and len(done) >= 3:
            kill_group(workers[0], signal.SIGKILL)
            # the runs the kill cut off: still "running" once the worker is gone (the one seen may
            # have ended a moment before the kill; then nothing was cut off and the test goes on)
            cut = [r for r in runs_table(engine) if r["worker"].startswith("w1@") and r["outcome"] == "running"]
            if cut:
                killed_task = cut[0]["task_id"]
            else:
                # Nothing cut off: start worker 1 again and kill it during one of its next runs.
                workers[0] = start_worker(1, worker_env, queue, tmp_path / f"worker1-{time.monotonic():.0f}.log")
                stack.callback(kill_group, workers[0], signal.SIGKILL)
        time.sleep(0.05)

    clients = {f"client {i:03d}" for i in range(len(paths))}
    while True:
        rows = runs_table(engine)
        ok = {r["client"] for r in rows if r["outcome"] == "ok"}
        if ok >= clients:
            break
        assert time.monotonic() < deadline, (f"{len(clients - ok)} clients never ran ok: {sorted(clients - ok)[:5]}; "
                                             f"runs {Counter(r['outcome'] for r in rows)}; logs in {tmp_path}")
        time.sleep(0.5)
    for process in workers[1:]:
        kill_group(process, signal.SIGTERM)

    # The killed worker's run was marked lost and run again, by another worker, under the same task id.
    same_task = [r for r in rows if r["task_id"] == killed_task]
    assert [r["outcome"] for r in same_task][0] == "lost", same_task
    assert any(r["outcome"] == "ok" and not r["worker"].startswith("w1@") for r in same_task), same_task
    assert {r["worker"].split("@")[0] for r in rows if r["outcome"] == "ok"} >= {"w2", "w3"}

    # status: every client synced, its last run ok, nothing waiting in the queue.
    status = subprocess.run(winback("status", "--config-dir", str(config_dir), "--json", "--queue", queue),
                            env=worker_env, capture_output=True, text=True, timeout=60, check=False)
    assert status.returncode == 0, status.stderr
    entries = json.loads(status.stdout)
    assert all(e["synced"] and e["counts"]["customers"] > 0 for e in entries)
    assert all(e["last_run"]["outcome"] == "ok" for e in entries), [e["last_run"] for e in entries]
    assert f"queue {queue} on" in status.stderr and ": 0 waiting" in status.stderr, status.stderr

    # Acted on, each effect once: the ledger, the emulators' write logs and the SMTP capture agree.
    with engine.connect() as conn:
        ledger = [dict(r) for r in conn.execute(text(
            "SELECT store_key, idempotency_key, status, created_ref FROM action_ledger")).mappings()]
    done = Counter(r["store_key"] for r in ledger if r["status"] == "done")
    assert len(done) == len(paths), f"only {len(done)} of {len(paths)} clients acted: {done}"
    messages = read_capture(capture)
    mail_ids = Counter((m["mail_from"], m["message_id"]) for m in messages)
    assert mail_ids and max(mail_ids.values()) == 1, [k for k, n in mail_ids.items() if n > 1]
    assert len({m["mail_from"] for m in messages}) == len(paths)
    written = 0
    for store in stores:
        writes = httpx.get(f"{store['url']}/_emulator/writes", timeout=10).json()
        codes = [c["code"] for c in writes.get("discount_codes", writes.get("discount_coupons", []))]
        accounts = [c["email"].casefold() for c in writes.get("customers_created", [])]
        invites = [str(i["customer_id"]) for i in writes.get("invites_sent", [])]
        for what, items in (("codes", codes), ("accounts", accounts), ("invites", invites)):
            assert len(items) == len(set(items)), (store["settings"], what, Counter(items).most_common(2))
        written += len(codes) + len(accounts) + len(invites)
    assert written, "no platform write at all: the test would prove nothing"

    # The workers' JSON logs carry client and task ids, and never a token.
    logs = "".join((tmp_path / f"worker{n}.log").read_text(encoding="utf-8", errors="replace")
                   for n in range(1, WORKERS + 1))
    assert not [token for token in secrets.values() if token in logs]
    tagged = [json.loads(line) for line in logs.splitlines()
              if line.startswith("{") and '"logger": "winback.sync.engine"' in line]
    assert tagged and all(entry.get("client") and entry.get("task_id") for entry in tagged)
    print(f"\n{broker}: {len(rows)} runs {dict(Counter(r['outcome'] for r in rows))}, {len(messages)} mails, "
          f"{written} platform writes, killed task {killed_task}")
    ledger_codes = Counter(str((r["created_ref"] or {}).get("discount_code")) for r in ledger
                           if (r["created_ref"] or {}).get("discount_code"))
    assert ledger_codes and max(ledger_codes.values()) == 1
