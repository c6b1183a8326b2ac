"""The first hour with ``plan`` and ``preview`` on a local store (no platform contacted): a
config without an enabled rule says so and how to enable one; held actions show who and until
when; a customer already acted on can still be previewed; ``--help`` lists what a merchant needs."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.plugin_dist import install_dist_info
from winback import model
from winback.cli.main import cli
from winback.connectors.base import Page, Resource
from winback.rules import registry
from winback.rules.base import PlannedAction, Step
from winback.rules.ledger import Ledger
from winback.sync import open_store

KEY = "ecwid:1003"


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test rules, registered the way a plugin package would (a dist-info with entry points)."""
    install_dist_info(monkeypatch, tmp_path / "plugins", "winback_rules_first_hour", {"winback.rules": {
        "email_everyone": "tests.unit.rules_fakes:EmailEveryone",
        "email_everyone_once": "tests.unit.rules_fakes:EmailEveryoneOnce",
    }})
    registry.clear_cache()
    yield
    registry.clear_cache()


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An Ecwid client's local store with three subscribed customers, and its config (no rules yet)."""
    monkeypatch.setenv("WB_FIRST_HOUR_TOKEN", "secret_first_hour_token_value")
    database = tmp_path / "client.db"
    store = open_store(str(database))
    store.upsert_store(model.Store(platform="ecwid", store_id="1003", name="Shop", currency="EUR",
                                   email="hello@shop.example", timezone="UTC"))
    people = [
        model.Customer(platform="ecwid", store_id="1003", id=str(n), email=f"{name}@example.com", first_name=name.title(),
                       updated_at=datetime(2026, 1, 1, tzinfo=UTC),
                       consent=model.EmailConsent(state=model.ConsentState.SUBSCRIBED))
        for n, name in enumerate(("ann", "bob", "cy"), start=1)
    ]
    store.commit_page(KEY, Resource.CUSTOMERS, Page(records=people), None)
    store.close()
    path = tmp_path / "acme.toml"
    path.write_text(
        textwrap.dedent(
            f"""\
            [store]
            platform = "ecwid"
            store_id = "1003"
            token = "${{WB_FIRST_HOUR_TOKEN}}"

            [database]
            url = "sqlite:///{database}"

            [email]
            from_address = "Shop <hello@shop.example>"

            # One table per rule; each rule checks its own options.
            # [rules.back_to_bestsellers]
            # after_days = 180
            """
        ),
        encoding="utf-8",
    )
    return path


def _add(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + textwrap.dedent(text), encoding="utf-8")


# --- no rule enabled -----------------------------------------------------------------------------


def test_plan_says_no_rule_is_enabled_and_how_to_enable_one(client: Path) -> None:
    shown = CliRunner().invoke(cli, ["plan", "--config", str(client), "--no-connect"])

    assert shown.exit_code == 0, shown.output
    assert f"no rule is enabled in {client}" in shown.stdout
    assert "uncomment [rules.back_to_bestsellers]" in shown.stdout
    assert "back_to_bestsellers" in shown.stdout.split("installed rules:")[1]

    as_json = CliRunner().invoke(cli, ["plan", "--config", str(client), "--no-connect", "--json"])
    [entry] = json.loads(as_json.stdout)
    assert entry["note"].startswith(f"no rule is enabled in {client}")


def test_check_says_the_same(client: Path) -> None:
    from winback.checks import check_rules
    from winback.config import load_config

    [rules_line, _] = check_rules(load_config(client))
    assert rules_line.detail.startswith(f"no rule is enabled in {client}, so winback only syncs: to enable one, ")


def test_a_rule_switched_off_is_named(client: Path, rules: None) -> None:
    _add(client, "\n[rules.email_everyone]\nenabled = false\n")

    shown = CliRunner().invoke(cli, ["plan", "--config", str(client), "--no-connect"])

    assert f"no rule is enabled in {client}: [rules.email_everyone] has enabled = false" in shown.stdout


def test_no_note_once_a_rule_is_enabled(client: Path, rules: None) -> None:
    _add(client, "\n[rules.email_everyone]\n")
    [entry] = json.loads(CliRunner().invoke(cli, ["plan", "--config", str(client), "--no-connect", "--json"]).stdout)
    assert entry["note"] is None and len(entry["actions"]) == 3


# --- held actions ----------------------------------------------------------------------------------


