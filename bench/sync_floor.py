"""winback's Ecwid sync beside a bare loader of the same answers into the same SQLite tables.

Why: issue 13 asks for at most 0.1 s of client CPU per 1,000 orders. This prints how far any
Python loader into these tables is from that, measured in the same run: the **floor** decodes the
recorded answers (msgspec, as winback does), turns each order, line and customer into a row
tuple straight from the JSON (no model, no checks, no quarantine, amounts by float arithmetic,
times as Ecwid's own text) and upserts them with ``executemany`` into a copy of winback's own
schema (same tables, indexes, pragmas and foreign keys), committing every ``BATCH_RECORDS``
records as winback does. It computes no derived facts, keeps no cursor and reads no tombstones.
winback replays the very same answers (``profile_sync_cpu.Replayer``) into a fresh store.
Both run in this process, alternately; CPU is ``time.process_time``.

    .venv/bin/python bench/sync_floor.py --orders 20000 --repeat 3

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import EmulatorProcess  # noqa: E402
from profile_sync_cpu import Recorder, Replayer, _connector, _sync  # noqa: E402

from winback.sync.engine import BATCH_RECORDS  # noqa: E402

PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON")


def _bodies(recorder: Recorder) -> list[tuple[str, bytes]]:
    """The recorded orders and customers pages, in the order winback read them."""
    found = []
    for (_method, url, _body), answers in recorder.answers.items():
        kind = "orders" if "/orders" in url else "customers" if "/customers" in url else None
        if kind:
            found += [(kind, raw) for status, _headers, raw in answers if status == 200]
    return found


def _schema_copy(winback_db: Path, path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    source = sqlite3.connect(winback_db)
    for (sql,) in source.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"):
        conn.execute(sql)
    store = source.execute("SELECT * FROM stores").fetchone()
    conn.execute(f"INSERT INTO stores VALUES ({', '.join('?' * len(store))})", store)
    source.close()
    return conn


def _upsert(conn: sqlite3.Connection, table: str, key: tuple[str, ...]) -> str:
    columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}")


def _cents(value: Any) -> int:
    return round((value or 0) * 100)


def _order_rows(store: str, order: dict[str, Any]) -> Iterator[tuple[str, tuple[Any, ...]]]:
    oid, email = str(order.get("id")), order.get("email")
    person = order.get("billingPerson")
    customer = order.get("customerId")
    yield "orders", (
        store, oid, None if customer is None else str(customer), email, email and email.lower(), oid,
        order.get("createDate"), order.get("updateDate"), order.get("createDate"), None, False,
        order.get("paymentStatus") or "", "USD", _cents(order.get("total")), None, None, order.get("acceptMarketing"),
        None if person is None else msgspec.json.encode(person).decode(), order.get("createDate"),
        _cents(order.get("total")), True, "[]", order.get("fulfillmentStatus"), None, None,
    )
    for position, line in enumerate(order.get("items") or ()):
        quantity = line.get("quantity") or 0
        yield "order_lines", (
            store, oid, str(line.get("id")), position, str(line.get("productId")), None, line.get("sku"),
            line.get("name") or "", quantity, quantity, _cents(line.get("price")), "USD",
        )


def _customer_row(store: str, customer: dict[str, Any]) -> tuple[Any, ...]:
    email = customer.get("email")
    return (
        store, str(customer.get("id")), email, email and email.lower(), customer.get("name"), None, None,
        customer.get("registered"), customer.get("updated") or customer.get("registered"), "enabled",
        "subscribed", None, None, None, None, "[]", None, False, None, False, None, None, 0, 0, None, None,
    )


def floor(bodies: list[tuple[str, bytes]], winback_db: Path, path: Path) -> float:
    """CPU seconds to load ``bodies`` into a copy of winback's schema at ``path``."""
    conn = _schema_copy(winback_db, path)
    store = conn.execute("SELECT key FROM stores").fetchone()[0]
    statements = {
        "orders": _upsert(conn, "orders", ("store_key", "id")),
        "order_lines": _upsert(conn, "order_lines", ("store_key", "order_id", "id")),
        "customers": _upsert(conn, "customers", ("store_key", "id")),
    }
    decode = msgspec.json.Decoder().decode
    started = time.process_time()
    pending: dict[str, list[tuple[Any, ...]]] = {name: [] for name in statements}
    held = 0
    for kind, body in bodies + [("", b"")]:
        if held >= BATCH_RECORDS or (not kind and held):
            conn.execute("BEGIN IMMEDIATE")
            for name, rows in pending.items():
                if rows:
                    conn.executemany(statements[name], rows)
                    rows.clear()
            conn.execute("COMMIT")
            held = 0
        if not kind:
            break
        items = decode(body).get("items") or []
        held += len(items)
        for item in items:
            if kind == "orders":
                for table, row in _order_rows(store, item):
                    pending[table].append(row)
            else:
                pending["customers"].append(_customer_row(store, item))
    cpu = time.process_time() - started
    conn.close()
    return cpu


def counts(path: Path) -> dict[str, int]:
    """Rows per table the floor writes, to show both loaded the same records."""
    conn = sqlite3.connect(path)
    try:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("orders", "order_lines", "customers")}
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    customers = max(10, round(args.orders * 0.45))
    extra = ["--requests-per-minute", "1000000", "--scopes", "all"]
    with tempfile.TemporaryDirectory(prefix="winback-floor-") as workdir:
        with EmulatorProcess("ecwid", customers=customers, orders=args.orders, extra=extra) as emu:
            settings = {**emu.info["settings"], "requests_per_minute": 1_000_000}
            recorder = Recorder()
            asyncio.run(_sync(_connector("ecwid", settings, recorder), f"sqlite:///{workdir}/recorded.db"))
        bodies = _bodies(recorder)
        print(f"Ecwid {args.orders:,} orders: {len(bodies)} recorded pages of orders and customers; "
              f"batches of {BATCH_RECORDS:,} records", flush=True)
        ours, theirs = [], []
        for n in range(1, args.repeat + 1):
            started = time.process_time()
            report = asyncio.run(_sync(_connector("ecwid", settings, Replayer(recorder.answers)),
                                       f"sqlite:///{workdir}/winback{n}.db"))
            ours.append(time.process_time() - started)
            theirs.append(floor(bodies, Path(workdir) / "recorded.db", Path(workdir) / f"floor{n}.db"))
            same = counts(Path(workdir) / f"winback{n}.db") == counts(Path(workdir) / f"floor{n}.db")
            print(f"round {n}: {'same rows' if same else 'DIFFERENT row counts'}; winback {ours[-1]:.2f} s CPU ({report.upserted:,} records), "
                  f"floor {theirs[-1]:.2f} s CPU; per 1,000 orders {ours[-1] / args.orders * 1000:.3f} s "
                  f"vs {theirs[-1] / args.orders * 1000:.3f} s: ratio {ours[-1] / theirs[-1]:.2f}", flush=True)
        ours.sort()
        theirs.sort()
        middle = len(ours) // 2
        print(f"medians per 1,000 orders: winback {ours[middle] / args.orders * 1000:.3f} s, "
              f"floor {theirs[middle] / args.orders * 1000:.3f} s; the 0.1 s goal is "
              f"{0.1 / (theirs[middle] / args.orders * 1000):.2f}x the floor")


if __name__ == "__main__":
    main()
