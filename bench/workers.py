"""Client runs on Celery workers: 100 small emulated clients with 1, 2 and 4 worker processes.

Each round starts fresh emulators (50 Shopify and 50 Ecwid stores in two processes), a fresh
PostgreSQL schema and N ``winback worker`` processes (one run at a time each), waits until every
worker is ready, then times ``winback dispatch`` until the ``runs`` table holds an ``ok`` run for
every client. Prints wall time, throughput and the ratio to one worker process.

    .venv/bin/python bench/workers.py [--broker redis://127.0.0.1:6379/0] [--clients 100] [--workers 1,2,4]

Nothing is asserted: it prints figures (see bench/README.md).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from tests.integration.kill_harness import smtp_capture_process  # noqa: E402
from tests.integration.workers_harness import emulators_process, write_client_configs  # noqa: E402

PG = os.environ.get("WINBACK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BIN = Path(sys.executable).parent


def winback(*args: str) -> list[str]:
    return [str(BIN / "winback"), *args]


def one_round(workers: int, clients: int, broker: str, customers: int) -> float:
    """Seconds from dispatch until every client has an ``ok`` run."""
    schema = f"wb_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG}?options=-csearch_path%3D{schema}"
    queue = f"wbbench-{uuid.uuid4().hex[:8]}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with ExitStack() as stack, TemporaryDirectory() as tmp:
            half = clients // 2
            stores = [*stack.enter_context(emulators_process("shopify", half, customers=customers, seed_base=500)),
                      *stack.enter_context(emulators_process("ecwid", clients - half, customers=customers, seed_base=600))]
            smtp = stack.enter_context(smtp_capture_process(Path(tmp) / "smtp.jsonl"))
            config_dir = Path(tmp) / "clients"
            _, secrets = write_client_configs(config_dir, stores, database_url=url, smtp_port=smtp["port"])
            env = {**os.environ, "WINBACK_BROKER": broker}
            # one store schema up front, so N workers do not race to create it
            subprocess.run([sys.executable, "-c", f"from winback.sync import open_store; open_store({url!r}).close()"],
                           check=True)
            logs = []
            for number in range(workers):
                log = Path(tmp) / f"worker{number}.log"
                logs.append(log)
                with log.open("wb") as out:
                    processes.append(subprocess.Popen(
                        winback("worker", "--queue", queue, "--concurrency", "1", "--hostname", f"b{number}@%h"),
                        env={**env, **secrets}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
            deadline = time.monotonic() + 120
            while not all(b"ready." in log.read_bytes() for log in logs):
                if time.monotonic() > deadline:
                    raise SystemExit(f"workers did not start; see {logs}")
                time.sleep(0.2)
            engine = create_engine(url)
            started = time.monotonic()
            subprocess.run(winback("--quiet", "dispatch", "--config-dir", str(config_dir), "--queue", queue),
                           env=env, check=True, stdout=subprocess.DEVNULL)
            while True:
                with engine.connect() as conn:
                    ok = conn.execute(text("SELECT count(DISTINCT client) FROM runs WHERE outcome = 'ok'")).scalar_one()
                if ok >= clients:
                    break
                if time.monotonic() - started > 900:
                    raise SystemExit(f"only {ok} of {clients} clients ran within 900 s")
                time.sleep(0.1)
            elapsed = time.monotonic() - started
            engine.dispose()
            return elapsed
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", default=os.environ.get("WINBACK_BROKER", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--customers", type=int, default=15, help="customers per emulated store")
    parser.add_argument("--workers", default="1,2,4", help="comma-separated worker process counts")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    print(f"{args.clients} clients of {args.customers} customers each, broker {args.broker.split('@')[-1]}, "
          f"{os.cpu_count()} cores")
    print(f"{'workers':>7} {'wall s':>8} {'clients/s':>10} {'vs 1':>6}")
    base = None
    for count in counts:
        wall = one_round(count, args.clients, args.broker, args.customers)
        base = base or (wall if count == counts[0] else None)
        ratio = f"{base / wall:.2f}" if base else "-"
        print(f"{count:>7} {wall:>8.1f} {args.clients / wall:>10.2f} {ratio:>6}", flush=True)


if __name__ == "__main__":
    main()