def test_plan_lists_each_held_action_with_until_when(client: Path, rules: None) -> None:
    now = datetime.now(UTC)
    sent = now - timedelta(days=2)
    store = open_store(str(client.parent / "client.db"))
    ledger = Ledger(store)
    earlier = PlannedAction(
        rule="other_rule", idempotency_key="other_rule:bob", store_key=KEY, email="bob@example.com",
        customer_id="2", recipient_name="Bob", reason="earlier", steps=(Step.SEND_EMAIL,), marketing=True,
    )
    entry = ledger.claim(earlier, sent)
    ledger.email_started(entry.id, sent)
    ledger.finish(entry.id, "done", sent)
    store.close()
    _add(client, '\n[rules.email_everyone]\nonly = ["ann@example.com", "bob@example.com"]\n'
                 '\n[limits]\nmax_actions_per_run = 0\n')

    shown = CliRunner().invoke(cli, ["plan", "--config", str(client), "--no-connect"])

    assert shown.exit_code == 0, shown.output
    held = {line.split("\t")[1]: line.split("\t") for line in shown.stdout.splitlines() if "\theld: " in line}
    assert held["bob@example.com"][3:5] == ["held: capped", "1 marketing email(s) in 7 days (cap 1)"]
    assert held["bob@example.com"][5] == f"until {sent + timedelta(days=7):%Y-%m-%d %H:%M} UTC"
    assert held["ann@example.com"][3] == "held: over limit" and held["ann@example.com"][5] == "-"

    [plan] = json.loads(CliRunner().invoke(cli, ["plan", "--config", str(client), "--no-connect", "--json"]).stdout)
    by_email = {h["email"]: h for h in plan["held_actions"]}
    assert by_email["bob@example.com"]["held"] == "capped"
    assert datetime.fromisoformat(by_email["bob@example.com"]["until"]) == sent + timedelta(days=7)
    assert by_email["ann@example.com"]["until"] is None and by_email["ann@example.com"]["rule"] == "email_everyone"


def test_quiet_hours_hold_until_they_end(client: Path, rules: None) -> None:
    now = datetime.now(UTC)
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    _add(client, f'\n[rules.email_everyone]\nonly = ["cy@example.com"]\n'
                 f'\n[limits]\nquiet_hours = "{start:%H:%M}-{end:%H:%M}"\ntimezone = "UTC"\n')

    [plan] = json.loads(CliRunner().invoke(cli, ["plan", "--config", str(client), "--no-connect", "--json"]).stdout)

    [held] = plan["held_actions"]
    assert (held["email"], held["held"]) == ("cy@example.com", "quiet hours")
    assert datetime.fromisoformat(held["until"]) == end.replace(second=0, microsecond=0)


# --- preview ---------------------------------------------------------------------------------------


def test_preview_shows_the_email_a_customer_already_got(client: Path, rules: None, tmp_path: Path) -> None:
    """The rule leaves out customers it acted on; the preview renders the ledger's record, with the
    discount code actually created then."""
    _add(client, '\n[rules.email_everyone_once]\ndiscount = true\nonly = ["ann@example.com"]\n')
    store = open_store(str(client.parent / "client.db"))
    ledger = Ledger(store)
    done_at = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    action = PlannedAction(
        rule="email_everyone_once", idempotency_key="email_everyone_once:ann", store_key=KEY, email="ann@example.com",
        customer_id="1", recipient_name="Ann", reason="bought twice, not since May",
        steps=(Step.CREATE_DISCOUNT_CODE, Step.SEND_EMAIL), marketing=True,
        payload={
            "discount": {"code": "WB-PLANNED", "title": "t", "kind": "percentage", "value": "10"},
            "email": {"template": "back_to_bestsellers", "context": {
                "customer": {"email": "ann@example.com", "first_name": "Ann"}, "reason_text": "We miss you.",
                "days_since": 194, "last_order_at": "2026-05-12T10:00:00+00:00", "products": [],
                "sign_in_url": "https://shop.example/account",
            }},
        },
    )
    entry = ledger.claim(action, done_at)
    ledger.step_done(entry.id, Step.CREATE_DISCOUNT_CODE, done_at, {"discount_code": "WB-REAL-CODE-42"})
    ledger.email_started(entry.id, done_at)
    ledger.finish(entry.id, "done", done_at)
    store.close()
    page = tmp_path / "ann.html"

    shown = CliRunner().invoke(cli, ["preview", "email_everyone_once", "--config", str(client),
                                     "--customer", "Ann@Example.com", "--output", str(page)])

    assert shown.exit_code == 0, shown.output
    html = page.read_text(encoding="utf-8")
    assert "WB-REAL-CODE-42" in html and "WB-PLANNED" not in html
    assert "reason: bought twice, not since May" in shown.stderr
    assert "the ledger records this action as done (2026-11-20 09:30 UTC)" in shown.stderr

    nobody = CliRunner().invoke(cli, ["preview", "email_everyone_once", "--config", str(client),
                                      "--customer", "nobody@example.com"])
    assert nobody.exit_code == 1 and "would send nothing" in nobody.stderr


def test_preview_help_lists_the_installed_rules(rules: None) -> None:
    shown = CliRunner().invoke(cli, ["preview", "--help"])
    assert shown.exit_code == 0
    installed = shown.stdout.split("Installed rules (RULE):")[1]
    for name in ("back_to_bestsellers", "discount_codes", "auto_create_accounts", "email_everyone_once"):
        assert name in installed


def test_suppress_help_describes_each_subcommand() -> None:
    shown = CliRunner().invoke(cli, ["suppress", "--help"])
    commands = shown.stdout.split("Commands:")[1].strip().splitlines()
    assert len(commands) == 3
    assert all(len(line.split(maxsplit=1)) == 2 for line in commands), commands
