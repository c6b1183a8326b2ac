"""``bench/sync.py``'s default mode: winback's sync beside a minimal client, in the same run.

For each platform and store size one emulator process is started and serves, alternately, winback
syncs (each a fresh process, its own new local store: SQLite, and PostgreSQL when reachable) and
the minimal clients of :mod:`_minimal` (fresh processes too). The first winback run records its
requests; the replaying client sends them again. Figures are per process: wall, CPU (user +
system, all threads: winback's SQLite work in threads counts, the emulator's does not), peak RSS,
and the emulator's CPU over the same interval. Ratios are taken between runs of the same round on
the same emulator, so they hold however loaded the machine is; the load average is printed beside.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    EmulatorProcess,
    ScratchDatabase,
    Snapshot,
    WireTransport,
    postgres_reachable,
    process_cpu_seconds,
    progress,
    run_child,
    table,
)

CUSTOMERS_PER_ORDER = 90_000 / 200_000
MODES = ("shopify-paged", "shopify-bulk", "ecwid")


# --- in a child: one measured run ----------------------------------------------------------------


def _measure(emulator_pid: int, work: Any) -> tuple[Any, dict[str, Any]]:
    load = os.getloadavg()[0]
    emu0 = process_cpu_seconds(emulator_pid)
    before = Snapshot.take()
    out = work()
    after = Snapshot.take()
    return out, {
        "wall_s": after.wall - before.wall,
        "cpu_s": after.cpu - before.cpu,
        "peak_rss_mb": after.peak_rss_mb,
        "emulator_cpu_s": process_cpu_seconds(emulator_pid) - emu0,
        "load_at_start": load,
    }


def child_winback(spec: dict[str, Any]) -> dict[str, Any]:
    from winback.connectors.registry import load_connector_class
    from winback.sync import open_store, sync_store

    transport = WireTransport(record=bool(spec.get("record_path")))
    connector = load_connector_class(spec["platform"]).from_settings(spec["settings"], transport=transport)

    async def run() -> Any:
        async with connector:
            return await sync_store(connector, store, full=True)

    with tempfile.TemporaryDirectory(prefix="winback-bench-") as workdir:
        db = ScratchDatabase(name=spec.get("pg_name")) if spec["db"] == "postgresql" else None
        url = db.__enter__().url if db else f"sqlite:///{workdir}/winback-bench.db"
        try:
            store = open_store(url)
            report, figures = _measure(spec["emulator_pid"], lambda: asyncio.run(run()))
            store.close()
        finally:
            if db:
                db.__exit__()
    if spec.get("record_path"):
        Path(spec["record_path"]).write_text(json.dumps(transport.recorded))
    orders = report.resources
    by = {r.value: rr.upserted for r, rr in orders.items()}
    return {**spec, **figures, "report_duration_s": report.duration, "requests": transport.stats.requests,
            "upserted": by, "orders": by.get("orders", 0)}


def child_minimal(spec: dict[str, Any]) -> dict[str, Any]:
    from _minimal import ecwid_documented, replay

    settings = spec["settings"]
    if spec["client"] == "documented":
        api = f"{settings['base_url']}/{settings['store_id']}"
        out, figures = _measure(spec["emulator_pid"], lambda: ecwid_documented(api, settings["token"]))
    else:
        recorded = json.loads(Path(spec["record_path"]).read_text())
        out, figures = _measure(spec["emulator_pid"], lambda: replay(recorded))
    return {**spec, **figures, **out}


# --- in the parent -------------------------------------------------------------------------------


def _customers(orders: int) -> int:
    return max(10, round(orders * CUSTOMERS_PER_ORDER))


def _run(script: Path, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One child; its figures are printed to stderr as soon as it ends, so a run cut short loses nothing."""
    result = run_child(script, spec, timeout=timeout)
    if "error" in result:
        progress(f"  -> FAILED: {result['error']}")
    else:
        progress(f"  -> wall {result['wall_s']:.2f} s, CPU {result['cpu_s']:.2f} s, peak RSS {result['peak_rss_mb']:.0f} MB, "
                 f"emulator CPU {result['emulator_cpu_s']:.2f} s, load {result['load_at_start']:.1f}")
    return result


def run_comparison(script: Path, sizes: list[int], modes: list[str], repeat: int, use_postgres: bool,
                   timeout: float = 900) -> list[dict[str, Any]]:
    dbs = ["sqlite"]
    if use_postgres:
        why = postgres_reachable()
        if why is None:
            dbs.append("postgresql")
        else:
            print(f"PostgreSQL skipped: {why}")
    results: list[dict[str, Any]] = []
    for platform in ("shopify", "ecwid"):
        wanted = [m for m in modes if m.startswith(platform)]
        if not wanted:
            continue
        extra = ["--no-throttle"] if platform == "shopify" else ["--requests-per-minute", "1000000", "--scopes", "all"]
        for n in sizes:
            progress(f"{platform} {n:,}: starting the emulator")
            with EmulatorProcess(platform, customers=_customers(n), orders=n, extra=extra) as emu, \
                    tempfile.TemporaryDirectory(prefix="winback-bench-rec-") as recdir:
                for mode in wanted:
                    results.extend(_rounds(script, emu, platform, mode, n, dbs, repeat, Path(recdir), timeout))
    return results


