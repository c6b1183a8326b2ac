"""A feedback email's score link in a real browser: ``winback run`` writes the request, headless
Chromium opens its "8" link on ``winback serve``, sees the thank-you page, writes a comment and
sends it; the local store then holds one answer, 8, with the comment.

Skipped when ``/usr/bin/chromium`` is missing, except in CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.integration.serve_harness import ServeProcess, free_port, shopify_config, wait_for
from tests.integration.browser import DevTools, chromium  # noqa: F401 - the fixture
from winback.cli.main import cli
from winback.emulator.generate import generate_world
from winback.emulator.shopify import start_shopify_emulator
from winback.sync import open_store, tables

pytestmark = pytest.mark.integration


def test_a_browser_clicks_a_score_and_sends_a_comment(chromium: Path, tmp_path: Path) -> None:  # noqa: F811
    server, shop = start_shopify_emulator(generate_world(1501, customers=30, now=datetime.now(UTC)),
                                          restore_rate=1000, bucket_size=20000)
    try:
        port = free_port()
        folder = tmp_path / "clients"
        folder.mkdir()
        config = shopify_config(folder, "acme", server, shop, public_url=f"http://127.0.0.1:{port}",
                                extra="\n[rules.feedback_request]\nmax_age_days = 90\nmarketing = false\n\n[limits]\nmax_actions_per_run = 1\n")
        runner = CliRunner()
        assert runner.invoke(cli, ["sync", "--config", str(config)]).exit_code == 0
        ran = runner.invoke(cli, ["run", "--config", str(config), "--no-sync"])
        assert ran.exit_code == 0, ran.output
        [eml] = [p for p in (folder / "outbox").rglob("*.eml") if "dry-run" not in p.parts]
        message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        links = dict((score, url) for url, score in re.findall(r'href="([^"]+\?score=(\d+))"', html))
        assert sorted(map(int, links)) == list(range(11))

        with ServeProcess(folder, port=port):
            browser = DevTools(chromium, tmp_path / "profile")
            try:
                browser.open(links["8"].replace("&amp;", "&"))
                shown = wait_for(lambda: browser.evaluate(
                    "document.getElementById('score') && document.getElementById('score').textContent"),
                    what="the thank-you page")
                assert shown == "8"
                browser.evaluate("document.getElementById('comment').value = " + json.dumps("Lovely, thanks!"))
                browser.evaluate("document.getElementById('send').click()")
                wait_for(lambda: browser.evaluate("!!document.getElementById('saved')"), what="the comment saved")
            finally:
                browser.close()
        with open_store(str(folder / "clients.db")) as store, store.reading() as conn:
            rows = conn.execute(select(tables.feedback)).mappings().all()
        assert len(rows) == 1
        assert rows[0]["score"] == 8 and rows[0]["comment"] == "Lovely, thanks!" and rows[0]["clicks"] == 2
    finally:
        server.stop()
