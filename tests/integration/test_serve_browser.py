"""The unsubscribe link of a real email, in a real browser: ``winback run`` writes a marketing
``.eml`` whose ``List-Unsubscribe`` points at ``winback serve``; headless Chromium (driven over
the DevTools protocol on ``--remote-debugging-pipe``) opens it, clicks the confirm button, and the
Shopify emulator then holds the customer as UNSUBSCRIBED.

Skipped when ``/usr/bin/chromium`` is missing, except in CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.integration.serve_harness import ServeProcess, free_port, shopify_config, wait_for
from tests.integration.browser import DevTools, chromium  # noqa: F401 - the fixture
from tests.plugin_dist import install_dist_info
from winback.cli.main import cli
from winback.emulator.generate import generate_world
from winback.emulator.shopify import start_shopify_emulator
from winback.rules import registry
from winback.sync import open_store, tables

pytestmark = pytest.mark.integration
RULE = "email_everyone"


@pytest.fixture
def test_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    install_dist_info(monkeypatch, tmp_path / "plugins", "winback_rules_test",
                      {"winback.rules": {RULE: "tests.unit.rules_fakes:EmailEveryone"}})
    registry.clear_cache()
    yield
    registry.clear_cache()


def test_a_browser_follows_the_emails_unsubscribe_link_and_the_platform_hears_it(
    chromium: Path, test_rule: None, tmp_path: Path
) -> None:
    server, shop = start_shopify_emulator(generate_world(1301, customers=30), restore_rate=1000, bucket_size=20000)
    try:
        port = free_port()
        folder = tmp_path / "clients"
        folder.mkdir()
        config = shopify_config(folder, "acme", server, shop, public_url=f"http://127.0.0.1:{port}")
        runner = CliRunner()
        assert runner.invoke(cli, ["sync", "--config", str(config)]).exit_code == 0
        key = f"shopify:{shop.shop_domain}"
        with open_store(str(folder / "clients.db")) as store, store.reading() as conn:
            c = tables.customers
            email = conn.execute(select(c.c.email).where(c.c.store_key == key, c.c.consent_state == "subscribed")
                                 .order_by(c.c.lower_email).limit(1)).scalar_one()
        config.write_text(config.read_text() + f'\n[rules.{RULE}]\nonly = ["{email}"]\n')
        ran = runner.invoke(cli, ["run", "--config", str(config), "--no-sync"])
        assert ran.exit_code == 0, ran.output
        [eml] = [p for p in (folder / "outbox").rglob("*.eml") if "dry-run" not in p.parts]
        message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        [link] = re.findall(r"<(http://[^>]+)>", str(message["List-Unsubscribe"]))

        with ServeProcess(folder, port=port):
            browser = DevTools(chromium, tmp_path / "profile")
            try:
                browser.open(link)
                wait_for(lambda: browser.evaluate("!!document.getElementById('confirm')"), what="the confirm page")
                assert not _states(server, email), "opening the page alone must not unsubscribe"
                browser.evaluate("document.getElementById('confirm').click()")
                text = wait_for(lambda: browser.evaluate(
                    "document.getElementById('done') && document.getElementById('done').textContent"),
                    what="the confirmation")
                assert "no more marketing emails" in text
                assert browser.evaluate("!!document.getElementById('undo')")
            finally:
                browser.close()
            wait_for(lambda: _states(server, email) == ["UNSUBSCRIBED"], what="the consent change on the emulator")
        customer = next(c for c in shop.customers if (c.get("email") or "").lower() == email.lower())
        assert customer["defaultEmailAddress"]["marketingState"] == "UNSUBSCRIBED"
    finally:
        server.stop()


def _states(server: Any, email: str) -> list[str]:
    updates = httpx.get(f"{server.url}/_emulator/writes", timeout=10).json()["consent_updates"]
    return [u["marketing_state"] for u in updates if u["email"].lower() == email.lower()]
