"""Deletions on the platform reach the local store: real connectors over real sockets to the
emulators (deleting the way a merchant does), real SQLite and PostgreSQL.

After a sync, a delete on the emulator and another sync the store equals the emulator again, the
derived facts are exact, a rule's plan no longer counts the deleted order, and the action ledger
is untouched. A sync SIGKILLed while it applies deletion pages loses nothing.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.integration import sync_compare as compare
from tests.integration.kill_harness import Lines, stop
from tests.integration.test_sync_emulators import Emulated, start
from winback.connectors.base import Resource
from winback.emulator.generate import generate_world
from winback.emulator.world import World
from winback.rules.base import RuleContext, StoreFacts
from winback.rules.discount_codes import DiscountCodes
from winback.sync import LocalStore, open_store, tables
from winback.sync.deletions import cursor_name

pytestmark = pytest.mark.integration

WORKER = Path(__file__).with_name("sync_kill_worker.py")


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(11, customers=150, products=30)


@pytest.fixture
def store(sync_db: LocalStore) -> LocalStore:
    """Opened on SQLite and on PostgreSQL, closed after the test (``sync_db`` of tests/conftest.py)."""
    return sync_db


@pytest.fixture(params=("shopify", "ecwid"))
def emulated(request, world: World) -> Iterator[Emulated]:
    running = start(request.param, world)
    try:
        yield running
    finally:
        running.stop()


def _plan_emails(store: LocalStore, key: str, min_orders: int) -> set[str]:
    info = store.get_store(key)
    assert info is not None
    facts = StoreFacts(store_key=key, platform=info["platform"], name=info["name"], currency=info["currency"])
    rule = DiscountCodes({"segment": {"min_orders": min_orders}, "kind": "percentage", "value": "10",
                          "marketing": False, "since_days": None})
    context = RuleContext(store=store, facts=facts, now=datetime.now(UTC), capabilities=None)
    return {action.email.lower() for action in rule.plan(context) if action.email}


def _emulator_delete(emulated: Emulated, resource: str, record_id: str) -> None:
    if emulated.platform == "ecwid" and resource != "orders":
        emulated.app.delete_record(resource, int(record_id))
    else:
        emulated.app.delete_record(resource, record_id)


def _victims(stored: compare.Stored, store: LocalStore, key: str) -> tuple[str, str, str, dict[str, Any]]:
    """A buyer's newest real order (the buyer has at least two), a product no stored order line
    names, and a customer with no orders; plus that buyer's row."""
    with store.reading() as conn:
        buyer = conn.execute(
            select(tables.buyers).where(tables.buyers.c.store_key == key, tables.buyers.c.real_orders_count >= 2)
            .order_by(tables.buyers.c.lower_email)
        ).mappings().first()
    assert buyer is not None, "no buyer with two real orders: the test proves nothing"
    named = {line["product_id"] for row in stored.rows["orders"].values() for line in row["line_items"]}
    product = next(pid for pid in sorted(stored.rows["products"]) if pid not in named)
    customer_ids = {row["customer_id"] for row in stored.rows["orders"].values()}
    customer = next(cid for cid, row in sorted(stored.rows["customers"].items())
                    if cid not in customer_ids and row["orders_count"] == 0)
    return buyer["last_order_id"], product, customer, dict(buyer)