def _rounds(script: Path, emu: EmulatorProcess, platform: str, mode: str, n: int, dbs: list[str],
            repeat: int, recdir: Path, timeout: float) -> list[dict[str, Any]]:
    settings = dict(emu.info["settings"])
    if platform == "shopify":
        settings["bulk_threshold"] = 0 if mode == "shopify-bulk" else None
    else:
        settings["requests_per_minute"] = 1_000_000
    base = {"platform": platform, "mode": mode, "orders_in_store": n, "settings": settings, "emulator_pid": emu.pid}
    record = str(recdir / f"{mode}.json")
    minimal = ["replay", "documented"] if platform == "ecwid" else ["replay"]
    out: list[dict[str, Any]] = []
    recorded = False

    def winback(db: str) -> None:
        nonlocal recorded
        progress(f"{mode} {n:,}: winback sync into {db}")
        scratch = ScratchDatabase() if db == "postgresql" else None
        spec = {**base, "kind": "winback", "db": db, "record_path": None if recorded else record,
                "pg_name": scratch.name if scratch else None}
        try:
            out.append(_run(script, spec, timeout))
        finally:
            if scratch:  # a child stopped by the timeout could not drop it
                scratch.__exit__()
        recorded = recorded or "error" not in out[-1]

    def minimal_runs() -> None:
        for client in minimal:
            if client == "replay" and not recorded:
                continue
            progress(f"{mode} {n:,}: minimal client ({client})")
            out.append(_run(script, {**base, "kind": "minimal", "client": client, "record_path": record}, timeout))

    for r in range(repeat):
        order = dbs if r % 2 == 0 else list(reversed(dbs))
        winback(order[0])
        minimal_runs()
        for db in order[1:]:
            winback(db)
    return out


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def print_comparison(results: list[dict[str, Any]]) -> None:
    failed = [r for r in results if "error" in r]
    for r in failed:
        print(f"FAILED: {r.get('kind')} {r.get('mode')} {r.get('orders_in_store')} {r.get('db', r.get('client'))}: {r['error']}")
    ok = [r for r in results if "error" not in r]
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in ok:
        groups.setdefault((r["mode"], r["orders_in_store"]), []).append(r)
    rows, detail = [], []
    for (mode, n), runs in groups.items():
        minimal = {c: [r for r in runs if r.get("client") == c] for c in ("replay", "documented")}
        for db in ("sqlite", "postgresql"):
            wb = [r for r in runs if r["kind"] == "winback" and r["db"] == db]
            if not wb:
                continue
            wall, cpu = _median(wb, "wall_s"), _median(wb, "cpu_s")
            orders = max(r["orders"] for r in wb)
            k = max(orders, 1) / 1000
            cells = [f"{mode} {n:,}", db, f"{wall:.1f}", f"{cpu / k:.3f}", f"{max(r['peak_rss_mb'] for r in wb):.0f}"]
            for client in ("replay", "documented"):
                m = minimal[client]
                if m:
                    mw = _median(m, "wall_s")
                    cells += [f"{mw:.1f}", f"{wall / mw:.2f}x"]
                else:
                    cells += ["-", "-"]
            if mode == "ecwid" and minimal["documented"]:
                cells.append(f"{_median(wb, 'report_duration_s') / _median(minimal['documented'], 'wall_s'):.2f}x")
            else:
                cells.append("-")
            cells += [f"{_median(wb, 'emulator_cpu_s') / k:.3f}", f"{statistics.mean(r['load_at_start'] for r in wb):.1f}"]
            rows.append(cells)
        for r in runs:
            who = f"winback/{r['db']}" if r["kind"] == "winback" else f"minimal/{r['client']}"
            k = max(r.get("orders") or n, 1) / 1000
            detail.append([f"{mode} {n:,}", who, f"{r['wall_s']:.2f}", f"{r['cpu_s']:.2f}", f"{r['cpu_s'] / k:.3f}",
                           f"{r['emulator_cpu_s']:.2f}", f"{r['peak_rss_mb']:.0f}", r.get("requests", "-"),
                           f"{r['load_at_start']:.1f}"])
    print("\n== every run, in the order run")
    print(table(["run", "client", "wall s", "CPU s", "CPU s/1k orders", "emulator CPU s", "peak RSS MB",
                 "requests", "load"], detail))
    print("\n== winback beside the minimal clients (medians; ratio = winback wall / minimal wall)")
    print(table(["run", "store", "winback wall s", "winback CPU s/1k", "peak RSS MB", "replay wall s",
                 "ratio", "documented wall s", "ratio", "`winback sync` time / documented",
                 "emulator CPU s/1k (winback run)", "load"], rows))
    print("\nreplay: the same requests winback sent (Shopify: same GraphQL documents and cursors, bulk "
          "export run, polled and downloaded again); documented: Ecwid's plain offset/limit paging of "
          "customers, orders and products. Both only JSON-decode what they receive.")
    print(f"(printed {time.strftime('%H:%M:%S')})")
