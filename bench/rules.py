"""Rules benchmark: plan the built-in rules over a large synthetic store in SQLite.

Builds (in a child process; once, reused when the file exists) a local store with ``--customers`` customers and
``--orders`` orders written with bulk ``executemany`` inserts in the stored formats of
:mod:`winback.sync.types`, computes the derived facts (customers' and ``buyers``) in a few
set-based SQL statements, then plans each rule in a fresh Python process (``ru_maxrss`` survives
fork + exec, so the parent stays small and the figure is the planning process's own peak) and prints the number of actions, seconds, SQL statements and peak RSS.

    .venv/bin/python bench/rules.py                                   # 1M customers, 5M orders
    .venv/bin/python bench/rules.py --customers 100000 --orders 500000
    .venv/bin/python bench/rules.py --db /tmp/big.db --rules back_to_bestsellers

Data shape: 10 % of orders are guest checkouts (emails without a customer row, half of them
accepting marketing); 60 % of customers are subscribed; orders spread over three years with 3 %
cancelled, 1 % tests and 2 % fully refunded; 1-3 lines each over ``--products`` products, 90 %
active; 5 % of buyers already have a settled reminder in the ledger (step 1 of a sequence, 30 days
ago: ``back_to_bestsellers_steps`` plans their step 2); a third of customers have a birth date
(added to an older file on first use); real orders ship within 3 days and 80 % of them report
delivery 1-6 days later (``feedback_request``). Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import Snapshot, current_rss_mb, machine_notes

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
STORE_KEY = "ecwid:bench"
BATCH = 50_000
RULES: dict[str, dict[str, Any]] = {
    "back_to_bestsellers": {"discount": {"kind": "percentage", "value": 10}},
    "back_to_bestsellers_cadence": {"cadence": True},
    "back_to_bestsellers_co_purchase": {"recommend": "co_purchase"},
    "back_to_bestsellers_p_alive": {"timing": "p_alive"},
    "back_to_bestsellers_steps": {"steps": [{"after_days": 180}, {"after_days": 14, "discount": {
        "kind": "percentage", "value": 10}}, {"after_days": 14}]},
    "auto_create_accounts": {},
    "discount_codes": {"segment": {"nth_order": 2}, "kind": "percentage", "value": 10},
    "replenishment": {},
    "replenishment_bestsellers": {"recommend": "bestsellers"},
    "vip_tiers": {"tiers": [{"name": "Silver", "min_spend": 100}, {"name": "Gold", "min_spend": 400, "min_orders": 4}],
                  "perk": {"kind": "percentage", "value": 15}},
    "birthday": {"discount": {"kind": "percentage", "value": 15}, "days_before": 7},
    "feedback_request": {"min_days_between": 30},
}
BUILT_IN = ("back_to_bestsellers", "auto_create_accounts", "discount_codes", "replenishment", "vip_tiers", "birthday",
            "feedback_request")
"""The rules behind the names above: a longer name is a built-in rule with other options."""


def stamp(moment: datetime) -> str:
    """:class:`UtcDateTime` on SQLite: naive UTC text."""
    return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def amount(cents: int) -> int:
    """:class:`Amount` on SQLite: integer 1/10 000 units."""
    return cents * 100


def batches(rows: Iterator[tuple[Any, ...]], size: int = BATCH) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- building the store --------------------------------------------------------------------------


def build(path: Path, customers: int, orders: int, products: int, seed: int) -> None:
    from winback.model import Store
    from winback.sync import open_store

    rng = random.Random(seed)
    started = time.perf_counter()
    store = open_store(f"sqlite:///{path}")
    store.upsert_store(Store(platform="ecwid", store_id="bench", name="Bench Shop", currency="EUR",
                             url="https://bench.test"))
    raw = store.engine.raw_connection()
    db = raw.driver_connection
    assert db is not None
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-400000")
    created = stamp(NOW - timedelta(days=2000))

    log(f"products: {products}")
    db.executemany(
        "INSERT INTO products (store_key, id, title, url, image_url, status, price, currency, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'EUR', ?)",
        [(STORE_KEY, f"p{k}", f"Product {k}", f"https://bench.test/p{k}", f"https://bench.test/p{k}.jpg",
          "active" if rng.random() < 0.9 else "archived", amount(rng.randint(500, 20000)), created)
         for k in range(products)],
    )

    def customer_rows() -> Iterator[tuple[Any, ...]]:
        for i in range(customers):
            roll = rng.random()
            consent = "subscribed" if roll < 0.6 else "not_subscribed" if roll < 0.85 else "unsubscribed"
            email = f"c{i}@example.com"
            yield (STORE_KEY, f"c{i}", email, email, "First", f"Last{i}", created, created, "enabled", consent, "[]")

    log(f"customers: {customers}")
    for chunk in batches(customer_rows()):
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO customers (store_key, id, email, lower_email, first_name, last_name, created_at, "
            "updated_at, account_state, consent_state, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            chunk,
        )
        db.execute("COMMIT")

    guests = max(1, customers // 5)
    span = 3 * 365 * 86400
    lines: list[tuple[Any, ...]] = []

    def order_rows() -> Iterator[tuple[Any, ...]]:
        for n in range(orders):
            span_s = rng.randrange(span)
            when = stamp(NOW - timedelta(seconds=span_s))
            if rng.random() < 0.1:
                email, customer_id = f"g{rng.randrange(guests)}@example.com", None
                accepts = rng.random() < 0.5
            else:
                i = rng.randrange(customers)
                email, customer_id, accepts = f"c{i}@example.com", f"c{i}", None
            roll = rng.random()
            cancelled = when if roll < 0.03 else None
            test = 0.03 <= roll < 0.04
            refunded = 0.04 <= roll < 0.06
            total = rng.randint(1000, 30000)
            oid = f"o{n}"
            real = not (cancelled or test or refunded)
            placed = NOW - timedelta(seconds=span_s)
            shipped = placed + timedelta(hours=rng.randint(6, 72)) if real else None
            shipped = shipped if shipped is not None and shipped < NOW else None
            delivered = shipped + timedelta(hours=rng.randint(24, 140)) if shipped and rng.random() < 0.8 else None
            delivered = delivered if delivered is not None and delivered < NOW else None
            for k in range(rng.randint(1, 3)):
                product = min(int(rng.paretovariate(1.2)) - 1, products - 1)
                qty = rng.randint(1, 3)
                lines.append((STORE_KEY, oid, f"{oid}-{k}", k, f"p{product}", f"Product {product}", qty,
                              0 if refunded else qty))
            yield (STORE_KEY, oid, customer_id, email, email, when, when, cancelled, int(test),
                   "refunded" if refunded else "paid", "EUR", amount(total), amount(total if refunded else 0),
                   None if accepts is None else int(accepts), when, amount(0 if refunded else total),
                   int(real), shipped and stamp(shipped), delivered and stamp(delivered))

    log(f"orders: {orders}")
    for done, chunk in enumerate(batches(order_rows()), 1):
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO orders (store_key, id, customer_id, email, lower_email, created_at, updated_at, "
            "cancelled_at, test, financial_status, currency, total, refunded, accepts_marketing, ordered_at, "
            "net_total, counts_as_purchase, fulfilled_at, delivered_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            chunk,
        )
        db.executemany(
            "INSERT INTO order_lines (store_key, order_id, id, position, product_id, title, quantity, "
            "current_quantity) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            lines,
        )
        db.execute("COMMIT")
        lines.clear()
        if done % 20 == 0:
            log(f"  {done * BATCH} orders")

    log("derived facts: customers")
    db.execute("BEGIN")
    db.execute(
        """
        UPDATE customers SET first_order_at = agg.first_at, last_order_at = agg.last_at,
          real_orders_count = agg.n, real_amount_spent = agg.spent
        FROM (SELECT customer_id, MIN(ordered_at) AS first_at, MAX(ordered_at) AS last_at, COUNT(*) AS n,
                     SUM(net_total) AS spent
              FROM orders WHERE store_key = ? AND counts_as_purchase AND customer_id IS NOT NULL
              GROUP BY customer_id) AS agg
        WHERE customers.store_key = ? AND customers.id = agg.customer_id
        """,
        (STORE_KEY, STORE_KEY),
    )
    log("derived facts: buyers")
    db.execute(
        """
        INSERT INTO buyers (store_key, lower_email, email, customer_id, is_guest, orders_count,
          real_orders_count, real_amount_spent, first_order_at, last_order_at, last_order_id)
        SELECT o.store_key, o.lower_email, MAX(o.email), c.id, c.id IS NULL, COUNT(*),
          SUM(o.counts_as_purchase), SUM(CASE WHEN o.counts_as_purchase THEN o.net_total ELSE 0 END),
          MIN(CASE WHEN o.counts_as_purchase THEN o.ordered_at END),
          MAX(CASE WHEN o.counts_as_purchase THEN o.ordered_at END), NULL
        FROM orders o LEFT JOIN customers c ON c.store_key = o.store_key AND c.lower_email = o.lower_email
        WHERE o.store_key = ?
        GROUP BY o.store_key, o.lower_email
        """,
        (STORE_KEY,),
    )
    db.execute(
        """
        UPDATE buyers SET last_order_id = (
          SELECT o.id FROM orders o
          WHERE o.store_key = buyers.store_key AND o.lower_email = buyers.lower_email AND o.counts_as_purchase
          ORDER BY o.ordered_at DESC, o.id DESC LIMIT 1)
        WHERE store_key = ? AND real_orders_count > 0
        """,
        (STORE_KEY,),
    )
    log("ledger: settled reminders for 5 % of buyers")
    db.execute(
        """
        INSERT INTO action_ledger (store_key, rule, idempotency_key, email, lower_email, kind, status,
          created_at, updated_at, finished_at, email_started_at, anchor, sequence_step)
        SELECT store_key, 'back_to_bestsellers', 'bench:' || lower_email, email, lower_email, 'send_email',
          'done', ?, ?, ?, ?, last_order_id, 0 FROM buyers WHERE store_key = ? AND abs(random()) % 20 = 0
        """,
        (*[stamp(NOW - timedelta(days=30))] * 4, STORE_KEY),
    )
    db.execute("COMMIT")
    db.execute("ANALYZE")
    raw.close()
    store.close()
    log(f"built {path} in {time.perf_counter() - started:.0f} s")


# --- planning (child process) --------------------------------------------------------------------


def ensure_birthdays(path: Path) -> None:
    """A third of the customers get a birth date spread over the year (for ``birthday``); a file
    built before the birth-date columns existed is migrated and filled once."""
    from sqlalchemy import text

    from winback.sync import open_store

    store = open_store(f"sqlite:///{path}")
    with store.engine.begin() as conn:
        if conn.execute(text("SELECT 1 FROM customers WHERE birth_md IS NOT NULL LIMIT 1")).first() is None:
            log("birth dates for a third of the customers")
            conn.execute(text(
                "UPDATE customers SET birth_md = (rowid / 3 % 12 + 1) * 100 + rowid / 7 % 28 + 1, "
                "birth_date = printf('%04d-%02d-%02d', 1950 + rowid % 50, rowid / 3 % 12 + 1, rowid / 7 % 28 + 1) "
                "WHERE rowid % 3 = 0"))
    store.close()


def plan_child(path: str, rule_name: str) -> dict[str, Any]:
    from sqlalchemy import event

    from winback.rules.base import RuleContext, StoreFacts
    from winback.rules.registry import load_rule
    from winback.sync import open_store

    store = open_store(f"sqlite:///{path}")
    options = dict(RULES[rule_name])
    rule = load_rule(next(name for name in BUILT_IN if rule_name.startswith(name)), options)
    rule = load_rule(rule_name.split("_cadence")[0].split("_p_alive")[0].split("_steps")[0], options)
    facts = StoreFacts(store_key=STORE_KEY, platform="ecwid", name="Bench Shop", currency="EUR",
                       url="https://bench.test")
    context = RuleContext(store=store, facts=facts, now=NOW, capabilities=None)
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(store.engine, "before_cursor_execute", count)
    rss_before = current_rss_mb()
    before = Snapshot.take()
    actions = 0
    first_at: float | None = None
    for _ in rule.plan(context):
        if first_at is None:
            first_at = time.perf_counter()
        actions += 1
    after = Snapshot.take()
    store.close()
    return {
        "rule": rule_name,
        "actions": actions,
        "seconds": round(after.wall - before.wall, 2),
        "first_action_s": None if first_at is None else round(first_at - before.wall, 2),
        "cpu_s": round(after.cpu - before.cpu, 2),
        "statements": statements,
        "rss_before_mb": round(rss_before, 1),
        "peak_rss_mb": round(after.peak_rss_mb, 1),
    }


def evict(path: Path) -> None:
    """Ask the kernel to drop this file's clean pages from the page cache (this file only)."""
    for suffix in ("", "-wal"):
        target = Path(f"{path}{suffix}")
        if target.exists():
            fd = os.open(target, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def cached_share(path: Path) -> str:
    """How much of the file is in the page cache, from util-linux ``fincore`` ("?" without it)."""
    try:
        out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
                             capture_output=True, text=True, check=True).stdout.split()
        return f"{int(out[0]) / path.stat().st_size:.0%}"
    except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--products", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, help="SQLite file (default: /tmp/winback-bench-rules-<sizes>.db)")
    parser.add_argument("--rebuild", action="store_true", help="build the file again even if it exists")
    parser.add_argument("--rules", nargs="*", default=list(RULES), choices=list(RULES))
    parser.add_argument("--evict", action="store_true",
                        help="drop the file from the page cache before each plan (posix_fadvise DONTNEED): a cold run")
    parser.add_argument("--child", nargs=2, metavar=("DB", "RULE"), help=argparse.SUPPRESS)
    parser.add_argument("--build-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(plan_child(*args.child)))
        return
    if args.build_child:
        build(args.build_child, args.customers, args.orders, args.products, args.seed)
        return

    path = args.db or Path(f"/tmp/winback-bench-rules-{args.customers}-{args.orders}.db")
    if args.rebuild or not path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        # in a child too: a process's peak RSS survives fork + exec into the children it starts
        subprocess.run([sys.executable, __file__, "--build-child", str(path), "--customers", str(args.customers),
                        "--orders", str(args.orders), "--products", str(args.products), "--seed", str(args.seed)],
                       check=True)
    if "birthday" in args.rules:
        ensure_birthdays(path)
    print(f"machine: {machine_notes()}")
    print(f"store: {args.customers} customers, {args.orders} orders, {args.products} products in {path} "
          f"({path.stat().st_size / 2**20:.0f} MiB)")
    print(f"{'rule':<30} {'actions':>9} {'seconds':>8} {'1st act':>8} {'cpu s':>7} {'stmts':>6} {'RSS before':>11} {'peak RSS':>9}")
    for name in args.rules:
        if args.evict:
            evict(path)
        print(f"  page cache before planning {name}: {cached_share(path)} of the file resident", flush=True)
        log(f"planning {name}")
        out = subprocess.run([sys.executable, __file__, "--child", str(path), name],
                             check=True, capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['rule']:<30} {r['actions']:>9} {r['seconds']:>8} {r['first_action_s']!s:>8} {r['cpu_s']:>7} "
              f"{r['statements']:>6} {r['rss_before_mb']:>8} MB {r['peak_rss_mb']:>6} MB", flush=True)


if __name__ == "__main__":
    main()