async def test_deleted_records_leave_the_store_and_the_plan(emulated: Emulated, store: LocalStore) -> None:
    first = await emulated.sync(store)
    key = first.store_key
    stored = compare.assert_store_equals(store, key, emulated.expected())
    order_id, product_id, customer_id, buyer = _victims(stored, store, key)
    email, count = buyer["lower_email"], buyer["real_orders_count"]
    assert email in _plan_emails(store, key, count)
    with store.writing() as conn:  # a past action on that buyer must survive the deletion untouched
        conn.execute(tables.action_ledger.insert().values(
            store_key=key, rule="discount_codes", idempotency_key="past-action", email=email, lower_email=email,
            kind="discount_code", status="done", reason="before the deletion", created_at=datetime.now(UTC),
            updated_at=datetime.now(UTC),
        ))

    _emulator_delete(emulated, "orders", order_id)
    _emulator_delete(emulated, "products", product_id)
    _emulator_delete(emulated, "customers", customer_id)
    second = await emulated.sync(store)

    assert second.deleted == 3
    assert {r: second.resources[r].deleted for r in Resource} == dict.fromkeys(Resource, 1)
    stored = compare.assert_store_equals(store, key, emulated.expected())
    compare.assert_rows_equal_models(stored, await compare.read_models(emulated.platform, emulated.settings))
    compare.assert_derived_facts(stored, emulated.raw_orders())
    assert order_id not in stored.rows["orders"] and product_id not in stored.rows["products"]
    with store.reading() as conn:
        after = conn.execute(select(tables.buyers).where(
            tables.buyers.c.store_key == key, tables.buyers.c.lower_email == email)).mappings().one()
        lines = conn.execute(select(tables.order_lines).where(tables.order_lines.c.order_id == order_id)).all()
        ledger = conn.execute(select(tables.action_ledger.c.status).where(
            tables.action_ledger.c.idempotency_key == "past-action")).scalars().all()
    assert after["real_orders_count"] == count - 1 and after["last_order_id"] != order_id
    assert lines == [] and ledger == ["done"]
    assert email not in _plan_emails(store, key, count)
    tombstones = {(t["resource"], t["record_id"]) for t in store.deleted(key)}
    assert {("orders", order_id), ("products", product_id), ("customers", customer_id)} <= tombstones

    # Nothing new: the next sync re-reads the overlap of deletions and changes nothing.
    third = await emulated.sync(store)
    assert third.deleted == 0
    compare.assert_store_equals(store, key, emulated.expected())
    assert store.get_cursor(key, cursor_name(Resource.ORDERS)) == second.resources[Resource.ORDERS].deletion_cursor


def _worker(emulated: Emulated, url: str) -> list[str]:
    return [sys.executable, str(WORKER), emulated.platform, json.dumps(emulated.settings), url]


def _run_until_deletion_pages(command: list[str], wanted: int) -> bool:
    """Run the worker, SIGKILL it right after its ``wanted``-th committed page of deletions;
    True if it was killed before finishing."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        lines = Lines(process.stdout)  # type: ignore[arg-type]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = lines.next(timeout=max(0.1, deadline - time.monotonic()))
            if line is None or '"done"' in line:
                return False
            if json.loads(line).get("deletion_pages", 0) >= wanted:
                time.sleep(random.Random(wanted).uniform(0.0, 0.02))
                stop(process)
                return True
        return False
    finally:
        stop(process)


@pytest.mark.parametrize("platform", ["shopify", "ecwid"])
async def test_a_kill_during_deletion_pages_loses_nothing(platform: str, world: World, tmp_path: Path) -> None:
    emulated = start(platform, world, page_size=4)
    url = f"sqlite:///{tmp_path / 'winback.db'}"
    store = open_store(url)
    try:
        key = (await emulated.sync(store)).store_key
        orders = sorted(compare.read_store(store, key).rows["orders"])
        gone = random.Random(5).sample(orders, 24)
        for order_id in gone:
            _emulator_delete(emulated, "orders", order_id)
        killed = [_run_until_deletion_pages(_worker(emulated, url), wanted) for wanted in (1, 3)]
        assert any(killed), "no run was killed among its deletion pages: the test proves nothing"
        partway = len(set(gone) & set(compare.read_store(store, key).rows["orders"]))
        assert 0 < partway < len(gone), "the kills left nothing part-way"
        done = subprocess.run(_worker(emulated, url), capture_output=True, text=True, timeout=120, check=True)
        assert '"done": true' in done.stdout
        stored = compare.assert_store_equals(store, key, emulated.expected())
        compare.assert_derived_facts(stored, emulated.raw_orders())
        assert {t["record_id"] for t in store.deleted(key, "orders")} >= set(gone)
    finally:
        store.close()
        emulated.stop()
