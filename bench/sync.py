"""Sync benchmark: an emulated store synced into the local store through ``sync_store``.

Prints figures; asserts nothing about time. Every measured run happens in a fresh Python process
(so ``ru_maxrss`` is that run's peak) and talks to a ``winback-emulator`` in another process (so the
emulator's CPU and memory are not counted as ours), except the incremental run, which needs to
change orders between two syncs and therefore runs the emulator in-process (see README).

By default (no ``--only``) it compares winback with minimal clients on the same emulator in the
same run (Shopify paged, Shopify bulk, Ecwid; 5k and 20k orders; SQLite, and PostgreSQL when
127.0.0.1:5432 answers) and prints the ratios: about 5 minutes on 2 cores. ``--only`` runs the
detailed scenarios instead.

    .venv/bin/python bench/sync.py                          # ratios, 5k + 20k orders
    .venv/bin/python bench/sync.py --sizes 20000,60000 --repeat 2 --modes ecwid
    .venv/bin/python bench/sync.py --only paged,bulk --orders 50000
    .venv/bin/python bench/sync.py --only throttled --throttled-orders 5000

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _ratios
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
    wire_dict,
)

SCRIPT = Path(__file__).resolve()
CUSTOMERS_PER_ORDER = 90_000 / 200_000
SCENARIOS = ("paged", "bulk", "incremental", "throttled", "ecwid", "ecwid-limited")


# --- in the child: one measured run ------------------------------------------------------------


def _connector(platform: str, settings: dict[str, Any], transport: WireTransport) -> Any:
    from winback.connectors.registry import load_connector_class

    return load_connector_class(platform).from_settings(settings, transport=transport)


def _db_url(spec: dict[str, Any], workdir: str) -> str:
    return spec.get("db") or f"sqlite:///{workdir}/winback-bench.db"


class _ResourceClock:
    """Per-resource elapsed time, from the sync engine's progress callback."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.last: dict[str, float] = {}

    def __call__(self, event: Any) -> None:
        self.last[event.resource.value] = time.perf_counter()

    def split(self) -> dict[str, float]:
        out, previous = {}, self.started
        for name, stamp in sorted(self.last.items(), key=lambda kv: kv[1]):
            out[name] = round(stamp - previous, 3)
            previous = stamp
        return out


def _report_dict(report: Any) -> dict[str, Any]:
    return {
        "duration_s": report.duration,
        "requests": report.requests,
        "pages": report.pages,
        "upserted": report.upserted,
        "rejected": report.rejected,
        "by_resource": {
            r.value: {"pages": rr.pages, "upserted": rr.upserted, "skipped": rr.skipped} for r, rr in report.resources.items()
        },
    }


async def _sync(connector: Any, store: Any, *, full: bool) -> tuple[Any, dict[str, float]]:
    from winback.sync import sync_store

    clock = _ResourceClock()
    async with connector:
        report = await sync_store(connector, store, full=full, progress=clock)
    return report, clock.split()


def _connector_extras(connector: Any) -> dict[str, Any]:
    gql = getattr(connector, "gql", None)
    bucket = getattr(connector, "bucket", None)
    return {
        "throttled_seen_by_connector": getattr(gql, "throttled", None),
        "bucket_waited_s": getattr(bucket, "waited_s", None),
    }


def child_full(spec: dict[str, Any]) -> dict[str, Any]:
    from winback.sync import open_store

    platform = spec["platform"]
    with tempfile.TemporaryDirectory(prefix="winback-bench-") as workdir:
        progress(f"{spec['label']}: starting the {platform} emulator ({spec['orders']:,} orders)")
        with EmulatorProcess(platform, customers=spec["customers"], orders=spec["orders"], extra=spec["emulator_args"]) as emu:
            settings = {**emu.info["settings"], **spec["settings"]}
            transport = WireTransport(read_costs=spec.get("read_costs", False))
            connector = _connector(platform, settings, transport)
            store = open_store(_db_url(spec, workdir))
            rss_before = current_rss_mb()
            emu_cpu0 = emu.cpu_seconds()
            progress(f"{spec['label']}: syncing")
            before = Snapshot.take()
            report, split = asyncio.run(_sync(connector, store, full=True))
            after = Snapshot.take()
            emu_cpu = emu.cpu_seconds() - emu_cpu0
            emu_rss = emu.rss_mb()
            store.close()
            db_file = Path(workdir) / "winback-bench.db"
            db_mb = db_file.stat().st_size / 2**20 if db_file.exists() and not spec.get("db") else None
        return {
            **spec,
            "world": {k: emu.info[k] for k in ("customers", "orders", "products")},
            "wall_s": after.wall - before.wall,
            "cpu_s": after.cpu - before.cpu,
            "peak_rss_mb": after.peak_rss_mb,
            "rss_before_sync_mb": rss_before,
            "emulator_cpu_s": emu_cpu,
            "emulator_peak_rss_mb": emu_rss,
            "emulator_total_cpu_s": emu.final_cpu_seconds,
            "db_mb": db_mb,
            "resource_s": split,
            "report": _report_dict(report),
            "wire": wire_dict(transport.stats),
            **_connector_extras(connector),
        }


