"""Settling actions held for review: a person says whether an interrupted send reached the
customer; winback then records it as done, or sends it exactly once on the next run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.unit.rules_fakes import KEY, NOW, EmailEveryone, FakeConnector, FakeSender, customer, facts, seeded_store
from winback import model
from winback.cli.main import cli
from winback.rules.base import PlannedAction, Step
from winback.rules.executor import run_actions
from winback.rules.guards import Limits
from winback.rules.ledger import Ledger
from winback.rules.planner import plan_client
from winback.rules.runner import Outcome
from winback.sync import LocalStore, open_store, tables

RULE = EmailEveryone({"only": ("ann@example.com",)})


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    s = seeded_store(tmp_path / "w.db", [customer("1", "ann@example.com", first="Ann")])
    yield s
    s.close()


def _interrupted(store: LocalStore) -> str:
    """The state a SIGKILL mid-send leaves: the email was handed over, the run never confirmed it."""
    action = plan_client(store, facts(store), [RULE], NOW, Limits(), None).actions[0]
    ledger = Ledger(store)
    entry = ledger.claim(action, NOW)
    ledger.start(entry.id, NOW)
    ledger.email_started(entry.id, NOW)
    return action.idempotency_key


async def _run(store: LocalStore, sender: FakeSender, now=NOW):
    plan = plan_client(store, facts(store), [RULE], now, Limits(), None)
    return plan, await run_actions(plan, store=store, connector=FakeConnector(), sender=sender, now=now)


async def test_resend_sends_exactly_once_on_the_next_run(store: LocalStore) -> None:
    key = _interrupted(store)
    held_sender = FakeSender()
    await _run(store, held_sender)
    assert held_sender.sent == [] and Ledger(store).needing_review(KEY)

    assert Ledger(store).settle_review(KEY, key, delivered=False, now=NOW)
    assert not Ledger(store).settle_review(KEY, key, delivered=False, now=NOW)  # nothing left to settle

    sender = FakeSender()
    _, report = await _run(store, sender, NOW + timedelta(hours=1))
    assert [r.outcome for r in report.results] == [Outcome.DONE]
    assert sender.recipients() == ["Ann <ann@example.com>"]
    again = FakeSender()
    plan, _ = await _run(store, again, NOW + timedelta(hours=2))
    assert plan.actions == [] and again.sent == []


async def test_delivered_records_done_and_never_sends(store: LocalStore) -> None:
    key = _interrupted(store)
    await _run(store, FakeSender())
    assert Ledger(store).settle_review(KEY, key, delivered=True, now=NOW)

    with store.engine.connect() as conn:
        row = conn.execute(select(tables.action_ledger)).mappings().one()
    assert (row["status"], row["needs_review"], row["step_states"]) == ("done", False, {"send_email": "done"})
    sender = FakeSender()
    plan, _ = await _run(store, sender, NOW + timedelta(days=1))
    assert plan.actions == [] and sender.sent == []


def test_review_cli_lists_and_settles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "client.db"
    monkeypatch.setenv("REVIEW_TOKEN", "secret_review_token_value")
    config = tmp_path / "client.toml"
    config.write_text(
        f'[store]\nplatform = "ecwid"\nstore_id = "1003"\ntoken = "${{REVIEW_TOKEN}}"\n'
        f'[database]\nurl = "sqlite:///{database}"\n',
        encoding="utf-8",
    )
    store = open_store(str(database))
    store.upsert_store(model.Store(platform="ecwid", store_id="1003", name="Shop", currency="EUR"))
    action = PlannedAction(
        rule="back_to_bestsellers", idempotency_key="back_to_bestsellers:abc", store_key="ecwid:1003",
        email="ann@example.com", customer_id=None, recipient_name="Ann", reason="test",
        steps=(Step.SEND_EMAIL,), marketing=True,
    )
    ledger = Ledger(store)
    entry = ledger.claim(action, NOW)
    ledger.start(entry.id, NOW)
    ledger.email_started(entry.id, NOW)
    ledger.finish(entry.id, "failed", NOW, error="interrupted", needs_review=True)
    store.close()

    runner = CliRunner()
    listed = runner.invoke(cli, ["review", "list", "--config", str(config)])
    assert listed.exit_code == 0, listed.output
    assert "back_to_bestsellers:abc" in listed.output and "ann@example.com" in listed.output

    unknown = runner.invoke(cli, ["review", "resend", "nope", "--config", str(config)])
    assert unknown.exit_code == 1 and "no action with key 'nope'" in unknown.output

    settled = runner.invoke(cli, ["review", "resend", "back_to_bestsellers:abc", "--config", str(config)])
    assert settled.exit_code == 0 and "sends it once" in settled.output
    store = open_store(str(database))
    try:
        assert Ledger(store).needing_review("ecwid:1003") == []
    finally:
        store.close()
    assert "secret_review_token_value" not in listed.output + settled.output
