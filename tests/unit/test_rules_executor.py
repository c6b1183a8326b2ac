"""The executor over a real SQLite store with a fake connector and a fake sender: each action
at most once, crashes reconciled from the ledger, failures isolated."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.unit.rules_fakes import (
    KEY,
    NOW,
    EmailEveryone,
    FakeConnector,
    FakeSender,
    customer,
    facts,
    seeded_store,
)
from winback import errors
from winback.connectors.base import InviteMode
from winback.connectors.retry import AmbiguousWriteError
from winback.rules.base import Step
from winback.rules.executor import run_actions
from winback.rules.ledger import Ledger
from winback.rules.planner import plan_client
from winback.rules.runner import Outcome
from winback.sync import LocalStore, tables


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    s = seeded_store(
        tmp_path / "w.db",
        [customer("1", "ann@example.com", first="Ann"), customer("2", "bob@example.com", first="Bob")],
    )
    yield s
    s.close()


def _plan(store: LocalStore, rule: EmailEveryone, now=NOW, **limits):
    from winback.rules.guards import Limits

    return plan_client(store, facts(store), [rule], now, Limits(**limits), None)


async def _run(store, plan, connector, sender, now=NOW, **kw):
    return await run_actions(plan, store=store, connector=connector, sender=sender, now=now, **kw)


def _rows(store: LocalStore) -> list[dict]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(tables.action_ledger).order_by(tables.action_ledger.c.id)).mappings()]


async def test_actions_run_once_and_are_recorded_with_what_was_created(store: LocalStore) -> None:
    connector, sender = FakeConnector(), FakeSender()
    rule = EmailEveryone({"discount": True})
    report = await _run(store, _plan(store, rule), connector, sender)

    assert [r.outcome for r in report.results] == [Outcome.DONE, Outcome.DONE]
    assert sorted(sender.recipients()) == ["Ann <ann@example.com>", "Bob <bob@example.com>"]
    assert sorted(connector.codes) == ["WB-EMAIL_EVERYONE-1", "WB-EMAIL_EVERYONE-2"]
    text = sender.sent[0].get_body(("plain",)).get_content()
    assert "WB-EMAIL_EVERYONE-1" in text
    rows = _rows(store)
    assert {r["status"] for r in rows} == {"done"}
    assert rows[0]["created_ref"]["discount_code"] == "WB-EMAIL_EVERYONE-1"
    assert rows[0]["created_ref"]["message_id"] == str(sender.sent[0]["Message-ID"])
    assert rows[0]["step_states"] == {"create_discount_code": "done", "send_email": "done"}
    assert rows[0]["email_started_at"] is not None and rows[0]["finished_at"] is not None
    assert rows[0]["attempts"] == 1


async def test_a_rerun_never_repeats_a_done_action(store: LocalStore) -> None:
    connector, sender = FakeConnector(), FakeSender()
    rule = EmailEveryone({"discount": True})
    await _run(store, _plan(store, rule), connector, sender)
    writes = list(connector.writes())

    later = NOW + timedelta(days=30)
    plan = _plan(store, rule, now=later)
    assert plan.actions == [] and {h.reason.value for h in plan.held} == {"already done"}
    # even if the guard were bypassed, the executor refuses: the ledger row is settled
    forced = _plan(store, rule)
    forced.actions = [h.action for h in plan.held]
    report = await _run(store, forced, connector, sender, now=later)
    assert {r.outcome for r in report.results} == {Outcome.ALREADY_DONE}
    assert connector.writes() == writes and len(sender.sent) == 2


async def test_a_running_discount_action_is_reconciled_by_lookup(store: LocalStore) -> None:
    connector, sender = FakeConnector(), FakeSender()
    rule = EmailEveryone({"discount": True, "only": ("ann@example.com",)})
    connector.fail_after_create_code = AmbiguousWriteError("connection dropped after the request was sent")
    report = await _run(store, _plan(store, rule), connector, sender)
    assert report.results[0].outcome is Outcome.FAILED
    assert len(connector.codes) == 1 and sender.sent == []
    # simulate a crash instead of a clean failure: the row stays running with the step started
    with store.engine.begin() as conn:
        conn.execute(update(tables.action_ledger).values(status="running"))

    connector.fail_after_create_code = None
    report = await _run(store, _plan(store, rule), connector, sender)
    assert report.results[0].outcome is Outcome.DONE
    assert [c for c in connector.calls if c.startswith("create_discount_code")] == ["create_discount_code WB-EMAIL_EVERYONE-1"]
    assert "find_discount_code WB-EMAIL_EVERYONE-1" in connector.calls
    assert len(sender.sent) == 1
    row = _rows(store)[0]
    assert row["created_ref"]["adopted"] is True and row["attempts"] == 2 and row["status"] == "done"


async def test_a_code_taken_by_someone_else_is_not_adopted(store: LocalStore) -> None:
    """More in test_rules_recorded_defects.py: another string is derived, the code is left alone."""
    connector, sender = FakeConnector(), FakeSender()
    rule = EmailEveryone({"discount": True, "only": ("ann@example.com",)})
    from winback.model import DiscountCode

    connector.codes["WB-EMAIL_EVERYONE-1"] = DiscountCode(platform="fake", store_id="x", id="theirs", code="WB-EMAIL_EVERYONE-1")
    report = await _run(store, _plan(store, rule), connector, sender)
    assert report.results[0].outcome is Outcome.DONE
    assert report.results[0].created_ref["discount_code"] != "WB-EMAIL_EVERYONE-1"
    assert connector.codes["WB-EMAIL_EVERYONE-1"].id == "theirs" and "adopted" not in _rows(store)[0]["created_ref"]


async def test_an_interrupted_email_needs_review_and_is_never_resent(store: LocalStore) -> None:
    connector = FakeConnector()
    rule = EmailEveryone({"only": ("ann@example.com",)})
    plan = _plan(store, rule)
    entry = Ledger(store).claim(plan.actions[0], NOW)
    Ledger(store).start(entry.id, NOW)
    Ledger(store).email_started(entry.id, NOW)  # the process died while handing over the message

    sender = FakeSender()
    report = await _run(store, _plan(store, rule), connector, sender)
    assert report.results[0].outcome is Outcome.NEEDS_REVIEW
    assert sender.sent == []
    assert Ledger(store).needing_review(KEY)[0]["email"] == "ann@example.com"
    # the next plan holds it and the next run sends nothing
    plan = _plan(store, rule, now=NOW + timedelta(days=60))
    assert plan.actions == [] and plan.held[0].reason.value == "needs review"
    await _run(store, plan, connector, sender)
    assert sender.sent == []


async def test_a_sender_error_after_hand_over_needs_review(store: LocalStore) -> None:
    rule = EmailEveryone({"only": ("ann@example.com",)})
    report = await _run(store, _plan(store, rule), FakeConnector(), FakeSender(fail=errors.NotifyError("timeout after DATA")))
    assert report.results[0].outcome is Outcome.NEEDS_REVIEW
    row = _rows(store)[0]
    assert row["needs_review"] is True and row["status"] == "failed"


async def test_one_failing_action_does_not_stop_the_others(store: LocalStore) -> None:
    connector, sender = FakeConnector(), FakeSender()
    connector.fail_create_code = errors.PlatformRejectedError("value too large", store="fake")
    rule = EmailEveryone({"discount": True})
    report = await _run(store, _plan(store, rule), connector, sender)
    assert [r.outcome for r in report.results] == [Outcome.FAILED, Outcome.FAILED]
    assert all("value too large" in r.detail for r in report.results)
    connector.fail_create_code = None
    report = await _run(store, _plan(store, rule), connector, sender)  # failed actions retry next run
    assert [r.outcome for r in report.results] == [Outcome.DONE, Outcome.DONE]
    assert len(connector.codes) == 2 and len(sender.sent) == 2


async def test_a_store_wide_error_stops_the_rest(store: LocalStore) -> None:
    connector, sender = FakeConnector(), FakeSender()
    connector.fail_create_code = errors.AuthenticationError("token rejected", store="fake")
    report = await _run(store, _plan(store, EmailEveryone({"discount": True})), connector, sender)
    assert [r.outcome for r in report.results] == [Outcome.FAILED, Outcome.NOT_RUN]
    assert report.stopped == "token rejected"


async def test_account_steps_follow_the_capabilities(store: LocalStore) -> None:
    rule = EmailEveryone({"account": True, "marketing": False, "template": "account_created", "only": ("ann@example.com",)})
    not_needed, sender = FakeConnector(InviteMode.NOT_NEEDED), FakeSender()
    report = await _run(store, _plan(store, rule), not_needed, sender)
    assert report.results[0].outcome is Outcome.SKIPPED and "not needed" in report.results[0].detail
    assert not_needed.writes() == [] and sender.sent == []
    assert _rows(store)[0]["status"] == "skipped"


async def test_ecwid_style_account_creation_skips_the_invite_step(tmp_path: Path) -> None:
    store = seeded_store(tmp_path / "e.db", [customer("9", "guest@example.com", first="Gus")])
    rule = EmailEveryone({"account": True, "marketing": False, "template": "account_created"})
    connector, sender = FakeConnector(InviteMode.CREATE_CUSTOMER), FakeSender()
    report = await _run(store, _plan(store, rule), connector, sender)
    assert report.results[0].outcome is Outcome.DONE
    assert connector.writes() == ["create_customer guest@example.com"]
    row = _rows(store)[0]
    assert row["step_states"] == {"create_account": "done", "send_invite": "skipped", "send_email": "done"}
    assert row["created_ref"]["customer_id"] == "c1"
    store.close()


async def test_an_interrupted_invite_is_not_sent_twice(tmp_path: Path) -> None:
    store = seeded_store(tmp_path / "i.db", [customer("9", "guest@example.com")])
    rule = EmailEveryone({"account": True, "marketing": False, "template": "account_created"})
    plan = _plan(store, rule)
    ledger = Ledger(store)
    entry = ledger.claim(plan.actions[0], NOW)
    ledger.start(entry.id, NOW)
    ledger.step_skipped(entry.id, Step.CREATE_ACCOUNT, NOW)
    ledger.step_started(entry.id, Step.SEND_INVITE, NOW)
    connector, sender = FakeConnector(InviteMode.SEND_INVITE), FakeSender()
    report = await _run(store, _plan(store, rule), connector, sender)
    assert report.results[0].outcome is Outcome.NEEDS_REVIEW
    assert connector.invites == [] and sender.sent == []
    store.close()


async def test_dry_run_has_no_platform_or_ledger_side_effects(store: LocalStore) -> None:
    connector, sender = FakeConnector(), FakeSender()
    rule = EmailEveryone({"discount": True})
    report = await _run(store, _plan(store, rule), None, sender, dry_run=True, capabilities=None)
    assert {r.outcome for r in report.results} == {Outcome.WOULD_DO}
    assert len(sender.sent) == 2 and "WB-EMAIL_EVERYONE-1" in sender.sent[0].get_body(("plain",)).get_content()
    assert connector.calls == [] and _rows(store) == []


async def test_an_action_without_steps_is_recorded_as_skipped_with_its_reason(store: LocalStore) -> None:
    """Rules say "nothing to do, and why" with ``steps=()`` (e.g. new customer accounts): the
    ledger keeps it as skipped with that reason, so it is visible and never planned again."""
    from dataclasses import replace

    plan = _plan(store, EmailEveryone({"marketing": False}))
    reason = "not needed: the store uses new customer accounts (sign-in by emailed code)"
    plan.actions[:] = [replace(action, steps=(), reason=reason) for action in plan.actions]
    connector, sender = FakeConnector(), FakeSender()

    report = await _run(store, plan, connector, sender)

    assert [r.outcome for r in report.results] == [Outcome.SKIPPED, Outcome.SKIPPED]
    assert sender.sent == [] and connector.writes() == []
    rows = _rows(store)
    assert [(r["status"], r["reason"], r["error"]) for r in rows] == [("skipped", reason, reason)] * 2
    again = _plan(store, EmailEveryone({"marketing": False}))
    assert again.actions == []


class _UnreachableSender(FakeSender):
    """An SMTP server that cannot be reached: ``ready`` proves nothing can leave."""

    async def ready(self) -> None:
        raise errors.EmailNotSentError("could not connect to the SMTP server 127.0.0.1:1: connection refused")


@pytest.mark.parametrize("where", ["ready", "send"])
async def test_an_email_that_certainly_did_not_leave_is_retried_not_held(store: LocalStore, where: str) -> None:
    """An unreachable SMTP server must not turn every reminder into a review item: the sender
    proves nothing left (EmailNotSentError), the action fails, and the next run sends it once."""
    connector = FakeConnector()
    rule = EmailEveryone({"discount": True, "only": ("ann@example.com",)})
    down = _UnreachableSender() if where == "ready" else FakeSender(fail=errors.EmailNotSentError("recipient refused"))

    first = await _run(store, _plan(store, rule), connector, down)

    assert first.results[0].outcome is Outcome.FAILED
    row = _rows(store)[0]
    assert row["needs_review"] is False and row["email_started_at"] is None
    assert row["step_states"] == {"create_discount_code": "done"}
    assert connector.writes() == ["create_discount_code WB-EMAIL_EVERYONE-1"]

    sender = FakeSender()
    second = await _run(store, _plan(store, rule), connector, sender)
    assert second.results[0].outcome is Outcome.DONE
    assert sender.recipients() == ["Ann <ann@example.com>"]
    assert connector.writes() == ["create_discount_code WB-EMAIL_EVERYONE-1"]  # not created twice
    assert _rows(store)[0]["status"] == "done"


@pytest.mark.parametrize("dry_run", [False, True])
async def test_an_unwritable_outbox_stops_the_client_once(store: LocalStore, tmp_path: Path, dry_run: bool) -> None:
    """Every email of the run would fail the same way: one stop, one message, the rest not run;
    a real run leaves the actions to be tried again next run, with nothing waiting for review."""
    from winback.notify import OutboxSender

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the outbox's parent should be")
    sender = OutboxSender(blocker / "outbox")
    plan = _plan(store, EmailEveryone({"marketing": False}))

    report = await _run(store, plan, None if dry_run else FakeConnector(), sender, dry_run=dry_run, capabilities=None)

    assert [r.outcome for r in report.results] == [Outcome.FAILED, Outcome.NOT_RUN]
    assert report.stopped is not None and "cannot write to the outbox" in report.stopped
    if not dry_run:
        [row] = _rows(store)
        assert row["status"] == "failed" and row["needs_review"] is False and row["email_started_at"] is None
        again = await _run(store, _plan(store, EmailEveryone({"marketing": False})), FakeConnector(), FakeSender())
        assert [r.outcome for r in again.results] == [Outcome.DONE, Outcome.DONE]


async def test_outbox_folders_are_all_created_private(tmp_path: Path) -> None:
    import stat

    from winback.notify import OutboxSender

    target = tmp_path / "a" / "b" / "dry-run" / "client"
    await OutboxSender(target).ready()
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "dry-run", target):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


async def test_a_template_past_its_limits_stops_the_client_once(store: LocalStore, tmp_path: Path) -> None:
    """Every customer would cost the same seconds or megabytes again: one stop, the rest not run,
    and the failed action is tried again next run (after the template is fixed)."""
    from winback.config import EmailSection

    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "back_to_bestsellers.txt").write_text('{% for i in range(3) %}{{ "x" * 999999 }}{% endfor %}')
    settings = EmailSection(from_address="shop@example.com", templates_dir=str(templates))
    sender = FakeSender()

    report = await _run(store, _plan(store, EmailEveryone({"marketing": False})), FakeConnector(), sender,
                        email_settings=settings)

    assert [r.outcome for r in report.results] == [Outcome.FAILED, Outcome.NOT_RUN]
    assert report.stopped is not None and "back_to_bestsellers.txt" in report.stopped
    assert sender.sent == []
    assert [row["status"] for row in _rows(store)] == ["failed"]


async def test_a_dry_run_logs_full_addresses_and_a_real_run_masks_them(store: LocalStore, caplog) -> None:
    """The dry-run policy: the merchant checks who would get what on their own machine, as
    ``winback plan`` shows it; a real run's log (often kept in files) masks addresses."""
    import logging

    caplog.set_level(logging.INFO, logger="winback.rules.executor")
    rule = EmailEveryone({"marketing": False})
    await _run(store, _plan(store, rule), None, FakeSender(), dry_run=True)
    dry = " ".join(r.getMessage() for r in caplog.records)
    assert "would send email_everyone to ann@example.com" in dry and "bob@example.com" in dry

    caplog.clear()
    await _run(store, _plan(store, rule), FakeConnector(), FakeSender())
    real = " ".join(r.getMessage() for r in caplog.records)
    assert "a***@example.com" in real and "ann@example.com" not in real
