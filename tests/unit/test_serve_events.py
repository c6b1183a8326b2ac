"""What winback serve does with webhook events: a failed one is retried with its payload (review
item 2), redact topics remove data request files (item 4), delete topics reach the store (item 12)."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

from sqlalchemy import select

from winback.sync import tables
from winback.web.events import DATA_REQUESTS_DIR
from winback.web.hub import Hub, ServeOptions


def _folder(tmp_path: Path) -> Path:
    path = tmp_path / "acme.toml"
    path.write_text(textwrap.dedent(f"""\
        [client]
        name = "Acme"

        [store]
        platform = "shopify"
        shop = "acme.myshopify.com"
        access_token = "shpat_test_token_0123456789"
        webhook_secret = "whsec_test_0123456789"

        [database]
        url = "sqlite:///{tmp_path / 'clients.db'}"

        [email]
        from_address = "Shop <hello@shop.example>"
        """), encoding="utf-8")
    path.chmod(0o600)
    return tmp_path


async def _event(hub: Hub, event_id: str) -> dict:
    store = await hub.store(hub.clients["acme"])
    with store.reading() as conn:
        events = tables.webhook_events
        return dict(conn.execute(select(events).where(events.c.event_id == event_id)).mappings().one())


async def _until(hub: Hub, event_id: str, check, seconds: float = 5.0) -> dict:
    for _ in range(int(seconds / 0.02)):
        row = await _event(hub, event_id)
        if check(row):
            return row
        await asyncio.sleep(0.02)
    raise AssertionError(f"event never reached the expected state: {row}")


async def test_a_failed_privacy_event_keeps_its_payload_and_is_retried(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / DATA_REQUESTS_DIR).write_text("in the way")  # the answer file cannot be written yet
    hub = Hub(folder, ServeOptions(retry_interval_s=0.05, event_attempts=50))
    await hub.start()
    try:
        payload = {"customer": {"id": 7, "email": "ann@example.com"}, "data_request": {"id": 99}}
        assert await hub.record_event(hub.clients["acme"], "shopify", "ev-1", "customers/data_request", payload)
        failed = await _until(hub, "ev-1", lambda row: row["error"])
        assert failed["status"] == "received" and failed["payload"] == payload
        (folder / DATA_REQUESTS_DIR).unlink()
        done = await _until(hub, "ev-1", lambda row: row["status"] == "done")
        assert done["payload"] is None
        assert (folder / DATA_REQUESTS_DIR / "acme-99.json").exists()
    finally:
        await hub.stop()


async def test_a_privacy_event_given_up_is_tried_again_on_the_next_start(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / DATA_REQUESTS_DIR).write_text("in the way")
    hub = Hub(folder, ServeOptions(retry_interval_s=0.01, event_attempts=2))
    await hub.start()
    try:
        payload = {"customer": {"id": 7}, "data_request": {"id": 5}}
        await hub.record_event(hub.clients["acme"], "shopify", "ev-2", "customers/data_request", payload)
        given_up = await _until(hub, "ev-2", lambda row: row["status"] == "failed")
        assert given_up["payload"] == payload and given_up["error"].startswith("attempt 2")
    finally:
        await hub.stop()
    (folder / DATA_REQUESTS_DIR).unlink()
    again = Hub(folder, ServeOptions(retry_interval_s=0.01))
    await again.start()
    try:
        await _until(again, "ev-2", lambda row: row["status"] == "done")
        assert (folder / DATA_REQUESTS_DIR / "acme-5.json").exists()
    finally:
        await again.stop()


async def _handled(hub: Hub, event_id: str, topic: str, payload: dict) -> None:
    await hub.record_event(hub.clients["acme"], "shopify", event_id, topic, payload)
    await _until(hub, event_id, lambda row: row["status"] == "done")


async def test_redact_topics_remove_the_data_request_files(tmp_path: Path) -> None:
    """Review item 4: a data request file is a full dump of one customer; erasure removes it."""
    folder = _folder(tmp_path)
    hub = Hub(folder, ServeOptions(retry_interval_s=0.01))
    await hub.start()
    requests = folder / DATA_REQUESTS_DIR
    config = hub.clients["acme"]
    with (await hub.store(config)).writing() as conn:  # a synced store
        conn.execute(tables.stores.insert().values(key=config.store_key, platform="shopify",
                                                   store_id="acme.myshopify.com", name="Acme", currency="EUR"))
    try:
        await _handled(hub, "d1", "customers/data_request", {"customer": {"id": 7, "email": "Ann@example.com"},
                                                            "data_request": {"id": 1}})
        await _handled(hub, "d2", "customers/data_request", {"customer": {"id": 8, "email": "bob@example.com"},
                                                            "data_request": {"id": 2}})
        other = requests / "acme-eu-3.json"
        other.write_text('{"client": "Acme EU", "customer": {"id": "gid://shopify/Customer/7"}}')
        assert sorted(p.name for p in requests.iterdir()) == ["acme-1.json", "acme-2.json", "acme-eu-3.json"]

        await _handled(hub, "r1", "customers/redact", {"customer": {"email": "ann@EXAMPLE.com"}})
        assert sorted(p.name for p in requests.iterdir()) == ["acme-2.json", "acme-eu-3.json"]
        await _handled(hub, "r2", "shop/redact", {"shop_domain": "acme.myshopify.com"})
        assert sorted(p.name for p in requests.iterdir()) == ["acme-eu-3.json"]
    finally:
        await hub.stop()


async def test_delete_webhooks_remove_the_record_from_the_local_store(tmp_path: Path) -> None:
    """Review item 12: customers/delete and orders/delete (now subscribed) reach the local store."""
    from tests.unit.test_sync_support import customer, order
    from winback.connectors.base import Page, Resource

    hub = Hub(_folder(tmp_path), ServeOptions(retry_interval_s=0.01))
    config = hub.clients["acme"]
    store = await hub.store(config)
    with store.writing() as conn:
        conn.execute(tables.stores.insert().values(key=config.store_key, platform="shopify",
                                                   store_id="acme.myshopify.com", name="Acme", currency="EUR"))
    gid = "gid://shopify/{}/{}".format
    store.commit_page(config.store_key, Resource.CUSTOMERS,
                      Page(records=[customer(gid("Customer", 7)), customer(gid("Customer", 8))]), None)
    store.commit_page(config.store_key, Resource.ORDERS, Page(records=[
        order(gid("Order", 1), customer_id=gid("Customer", 8)), order(gid("Order", 2), customer_id=gid("Customer", 8))]),
        None)
    await hub.start()
    try:
        await _handled(hub, "x1", "customers/delete", {"id": 7})
        await _handled(hub, "x2", "orders/delete", {"id": 1})
    finally:
        await hub.stop()
    assert [row["id"] for row in store.iter_rows(config.store_key, "customers")] == [gid("Customer", 8)]
    assert [row["id"] for row in store.iter_rows(config.store_key, "orders")] == [gid("Order", 2)]
