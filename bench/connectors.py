"""Connector benchmark: read-only throughput of each connector's orders stream (no database).

Each run reads every order of an emulated store with ``connector.orders(None, full=True)`` in a
fresh Python process (so ``ru_maxrss`` is that run's peak) against a ``winback-emulator`` in its own
process with rate limits lifted. Prints figures; asserts nothing about time.

    .venv/bin/python bench/connectors.py                    # 20k orders: Shopify paged + bulk, Ecwid
    .venv/bin/python bench/connectors.py --orders 200000 --platform shopify

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    EmulatorProcess,
    Snapshot,
    WireTransport,
    child_spec,
    current_rss_mb,
    emit,
    machine_notes,
    progress,
    rate,
    run_child,
    table,
)

SCRIPT = Path(__file__).resolve()
RUNS = {
    "shopify-paged": ("shopify", ["--no-throttle"], {"bulk_threshold": None}),
    "shopify-bulk": ("shopify", ["--no-throttle"], {"bulk_threshold": 0}),
    "ecwid": ("ecwid", ["--requests-per-minute", "1000000", "--scopes", "all"], {"requests_per_minute": 1_000_000}),
}


async def _drain(connector: Any) -> tuple[int, int, int, int]:
    orders = rejected = pages = lines = 0
    async with connector:
        async for page in connector.orders(None, full=True):
            pages += 1
            orders += len(page.records)
            rejected += len(page.rejected)
            lines += sum(len(o.line_items) for o in page.records)
    return orders, rejected, pages, lines


def child(spec: dict[str, Any]) -> dict[str, Any]:
    from winback.connectors.registry import load_connector_class

    platform, emulator_args, overrides = RUNS[spec["run"]]
    progress(f"{spec['run']}: starting the emulator ({spec['orders']:,} orders)")
    with EmulatorProcess(platform, customers=spec["customers"], orders=spec["orders"], extra=emulator_args) as emu:
        transport = WireTransport()
        connector = load_connector_class(platform).from_settings({**emu.info["settings"], **overrides}, transport=transport)
        rss_before = current_rss_mb()
        emu_cpu0 = emu.cpu_seconds()
        progress(f"{spec['run']}: reading")
        before = Snapshot.take()
        orders, rejected, pages, lines = asyncio.run(_drain(connector))
        after = Snapshot.take()
        emu_cpu = emu.cpu_seconds() - emu_cpu0
    return {
        **spec,
        "orders_read": orders,
        "rejected": rejected,
        "pages": pages,
        "line_items": lines,
        "requests": transport.stats.requests,
        "wall_s": after.wall - before.wall,
        "cpu_s": after.cpu - before.cpu,
        "emulator_cpu_s": emu_cpu,
        "peak_rss_mb": after.peak_rss_mb,
        "rss_before_mb": rss_before,
    }


def main() -> None:
    spec = child_spec(sys.argv)
    if spec is not None:
        emit(child(spec))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=None, help="default 0.45 per order")
    parser.add_argument("--platform", choices=["shopify", "ecwid", "both"], default="both")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    args = parser.parse_args()
    customers = args.customers or max(10, round(args.orders * 0.45))
    runs = [r for r in RUNS if args.platform == "both" or r.startswith(args.platform)]

    print(f"winback connector read benchmark — {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine: {machine_notes()}")
    print(f"store: {args.orders:,} orders, {customers:,} customers; the emulator runs in its own process on the same cores")
    results, rows = [], []
    for run in runs:
        result = run_child(SCRIPT, {"run": run, "orders": args.orders, "customers": customers})
        results.append(result)
        if "error" in result:
            rows.append([run, "FAILED", result["error"], "", "", "", "", "", ""])
            continue
        wall = result["wall_s"]
        rows.append([
            run, f"{result['orders_read']:,}", f"{wall:.1f}", rate(result["orders_read"], wall),
            result["requests"], f"{result['cpu_s'] / wall:.0%}", f"{result['emulator_cpu_s'] / wall:.0%}",
            f"{result['peak_rss_mb']:.0f}", f"{result['peak_rss_mb'] - result['rss_before_mb']:.0f}",
        ])
    print()
    print(table(
        ["run", "orders", "wall s", "orders/s", "requests", "our CPU", "emulator CPU", "peak RSS MB", "growth MB"], rows
    ))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
