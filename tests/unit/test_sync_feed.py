"""The next resource is read while the one before it commits its last batch (winback.sync.feed);
commits stay in resource order, and a sync that fails leaves no reading behind."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from tests.unit.test_sync_support import FakeConnector, customer, order, product
from winback import errors
from winback.connectors.base import Page, Resource
from winback.model import Order
from winback.sync import LocalStore, sync_store


class WatchedOrders(FakeConnector):
    """Records when its orders start being read and when that reading is closed."""

    def __init__(self, *, stall: bool = False) -> None:
        super().__init__(page_size=3)
        self.stall = stall
        """After its first page the orders' reading waits for ever (until it is closed)."""
        self.orders_started = threading.Event()
        self.events: list[str] = []
        self.put(*[customer(f"c{i}", updated=i) for i in range(10)])
        self.put(*[order(f"o{i:02}", updated=i, customer_id=f"c{i % 10}") for i in range(12)])
        self.put(product("p1", updated=1))

    async def _watched(self, since: datetime | None) -> AsyncIterator[Page[Order]]:
        self.events.append("orders read")
        self.orders_started.set()
        try:
            async for page in self._serve(Resource.ORDERS, since):
                yield page
                if self.stall:
                    await asyncio.Event().wait()
        finally:
            self.events.append("orders closed")

    def orders(self, updated_since: datetime | None = None, *, full: bool = False) -> AsyncIterator[Page[Order]]:
        return self._watched(updated_since)


def _watch_commits(store: LocalStore, fake: WatchedOrders, *, hold_customers: bool = False,
                   fail_customers: bool = False) -> dict[str, bool]:
    """Wrap ``store.commit_pages``: log each commit in ``fake.events``; with ``hold_customers`` a
    customers' commit waits (5 s at most) for the orders' reading to start."""
    seen = {"orders started during a customers commit": False}
    commit = store.commit_pages

    def watched(key: str, resource: Any, pages: Any, cursor: Any, **kwargs: Any) -> Any:
        resource = Resource(resource)
        fake.events.append(f"commit {resource.value}")
        if resource is Resource.CUSTOMERS:
            if hold_customers and fake.orders_started.wait(5):
                seen["orders started during a customers commit"] = True
            if fail_customers:
                raise errors.SyncError("the local store failed: disk full")
        return commit(key, resource, pages, cursor, **kwargs)

    store.commit_pages = watched  # type: ignore[method-assign]
    return seen


async def test_the_orders_are_read_while_the_customers_last_batch_commits(sync_db: LocalStore) -> None:
    fake = WatchedOrders()
    seen = _watch_commits(sync_db, fake, hold_customers=True)
    report = await sync_store(fake, sync_db)

    assert seen["orders started during a customers commit"]
    commits = [event for event in fake.events if event.startswith("commit")]
    assert commits == sorted(commits, key=["commit customers", "commit orders", "commit products"].index)
    assert fake.events.index("orders read") < fake.events.index("commit orders")
    assert report.resources[Resource.ORDERS].upserted == 12 and report.resources[Resource.CUSTOMERS].upserted == 10


async def test_a_sync_failing_on_the_customers_leaves_no_orders_reading_behind(sync_db: LocalStore) -> None:
    fake = WatchedOrders(stall=True)
    _watch_commits(sync_db, fake, hold_customers=True, fail_customers=True)
    with pytest.raises(errors.SyncError, match="disk full"):
        await sync_store(fake, sync_db)

    assert fake.events.count("orders read") == 1 and fake.events[-1] == "orders closed"  # stopped, not finished
    assert "commit orders" not in fake.events
    assert [r for r, _ in fake.reads] == [Resource.CUSTOMERS, Resource.ORDERS]