def child_incremental(spec: dict[str, Any]) -> dict[str, Any]:
    from winback.emulator.generate import generate_world
    from winback.emulator.shopify import start_shopify_emulator
    from winback.sync import open_store

    progress(f"{spec['label']}: generating the world in-process ({spec['orders']:,} orders)")
    world = generate_world(1, customers=spec["customers"], orders=spec["orders"])
    server, shop = start_shopify_emulator(world, throttle=False)
    settings = {"shop": shop.shop_domain, "access_token": shop.access_token, "base_url": server.url, **spec["settings"]}
    runs: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="winback-bench-") as workdir:
            store = open_store(_db_url(spec, workdir))
            steps = [("full", True, None), ("incremental_1pct", False, spec["touch"]), ("incremental_nothing_changed", False, None)]
            for name, full, touch in steps:
                touched = len(shop.touch_orders(touch, seed=1)) if touch else 0
                transport = WireTransport()
                connector = _connector("shopify", settings, transport)
                progress(f"{spec['label']}: {name} sync")
                before = Snapshot.take()
                report, split = asyncio.run(_sync(connector, store, full=full))
                after = Snapshot.take()
                runs[name] = {
                    "touched": touched,
                    "wall_s": after.wall - before.wall,
                    "report": _report_dict(report),
                    "wire": wire_dict(transport.stats),
                    "resource_s": split,
                }
            store.close()
    finally:
        server.stop()
    return {**spec, "runs": runs}


# --- in the parent: plan, run, print -----------------------------------------------------------


def _customers(orders: int) -> int:
    return max(10, round(orders * CUSTOMERS_PER_ORDER))


def plan(args: argparse.Namespace) -> list[dict[str, Any]]:
    wanted = set(args.only.split(",")) if args.only else set(SCENARIOS)
    if args.skip_throttled:
        wanted -= {"throttled", "ecwid-limited"}
    platforms = ("shopify", "ecwid") if args.platform == "both" else (args.platform,)
    sizes = sorted({args.small_orders, args.orders}) if args.small_orders else [args.orders]
    specs: list[dict[str, Any]] = []

    def full(label: str, platform: str, orders: int, emulator_args: list[str], settings: dict[str, Any], **extra: Any) -> None:
        customers = args.customers if orders == args.orders and args.customers else _customers(orders)
        specs.append({
            "kind": "full", "label": label, "platform": platform, "orders": orders, "customers": customers,
            "emulator_args": emulator_args, "settings": settings, "db": args.db, **extra,
        })

    if "shopify" in platforms:
        for mode, threshold in (("paged", None), ("bulk", 0)):
            if mode in wanted:
                for n in sizes:
                    full(f"shopify {mode} {n:,}", "shopify", n, ["--no-throttle"], {"bulk_threshold": threshold}, mode=mode)
        if "incremental" in wanted:
            n = args.incremental_orders or args.orders
            specs.append({
                "kind": "incremental", "label": f"shopify incremental {n:,}", "platform": "shopify", "orders": n,
                "customers": args.customers if n == args.orders and args.customers else _customers(n),
                "settings": {}, "touch": 0.01, "db": args.db,
            })
        if "throttled" in wanted:
            n = args.throttled_orders
            full(
                f"shopify throttled {n:,}", "shopify", n, ["--bucket-size", "2000", "--restore-rate", "100"],
                {"bulk_threshold": None}, mode="paged", read_costs=True,
            )
    if "ecwid" in platforms:
        unlimited = {"requests_per_minute": 1_000_000}
        if "ecwid" in wanted:
            for n in sizes:
                full(f"ecwid {n:,}", "ecwid", n, ["--requests-per-minute", "1000000", "--scopes", "all"], unlimited, mode="paged")
        if "ecwid-limited" in wanted:
            n = args.limited_orders
            full(f"ecwid 600/min {n:,}", "ecwid", n, ["--requests-per-minute", "600", "--scopes", "all"], {"requests_per_minute": 600}, mode="paged")
    return specs


