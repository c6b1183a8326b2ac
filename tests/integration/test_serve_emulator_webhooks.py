"""The Shopify emulator sends real signed webhooks, retrying like Shopify, to ``winback serve``:
an ``orders/updated`` sent while the server is down arrives once it is up, each exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.integration.serve_harness import SHOPIFY_SECRET, ServeProcess, free_port, shopify_config, wait_for
from winback.cli.main import cli
from winback.emulator.generate import generate_world
from winback.emulator.shopify import start_shopify_emulator
from winback.sync import open_store, tables

pytestmark = pytest.mark.integration


def test_emulator_webhooks_are_retried_until_the_server_answers(tmp_path: Path) -> None:
    port = free_port()
    server, shop = start_shopify_emulator(
        generate_world(1501, customers=20), restore_rate=1000, bucket_size=20000,
        webhook_url=f"http://127.0.0.1:{port}/webhooks/shopify", webhook_secret=SHOPIFY_SECRET,
        webhook_retry_base_s=0.3,
    )
    try:
        config = shopify_config(tmp_path, "acme", server, shop)
        assert CliRunner().invoke(cli, ["sync", "--config", str(config)]).exit_code == 0
        touched = shop.touch_orders(0.05, seed=3)
        assert touched
        assert shop.webhooks is not None
        wait_for(lambda: shop.webhooks.deliveries[0].attempts >= 2, what="a failed first delivery")  # server down
        with ServeProcess(tmp_path, port=port):
            wait_for(lambda: all(d.status == "delivered" for d in shop.webhooks.deliveries), what="delivery")

            def recorded() -> list[dict[str, object]]:
                with open_store(str(tmp_path / "clients.db")) as store, store.reading() as conn:
                    e = tables.webhook_events
                    return [dict(r) for r in conn.execute(select(e).where(e.c.topic == "orders/updated")).mappings()]

            rows = wait_for(lambda: [r for r in recorded() if r["status"] == "done"], what="the event handled")
            assert len(rows) == len(shop.webhooks.deliveries) == len(touched)  # each once, none twice
    finally:
        if shop.webhooks is not None:
            shop.webhooks.close()
        server.stop()


def test_demo_serve_shows_a_webhook_and_an_unsubscribe_flowing_back(tmp_path: Path) -> None:
    import asyncio

    from winback.demo_serve import run_serve_demo

    lines = asyncio.run(run_serve_demo(tmp_path, customers=40))
    assert any("orders/updated webhook" in line for line in lines)
    assert any("synced the store in the background" in line for line in lines)
    assert lines[-1].startswith("suppressed locally at once; the emulated Shopify now holds it UNSUBSCRIBED")
