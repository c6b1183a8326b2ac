"""Ecwid sync with a real platform's round trip: one request at a time against a few in flight.

Loopback answers in a few milliseconds, so the other benchmarks measure winback's CPU; a real
Ecwid answers a page of 100 orders in a few hundred. Here the emulator delays every answer by
``--latency-ms`` and keeps Ecwid's real rate limit (600 requests a minute, which winback's pacing
honours too), and winback syncs the same store with ``concurrent_requests`` 1 (serial) and the
default (a window's pages read together). Runs alternate, each a fresh process with a new SQLite
file. Prints wall, requests, the request rate reached against the 600 allowed, and the ratio
serial wall / concurrent wall. Asserts nothing about time.

    .venv/bin/python bench/sync_latency.py                      # 5,000 orders, 200 ms, one round
    .venv/bin/python bench/sync_latency.py --orders 2000 --latency-ms 400 --repeat 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _ratios
from _common import EmulatorProcess, child_spec, emit, machine_notes, progress, run_child, table

from winback.connectors.ecwid.settings import EcwidSettings

SCRIPT = Path(__file__).resolve()
ECWID_RATE = 600
DEFAULT_CONCURRENCY = EcwidSettings.model_fields["concurrent_requests"].default


def main() -> None:
    spec = child_spec(sys.argv)
    if spec is not None:
        emit(_ratios.child_winback(spec))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--latency-ms", type=float, default=200.0, help="the emulator's delay per answer")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (serial then concurrent, then the reverse, ...)")
    args = parser.parse_args()
    print(f"Ecwid sync at {args.latency_ms:.0f} ms per answer, {ECWID_RATE} requests a minute — "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine: {machine_notes()}")
    results: list[dict[str, Any]] = []
    with EmulatorProcess("ecwid", customers=_ratios._customers(args.orders), orders=args.orders,
                         extra=["--requests-per-minute", str(ECWID_RATE), "--scopes", "all",
                                "--latency-ms", str(args.latency_ms)]) as emu:
        base = {"platform": "ecwid", "mode": "ecwid", "emulator_pid": emu.pid, "db": "sqlite", "record_path": None}
        for r in range(args.repeat):
            for concurrency in ((1, DEFAULT_CONCURRENCY) if r % 2 == 0 else (DEFAULT_CONCURRENCY, 1)):
                progress(f"round {r + 1}: concurrent_requests={concurrency}")
                settings = {**emu.info["settings"], "requests_per_minute": ECWID_RATE,
                            "concurrent_requests": concurrency}
                results.append({**run_child(SCRIPT, {**base, "settings": settings}), "concurrency": concurrency})
    rows = []
    for r in results:
        if "error" in r:
            print(f"FAILED: concurrent_requests={r['concurrency']}: {r['error']}")
            continue
        rows.append([r["concurrency"], f"{r['wall_s']:.1f}", f"{r['cpu_s']:.2f}", r["requests"],
                     f"{r['requests'] / r['wall_s'] * 60:.0f}", f"{r['orders']:,}"])
    print(table(["concurrent_requests", "wall s", "CPU s", "requests", "requests/min", "orders stored"], rows))
    walls = {c: [r["wall_s"] for r in results if r["concurrency"] == c and "error" not in r]
             for c in (1, DEFAULT_CONCURRENCY)}
    if all(walls.values()):
        ratio = statistics.median(walls[1]) / statistics.median(walls[DEFAULT_CONCURRENCY])
        print(f"\nserial wall / concurrent wall = {ratio:.2f} (medians of {len(walls[1])} runs each; "
              f"the rate limit allows at most {ECWID_RATE} requests a minute)")


if __name__ == "__main__":
    main()