def _print_full(r: dict[str, Any]) -> None:
    rep, wall = r["report"], r["wall_s"]
    orders = rep["by_resource"].get("orders", {}).get("upserted", 0)
    waiting = max(0.0, wall - r["cpu_s"])
    print(f"\n== {r['label']}  (world: {r['world']['orders']:,} orders, {r['world']['customers']:,} customers, "
          f"{r['world']['products']} products)")
    print(f"  wall time                 {wall:9.1f} s   ({wall / max(orders, 1) * 10_000:.1f} s per 10k orders)")
    print(f"  orders/s end to end       {rate(orders, wall):>9}   ({orders:,} orders upserted)")
    print(f"  records/s overall         {rate(rep['upserted'], wall):>9}   ({rep['upserted']:,} records, {rep['pages']:,} pages)")
    print(f"  time per resource         {', '.join(f'{k} {v:.1f} s' for k, v in r['resource_s'].items())}")
    print(f"  requests (HttpClient)     {rep['requests']!s:>9}   on the wire incl. bulk download: {r['wire']['requests']:,}"
          f"  statuses {r['wire']['status']}")
    print(f"  our CPU                   {r['cpu_s']:9.1f} s   = {r['cpu_s'] / wall:.0%} of wall; "
          f"waiting/other {waiting:.1f} s = {waiting / wall:.0%}")
    print(f"  emulator CPU (its process){r['emulator_cpu_s']:9.1f} s   = {r['emulator_cpu_s'] / wall:.0%} of wall "
          f"(its whole life incl. world generation: {r['emulator_total_cpu_s']:.1f} s; its peak RSS "
          f"{r['emulator_peak_rss_mb']:.0f} MB)")
    print(f"  our peak RSS (ru_maxrss)  {r['peak_rss_mb']:9.0f} MB  (RSS before the sync {r['rss_before_sync_mb']:.0f} MB; "
          f"growth {r['peak_rss_mb'] - r['rss_before_sync_mb']:.0f} MB)")
    if r.get("db_mb") is not None:
        print(f"  SQLite file               {r['db_mb']:9.0f} MB")
    if r.get("read_costs"):
        w = r["wire"]
        print(f"  cost points used          actual {w['actual_cost']:,.0f} = {w['actual_cost'] / wall:.1f} pts/s, "
              f"requested {w['requested_cost']:,.0f} = {w['requested_cost'] / wall:.1f} pts/s; "
              f"allowed: restoreRate {w['restore_rate']} pts/s, bucket {w['bucket_size']}")
        print(f"  THROTTLED answers         {w['throttled']:9d}   (connector counted {r['throttled_seen_by_connector']}); "
              f"time the connector waited for the bucket {r['bucket_waited_s']:.1f} s")
    if r["platform"] == "ecwid" and r["settings"].get("requests_per_minute", 0) <= 600:
        n = r["wire"]["requests"]
        print(f"  request rate              {n / wall * 60:9.0f} /min  (allowed 600/min); 429s: {r['wire']['status'].get('429', 0)}")


def _print_incremental(r: dict[str, Any]) -> None:
    print(f"\n== {r['label']}  (emulator in THIS process, in a thread: wall times include its work; "
          f"compare requests, and times only within this block)")
    rows = []
    for name, run in r["runs"].items():
        rep = run["report"]
        rows.append([
            name, f"{run['touched']:,}", f"{run['wall_s']:.2f}", rep["requests"], run["wire"]["requests"],
            rep["pages"], f"{rep['by_resource'].get('orders', {}).get('upserted', 0):,}", f"{rep['upserted']:,}",
        ])
    print(table(["run", "orders touched", "wall s", "requests", "on wire", "pages", "orders upserted", "records upserted"], rows))


