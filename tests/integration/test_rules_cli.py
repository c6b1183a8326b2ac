"""``winback plan`` / ``run`` / ``preview`` / ``suppress`` / ``status`` end to end: the Shopify
emulator over real sockets, real SQLite, the outbox sender, the CLI through click's CliRunner."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.plugin_dist import install_dist_info
from winback.cli.main import cli
from winback.emulator.generate import generate_world
from winback.emulator.shopify import start_shopify_emulator
from winback.rules import registry
from winback.sync import open_store, tables

pytestmark = pytest.mark.integration

RULE = "email_everyone"


@pytest.fixture(scope="module")
def shopify() -> Iterator[tuple[Any, Any]]:
    server, shop = start_shopify_emulator(generate_world(2031, customers=60), restore_rate=1000, bucket_size=20000)
    try:
        yield server, shop
    finally:
        server.stop()


@pytest.fixture
def test_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Register the test rule the way a plugin package would (a dist-info with an entry point)."""
    install_dist_info(monkeypatch, tmp_path / "plugins", "winback_rules_test",
                      {"winback.rules": {RULE: "tests.unit.rules_fakes:EmailEveryone"}})
    registry.clear_cache()
    yield
    registry.clear_cache()


def _write_config(directory: Path, server: Any, shop: Any, rules: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "acme.toml"
    path.write_text(
        textwrap.dedent(
            f"""\
            [client]
            name = "Acme Apparel"

            [store]
            platform = "shopify"
            shop = "{shop.shop_domain}"
            access_token = "{shop.access_token}"
            base_url = "{server.url}"
            max_attempts = 2
            retry_base_delay_s = 0.01

            [database]
            url = "clients.db"

            [email]
            from_address = "Acme <hello@acme.example>"
            unsubscribe_mailto = "unsubscribe@acme.example"

            [limits]
            max_actions_per_run = 50
            """
        )
        + rules,
        encoding="utf-8",
    )
    return path


def _subscribed(db: Path, count: int) -> list[str]:
    with open_store(str(db)) as store, store.engine.connect() as conn:
        c = tables.customers
        rows = conn.execute(
            select(c.c.email).where(c.c.consent_state == "subscribed", c.c.email.is_not(None)).order_by(c.c.lower_email)
        ).scalars().all()
    assert len(rows) >= count, "the emulated world needs more subscribed customers"
    return list(rows[:count])


def _writes(server: Any) -> dict[str, Any]:
    return httpx.get(f"{server.url}/_emulator/writes", timeout=10).json()


def test_plan_then_run_sends_once_and_a_second_run_does_nothing(
    shopify: tuple[Any, Any], tmp_path: Path, test_rule: None
) -> None:
    server, shop = shopify
    runner = CliRunner()
    config = _write_config(tmp_path / "clients", server, shop, "")
    assert runner.invoke(cli, ["sync", "--config", str(config)]).exit_code == 0
    chosen = _subscribed(tmp_path / "clients" / "clients.db", 3)
    config = _write_config(
        tmp_path / "clients", server, shop,
        f"\n[rules.{RULE}]\ndiscount = true\nonly = {json.dumps(chosen)}\n",
    )
    codes_before = len(_writes(server)["discount_codes"])

    planned = runner.invoke(cli, ["plan", "--config", str(config), "--json"])
    assert planned.exit_code == 0, planned.output
    [entry] = json.loads(planned.stdout)
    assert sorted(a["email"] for a in entry["actions"]) == sorted(chosen)
    assert all(a["steps"] == ["create_discount_code", "send_email"] for a in entry["actions"])
    assert len(_writes(server)["discount_codes"]) == codes_before  # planning has no side effects

    dry = runner.invoke(cli, ["run", "--config", str(config), "--no-sync", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    would = [line.split("\t") for line in dry.stdout.splitlines() if line.startswith("  would do\t")]
    assert sorted(fields[2] for fields in would) == sorted(chosen)  # full addresses, as `plan` shows them
    assert len(list((tmp_path / "clients" / "outbox" / "dry-run" / "acme").glob("*.eml"))) == 3
    assert len(_writes(server)["discount_codes"]) == codes_before

    first = runner.invoke(cli, ["run", "--config", str(config)])
    assert first.exit_code == 0, first.output
    assert "done=3" in first.stdout
    emails = sorted((tmp_path / "clients" / "outbox").glob("*.eml"))
    assert len(emails) == 3
    created = _writes(server)["discount_codes"][codes_before:]
    assert len(created) == 3
    bodies = "\n".join(path.read_text(encoding="utf-8") for path in emails)
    for code in created:
        assert code["code"] in bodies

    page = tmp_path / "sent.html"
    shown = runner.invoke(cli, ["preview", RULE, "--config", str(config), "--customer", chosen[0], "--output", str(page)])
    assert shown.exit_code == 0, shown.output
    assert "the ledger records this action as done" in shown.stderr
    assert any(code["code"] in page.read_text(encoding="utf-8") for code in created)

    second = runner.invoke(cli, ["run", "--config", str(config)])
    assert second.exit_code == 0, second.output
    assert "already done 3" in second.stdout
    assert len(_writes(server)["discount_codes"]) == codes_before + 3
    assert len(sorted((tmp_path / "clients" / "outbox").glob("*.eml"))) == 3

    status = runner.invoke(cli, ["status", "--config", str(config), "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)[0]["actions"] == {"counts": {RULE: {"done": 3}}, "needs_review": [], "last_failure": None}


def test_suppress_and_preview(shopify: tuple[Any, Any], tmp_path: Path, test_rule: None) -> None:
    server, shop = shopify
    runner = CliRunner()
    config = _write_config(tmp_path / "clients", server, shop, "")
    assert runner.invoke(cli, ["sync", "--config", str(config)]).exit_code == 0
    chosen = _subscribed(tmp_path / "clients" / "clients.db", 2)
    config = _write_config(tmp_path / "clients", server, shop, f"\n[rules.{RULE}]\nonly = {json.dumps(chosen)}\n")

    added = runner.invoke(cli, ["suppress", "add", chosen[0].upper(), "--config", str(config), "--reason", "asked"])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(cli, ["suppress", "list", "--config", str(config)])
    assert chosen[0].lower() in listed.stdout

    planned = runner.invoke(cli, ["plan", "--config", str(config), "--json", "--no-connect"])
    [entry] = json.loads(planned.stdout)
    assert [a["email"] for a in entry["actions"]] == [chosen[1]]
    assert entry["held"] == {"suppressed": 1}

    page = tmp_path / "preview.html"
    shown = runner.invoke(cli, ["preview", RULE, "--config", str(config), "--customer", chosen[1], "--output", str(page)])
    assert shown.exit_code == 0, shown.output
    assert "<iframe" in page.read_text(encoding="utf-8")
    missing = runner.invoke(cli, ["preview", RULE, "--config", str(config), "--customer", "nobody@example.com"])
    assert missing.exit_code == 1 and "would send nothing" in missing.output

    removed = runner.invoke(cli, ["suppress", "remove", chosen[0], "--config", str(config)])
    assert removed.exit_code == 0 and "may be contacted again" in removed.stdout


def test_a_run_is_refused_while_another_holds_the_store(shopify: tuple[Any, Any], tmp_path: Path, test_rule: None) -> None:
    from winback.rules.locks import store_lock

    server, shop = shopify
    config = _write_config(tmp_path / "clients", server, shop, f"\n[rules.{RULE}]\nonly = []\n")
    key = f"shopify:{shop.shop_domain}"
    with open_store(str(tmp_path / "clients" / "clients.db")) as store, store_lock(store, key):
        busy = CliRunner().invoke(cli, ["run", "--config", str(config), "--no-sync"])
    assert busy.exit_code == 1
    assert f"another winback run is working on {key}" in busy.output


def test_a_run_whose_actions_all_fail_says_so_and_status_keeps_the_error(
    shopify: tuple[Any, Any], tmp_path: Path, test_rule: None
) -> None:
    """No "ok ... failed=77": the client's word is FAILED, a totals line counts clients and
    actions, and ``status`` shows why instead of ``last error: -``."""
    server, shop = shopify
    runner = CliRunner()
    config = _write_config(tmp_path / "clients", server, shop, "")
    assert runner.invoke(cli, ["sync", "--config", str(config)]).exit_code == 0
    chosen = _subscribed(tmp_path / "clients" / "clients.db", 3)
    (tmp_path / "blocker").write_text("a file, not a folder")
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "[email]\n", f'[email]\noutbox_dir = "{tmp_path / "blocker" / "outbox"}"\n'
        )
        + f"\n[rules.{RULE}]\nmarketing = false\nonly = {json.dumps(chosen)}\n",
        encoding="utf-8",
    )

    ran = runner.invoke(cli, ["run", "--config", str(config), "--no-sync"])

    assert ran.exit_code == 1
    [line, total] = [text for text in ran.stdout.splitlines() if text.strip()]
    assert line.startswith("FAILED  Acme Apparel") and "cannot write to the outbox" in line
    assert total == "1 client: 0 ok, 0 partial, 1 failed; actions: 0 done, 1 failed"
    assert ran.stdout.count("cannot write to the outbox") == 1

    status = runner.invoke(cli, ["status", "--config", str(config)])
    [last_error] = [text for text in status.stdout.splitlines() if "last error" in text]
    assert "1 action failed" in last_error and "cannot write to the outbox" in last_error


def test_a_run_without_an_enabled_rule_says_how_to_enable_one(shopify: tuple[Any, Any], tmp_path: Path) -> None:
    server, shop = shopify
    config = _write_config(tmp_path / "clients", server, shop, "\n# [rules.back_to_bestsellers]\n# after_days = 180\n")

    ran = CliRunner().invoke(cli, ["run", "--config", str(config)])

    assert ran.exit_code == 0, ran.output
    [line] = [text for text in ran.stdout.splitlines() if text.startswith("ok ")]
    assert f"no rule is enabled in {config}, so winback only syncs" in line
    assert "uncomment [rules.back_to_bestsellers]" in line and "nothing to do" not in line
