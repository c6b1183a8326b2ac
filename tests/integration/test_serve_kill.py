"""The consent queue survives ``winback serve`` being SIGKILLed while it pushes: after a restart
every unsubscribe reaches the platform exactly once, even with writes the platform applied
without answering (the emulator's ``drop_after`` fault) and 503s along the way."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.integration.serve_harness import ServeProcess, shopify_config, wait_for
from winback.cli.main import cli
from winback.emulator.generate import generate_world
from winback.emulator.server import FaultPlan
from winback.emulator.shopify import start_shopify_emulator
from winback.notify import oneclick
from winback.rules.consent import ConsentQueue
from winback.sync import open_store, tables

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CHANGES = 24


def test_sigkill_during_consent_pushes_still_reaches_the_platform_exactly_once(tmp_path: Path) -> None:
    faults = FaultPlan(rate=0.0, kinds=("drop_after", "503", "timeout"), paths=("graphql",), seed=11, timeout_s=0.3)
    server, shop = start_shopify_emulator(generate_world(1201, customers=80), faults=faults,
                                          restore_rate=1000, bucket_size=20000)
    try:
        config = shopify_config(tmp_path, "acme", server, shop)
        config.write_text(config.read_text().replace("retry_base_delay_s = 0.01",
                                                     "retry_base_delay_s = 0.01\ntimeout_s = 1.0"))
        assert CliRunner().invoke(cli, ["sync", "--config", str(config)]).exit_code == 0
        key = f"shopify:{shop.shop_domain}"
        with open_store(str(tmp_path / "clients.db")) as store, store.reading() as conn:
            c = tables.customers
            emails = list(conn.execute(select(c.c.lower_email).where(
                c.c.store_key == key, c.c.consent_state == "subscribed").order_by(c.c.lower_email)
            ).scalars().all()[:CHANGES])
        assert len(emails) == CHANGES
        secret = oneclick.install_secret(tmp_path)
        faults.rate = 0.35

        def written() -> Counter[str]:
            updates = httpx.get(f"{server.url}/_emulator/writes", timeout=10).json()["consent_updates"]
            return Counter(u["email"].lower() for u in updates)

        first = ServeProcess(tmp_path, retry_interval=0.2).start()
        try:
            for email in emails:
                answer = httpx.post(oneclick.link(first.url, secret, "acme", email),
                                    content=b"List-Unsubscribe=One-Click", timeout=10)
                assert answer.status_code == 200
            wait_for(lambda: len(written()) >= 3, what="some pushes before the kill")
        finally:
            first.kill()
        pushed_before_kill = len(written())
        with open_store(str(tmp_path / "clients.db")) as store:
            pending = ConsentQueue(store).pending_count(key)
        assert pending > 0 and pushed_before_kill < CHANGES, "the kill came too late to test anything"

        with ServeProcess(tmp_path, retry_interval=0.2):
            def drained() -> bool:
                with open_store(str(tmp_path / "clients.db")) as store:
                    return ConsentQueue(store).pending_count(key) == 0
            wait_for(drained, timeout=60, what="the queue drained after the restart")
        counts = written()
        assert set(counts) == set(emails)
        assert set(counts.values()) == {1}, f"written more than once: {[e for e, n in counts.items() if n > 1]}"
        assert faults.injected, "no fault was injected"
    finally:
        server.stop()
