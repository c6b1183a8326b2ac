"""winback's Ecwid sync beside dlt's ``rest_api`` source on the same emulated store, both into SQLite.

dlt is a general loader: its ``rest_api`` source pages ``/customers``, ``/orders`` and
``/products`` with the documented ``offset``/``limit`` (100, until ``total``), and its
``sqlalchemy`` destination merges every record on ``id`` into a new SQLite file (nested lists
become child tables). winback syncs the same store with its own connector and also computes its
derived facts. One emulator process serves both; runs alternate (winback, dlt, dlt, winback, ...)
and each is a fresh process. Prints wall, CPU (for dlt its child processes included), peak RSS and
the ratio dlt wall / winback wall. Asserts nothing about time.

dlt is an optional, benchmark-only dependency: ``pip install -e '.[bench]'``. Without it the script
says so and exits.

    .venv/bin/python bench/sync_dlt.py                       # 20,000 orders, one round
    .venv/bin/python bench/sync_dlt.py --orders 5000 --repeat 2
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _ratios
from _common import EmulatorProcess, Snapshot, child_spec, emit, machine_notes, process_cpu_seconds, progress, run_child, table

SCRIPT = Path(__file__).resolve()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child_dlt(spec: dict[str, Any]) -> dict[str, Any]:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    warnings.filterwarnings("ignore", module="dlt")  # its SQLAlchemy merge job's SAWarnings
    import dlt
    from dlt.sources.rest_api import rest_api_source

    settings = spec["settings"]
    config: dict[str, Any] = {
        "client": {
            "base_url": f"{settings['base_url']}/{settings['store_id']}/",
            "auth": {"type": "bearer", "token": settings["token"]},
            "paginator": {"type": "offset", "limit": 100, "offset_param": "offset", "limit_param": "limit",
                          "total_path": "total"},
        },
        "resource_defaults": {
            "primary_key": "id",
            "write_disposition": "merge",
            "endpoint": {"data_selector": "items"},
        },
        "resources": ["customers", "orders", "products"],
    }
    with tempfile.TemporaryDirectory(prefix="winback-bench-dlt-") as workdir:
        pipeline = dlt.pipeline(
            pipeline_name="ecwid_bench",
            pipelines_dir=str(Path(workdir) / "pipelines"),
            destination=dlt.destinations.sqlalchemy(credentials=f"sqlite:///{workdir}/dlt.db"),
            dataset_name="ecwid",
            progress="log" if spec.get("verbose") else None,
        )
        load = os.getloadavg()[0]
        emu0 = process_cpu_seconds(spec["emulator_pid"])
        children0 = _children_cpu()
        before = Snapshot.take()
        info = pipeline.run(rest_api_source(config))
        after = Snapshot.take()
        emu_cpu = process_cpu_seconds(spec["emulator_pid"]) - emu0
        counts = {}
        with pipeline.sql_client() as client:
            for name in ("customers", "orders", "products"):
                counts[name] = client.execute_sql(f"SELECT count(*) FROM {client.make_qualified_table_name(name)}")[0][0]
        tables = len(pipeline.default_schema.data_table_names())
    return {
        **spec, "wall_s": after.wall - before.wall,
        "cpu_s": after.cpu - before.cpu + _children_cpu() - children0,
        "peak_rss_mb": after.peak_rss_mb, "emulator_cpu_s": emu_cpu, "load_at_start": load,
        "records": counts, "orders": counts["orders"], "tables": tables, "loads": len(info.loads_ids),
    }


def _print(results: list[dict[str, Any]], n: int) -> None:
    rows = []
    for r in results:
        if "error" in r:
            print(f"FAILED: {r['kind']}: {r['error']}")
            continue
        who = "winback (sync_store)" if r["kind"] == "winback" else "dlt rest_api -> sqlalchemy/sqlite"
        orders = r.get("orders") or 0
        rows.append([who, f"{r['wall_s']:.2f}", f"{r['cpu_s']:.2f}", f"{r['cpu_s'] / max(orders, 1) * 1000:.3f}",
                     f"{r['peak_rss_mb']:.0f}", f"{orders:,}", r.get("tables", "-"), f"{r['load_at_start']:.1f}"])
    print(table(["client", "wall s", "CPU s", "CPU s/1k orders", "peak RSS MB", "orders stored", "tables", "load"], rows))
    wb = [r["wall_s"] for r in results if r.get("kind") == "winback" and "error" not in r]
    dl = [r["wall_s"] for r in results if r.get("kind") == "dlt" and "error" not in r]
    if wb and dl:
        ratio = statistics.median(dl) / statistics.median(wb)
        print(f"\nEcwid {n:,} orders: dlt wall / winback wall = {ratio:.2f} "
              f"({'winback' if ratio >= 1 else 'dlt'} faster; medians of {len(wb)} and {len(dl)} runs)")


def main() -> None:
    spec = child_spec(sys.argv)
    if spec is not None:
        emit(child_dlt(spec) if spec["kind"] == "dlt" else _ratios.child_winback(spec))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000, help="orders in the emulated store (default 20,000)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (winback then dlt, then dlt then winback, ...)")
    args = parser.parse_args()
    if importlib.util.find_spec("dlt") is None:
        print("dlt is not installed: this comparison is skipped. Install the benchmark extra: pip install -e '.[bench]'")
        return
    print(f"winback vs dlt rest_api, Ecwid, SQLite — {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine: {machine_notes()}")
    customers = _ratios._customers(args.orders)
    progress(f"ecwid {args.orders:,}: starting the emulator")
    results: list[dict[str, Any]] = []
    with EmulatorProcess("ecwid", customers=customers, orders=args.orders,
                         extra=["--requests-per-minute", "1000000", "--scopes", "all"]) as emu:
        settings = {**emu.info["settings"], "requests_per_minute": 1_000_000}
        base = {"platform": "ecwid", "mode": "ecwid", "orders_in_store": args.orders, "settings": settings,
                "emulator_pid": emu.pid, "db": "sqlite", "record_path": None}
        for r in range(args.repeat):
            for kind in (("winback", "dlt") if r % 2 == 0 else ("dlt", "winback")):
                progress(f"round {r + 1}: {kind}")
                results.append(run_child(SCRIPT, {**base, "kind": kind}))
    _print(results, args.orders)


if __name__ == "__main__":
    main()
