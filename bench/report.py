"""Report benchmark: ``build_report`` over a large synthetic store in SQLite (time, peak memory).

Builds the store with :func:`bench.rules.build` (1M customers, 5M orders over three years, 3 %
cancelled, 1 % tests, 2 % refunded in full; 5 % of buyers reminded 30 days before the end),
written straight into SQLite with bulk inserts, once; then marks a tenth of those reminders as
held out and the rest as sent, and builds the whole report (store health, cohorts, reorder
intervals, BG/NBD and Gamma-Gamma fits with validation, per-rule lift) and its HTML in a fresh
Python process, printing wall time, CPU and peak RSS. Asserts nothing about time.

    .venv/bin/python bench/report.py                                   # 1M customers, 5M orders
    .venv/bin/python bench/report.py --customers 20000 --orders 100000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import Snapshot, current_rss_mb, machine_notes

STORE_KEY = "ecwid:bench"


def build_child(path: Path, customers: int, orders: int, seed: int) -> None:
    import rules as rules_bench

    rules_bench.build(path, customers, orders, 2_000, seed)
    import sqlite3

    db = sqlite3.connect(path)
    # reminders 60 days before the end, so their 30-day windows have ended
    db.execute("UPDATE action_ledger SET created_at = datetime(created_at, '-30 days'), holdout = (abs(random()) % 10 = 0)")
    db.execute("UPDATE action_ledger SET email_started_at = created_at WHERE NOT holdout")
    db.execute("UPDATE action_ledger SET status = 'skipped' WHERE holdout")
    db.commit()
    db.close()


def report_child(path: str, html: str) -> dict[str, Any]:
    from winback.report import build_report
    from winback.report.render import render_html
    from winback.sync import open_store

    store = open_store(f"sqlite:///{path}")
    rss_before = current_rss_mb()
    before = Snapshot.take()
    report = build_report(store, STORE_KEY, rules_after_days={"back_to_bestsellers": 180})
    middle = Snapshot.take()
    Path(html).write_text(render_html([report]), encoding="utf-8")
    after = Snapshot.take()
    store.close()
    lift = report["rules"][0]["lift"] if report["rules"] else {}
    return {
        "report_s": round(middle.wall - before.wall, 1),
        "html_s": round(after.wall - middle.wall, 2),
        "cpu_s": round(after.cpu - before.cpu, 1),
        "rss_before_mb": round(rss_before, 1),
        "peak_rss_mb": round(after.peak_rss_mb, 1),
        "customers": report["health"]["customers"],
        "orders_in_period": report["health"]["orders"],
        "model_fitted": report["predicted"].get("fitted"),
        "validation": report["predicted"].get("validation", {}).get("done"),
        "sent_n": lift.get("sent_n"),
        "held_out_n": lift.get("held_out_n"),
        "html_kib": round(Path(html).stat().st_size / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, help="SQLite file (default: /tmp/winback-bench-report-<sizes>.db)")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("DB", "HTML"), help=argparse.SUPPRESS)
    parser.add_argument("--build-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(report_child(*args.child)))
        return
    if args.build_child:
        build_child(args.build_child, args.customers, args.orders, args.seed)
        return
    path = args.db or Path(f"/tmp/winback-bench-report-{args.customers}-{args.orders}.db")
    if args.rebuild or not path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--build-child", str(path), "--customers", str(args.customers),
                        "--orders", str(args.orders), "--seed", str(args.seed)], check=True)
        print(f"built in {time.perf_counter() - started:.0f} s")
    print(f"machine: {machine_notes()}")
    print(f"store: {args.customers} customers, {args.orders} orders in {path} ({path.stat().st_size / 2**20:.0f} MiB)")
    html = str(path.with_suffix(".html"))
    out = subprocess.run([sys.executable, __file__, "--child", str(path), html], check=True,
                         capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key, value in result.items():
        print(f"{key:>18}: {value}")


if __name__ == "__main__":
    main()