def _summary(results: list[dict[str, Any]]) -> None:
    rows = []
    for r in results:
        if r.get("kind") != "full" or "error" in r:
            continue
        orders = r["report"]["by_resource"].get("orders", {}).get("upserted", 0)
        rows.append([
            r["label"], f"{r['wall_s']:.1f}", rate(orders, r["wall_s"]), rate(r["report"]["upserted"], r["wall_s"]),
            r["report"]["requests"], f"{r['cpu_s'] / r['wall_s']:.0%}", f"{r['emulator_cpu_s'] / r['wall_s']:.0%}",
            f"{r['peak_rss_mb']:.0f}",
        ])
    if rows:
        print("\n== summary (full syncs)")
        print(table(["run", "wall s", "orders/s", "records/s", "requests", "our CPU", "emulator CPU", "peak RSS MB"], rows))


def main() -> None:
    spec = child_spec(sys.argv)
    if spec is not None:
        children = {"full": child_full, "incremental": child_incremental,
                    "winback": _ratios.child_winback, "minimal": _ratios.child_minimal}
        emit(children[spec["kind"]](spec))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000, help="with --only: orders in the large store")
    parser.add_argument(
        "--customers", type=int, default=None,
        help="customers in the --orders store (default 0.45 per order: 90,000 for 200,000); other sizes keep 0.45",
    )
    parser.add_argument("--small-orders", type=int, default=20_000, help="a smaller store run next to it to show memory stays flat (0: skip)")
    parser.add_argument("--platform", choices=["shopify", "ecwid", "both"], default="shopify")
    parser.add_argument("--db", default=None, help="SQLAlchemy URL of the local store (default: a new temp SQLite file per run)")
    parser.add_argument("--skip-throttled", action="store_true", help="skip the runs under real rate limits")
    parser.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(SCENARIOS)}")
    parser.add_argument("--incremental-orders", type=int, default=None, help="store size of the incremental run (default --orders)")
    parser.add_argument("--throttled-orders", type=int, default=1_000, help="Shopify store size under the real throttle")
    parser.add_argument("--limited-orders", type=int, default=5_000, help="Ecwid store size at the real 600 requests/min")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    ratios = parser.add_argument_group("comparison with minimal clients (the default, without --only)")
    ratios.add_argument("--sizes", default="5000,20000", help="comma-separated store sizes in orders (default 5000,20000)")
    ratios.add_argument("--large", action="store_true", help="add a 60,000-order store to --sizes")
    ratios.add_argument("--modes", default=",".join(_ratios.MODES), help=f"comma-separated subset of {','.join(_ratios.MODES)}")
    ratios.add_argument("--repeat", type=int, default=1, help="rounds per store; rounds alternate which store goes first")
    ratios.add_argument("--timeout", type=float, default=900, help="seconds one run may take before it is stopped and reported FAILED")
    ratios.add_argument("--no-postgres", action="store_true", help="SQLite only, even when PostgreSQL is reachable")
    args = parser.parse_args()
    if not args.only:
        compare(args)
        return

    print(f"winback sync benchmark — {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine: {machine_notes()}")
    print("note: the emulator runs in its own process on the same machine and competes for the same cores.")
    if args.db:
        print(f"local store: {args.db} (shared by all runs)")
    else:
        print("local store: a new temporary SQLite file per run")
    results = []
    for spec in plan(args):
        result = run_child(SCRIPT, spec)
        results.append(result)
        if "error" in result:
            print(f"\n== {spec['label']}: FAILED ({result['error']})")
        elif result["kind"] == "full":
            _print_full(result)
        else:
            _print_incremental(result)
        sys.stdout.flush()
    _summary(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


def compare(args: argparse.Namespace) -> None:
    sizes = [int(x) for x in args.sizes.split(",") if x] + ([60_000] if args.large else [])
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(_ratios.MODES)
    if unknown:
        raise SystemExit(f"unknown --modes {sorted(unknown)}: choose from {','.join(_ratios.MODES)}")
    print(f"winback sync beside minimal clients — {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine: {machine_notes()}")
    print("note: the emulator runs in its own process on the same cores; ratios are taken between runs "
          "of the same round on the same emulator.")
    results = _ratios.run_comparison(SCRIPT, sorted(set(sizes)), modes, args.repeat, not args.no_postgres, args.timeout)
    _ratios.print_comparison(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
