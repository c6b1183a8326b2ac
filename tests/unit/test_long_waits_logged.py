"""Off a terminal there are no progress bars: a sync logs each phase and each long wait at INFO,
rate-limited so a throttled store does not flood the log."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_sync_support import FakeConnector, customer, order
from winback.connectors.shopify.bulk import BulkExporter
from winback.connectors.shopify.settings import ShopifySettings
from winback.connectors.shopify.throttle import CostBucket
from winback.sync import engine, open_store, sync_store


class Clock:
    """A fake monotonic clock that a fake sleep moves forward."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _info(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno == logging.INFO]


async def test_each_resource_logs_its_start_and_its_counts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeConnector(page_size=3)
    fake.put(*[customer(f"c{i}", updated=i) for i in range(7)])
    fake.put(*[order(f"o{i}", updated=i, customer_id=f"c{i}", email=f"c{i}@example.com") for i in range(4)])
    store = open_store(str(tmp_path / "w.db"))
    caplog.set_level(logging.INFO, logger="winback.sync.engine")
    try:
        await sync_store(fake, store, resources=["customers", "orders"])
    finally:
        store.close()

    lines = _info(caplog, "winback.sync.engine")
    assert lines[0] == "syncing fake shop1: customers, orders"
    assert "fake:shop1 customers: reading everything" in lines
    assert any(line.startswith("fake:shop1 customers: 7 records in 3 pages (7 stored, 0 unchanged, 0 rejected)")
               for line in lines)
    assert any(line.startswith("fake:shop1 orders: 4 records in 2 pages") for line in lines)
    assert not any("so far" in line for line in lines)  # a quick read logs no progress lines


async def test_a_long_read_logs_progress_now_and_then(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "PROGRESS_LOG_EVERY_S", 0.0)
    fake = FakeConnector(page_size=2)
    fake.put(*[customer(f"c{i}", updated=i) for i in range(5)])
    store = open_store(str(tmp_path / "w.db"))
    caplog.set_level(logging.INFO, logger="winback.sync.engine")
    try:
        await sync_store(fake, store, resources=["customers"], batch_records=2)  # a batch per page: a line each
    finally:
        store.close()

    progress = [line for line in _info(caplog, "winback.sync.engine") if "so far" in line]
    assert [line.split(" (")[0] for line in progress] == [
        "fake:shop1 customers: 2 records in 1 pages so far",
        "fake:shop1 customers: 4 records in 2 pages so far",
        "fake:shop1 customers: 5 records in 3 pages so far",
    ]


async def test_throttle_waits_are_logged_at_most_every_ten_seconds(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    bucket = CostBucket(clock=clock, sleep=clock.sleep, store="acme.myshopify.com")
    bucket.observe("Orders", {"requestedQueryCost": 200,
                              "throttleStatus": {"maximumAvailable": 1000, "currentlyAvailable": 0, "restoreRate": 50}})
    caplog.set_level(logging.DEBUG, logger="winback.connectors.shopify")

    for _ in range(10):
        await bucket.acquire("Orders", 100)  # 200 points at 50/s: 4 s each

    assert clock.sleeps == [pytest.approx(4.0)] * 10
    loud = _info(caplog, "winback.connectors.shopify")
    assert loud[0].startswith("acme.myshopify.com: waiting 4.0 s for Shopify's query cost budget")
    assert len(loud) == 4  # at 0, 12, 24 and 36 s of 40
    assert len([r for r in caplog.records if r.levelno == logging.DEBUG]) == 6


async def test_a_short_throttle_wait_stays_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    bucket = CostBucket(clock=clock, sleep=clock.sleep, store="acme.myshopify.com")
    bucket.observe("Q", {"throttleStatus": {"maximumAvailable": 1000, "currentlyAvailable": 0, "restoreRate": 50}})
    caplog.set_level(logging.DEBUG, logger="winback.connectors.shopify")
    await bucket.acquire("Q", 50)
    assert clock.sleeps == [pytest.approx(1.0)] and _info(caplog, "winback.connectors.shopify") == []


class _PollingShopify:
    """Answers ``bulkOperation`` polls: RUNNING ``polls`` times with a growing count, then COMPLETED."""

    def __init__(self, polls: int) -> None:
        self.polls = polls
        self.seen = 0

    async def execute(self, document: Any, variables: Any = None, **_: Any) -> dict[str, Any]:
        self.seen += 1
        done = self.seen > self.polls
        return {"bulkOperation": {
            "id": "gid://shopify/BulkOperation/1", "status": "COMPLETED" if done else "RUNNING", "errorCode": None,
            "objectCount": str(self.seen * 1000), "url": "https://storage.example/file.jsonl" if done else None,
        }}


async def test_bulk_polling_is_logged_with_status_and_progress(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    settings = ShopifySettings(shop="acme", access_token="shpat_bulk_log_token", bulk_poll_interval_s=1.0,
                               bulk_poll_max_interval_s=4.0)
    gql = _PollingShopify(polls=12)
    exporter = BulkExporter(gql, settings, download=None, store="acme.myshopify.com",  # type: ignore[arg-type]
                            sleep=clock.sleep, clock=clock)
    caplog.set_level(logging.INFO, logger="winback.connectors.shopify")

    result = await exporter.wait("gid://shopify/BulkOperation/1")

    assert result.status == "COMPLETED" and result.object_count == 13000
    lines = _info(caplog, "winback.connectors.shopify")
    assert lines[0] == ("acme.myshopify.com: orders bulk export RUNNING, 1000 objects so far, 0 s elapsed; "
                        "next check in 1.0 s")
    assert 2 <= len(lines) <= 1 + clock.now // 10  # at most one line per 10 s of polling, not one per poll
    assert len(lines) < gql.polls
