"""Defects found against real recorded Shopify responses (issue 10, section 3), at the executor:
nothing is created for an email that cannot go out, and a code string someone else owns, or one
winback made before a fresh database, never fails an action run after run."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from email import message_from_string, policy
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.unit.rules_fakes import NOW, EmailEveryone, FakeConnector, FakeSender, customer, facts, seeded_store
from winback import errors
from winback.model import DiscountCode, DiscountKind
from winback.notify import OutboxSender
from winback.rules.base import Step
from winback.rules.codes import alternative_code
from winback.rules.executor import run_actions
from winback.rules.guards import Limits
from winback.rules.ledger import Ledger
from winback.rules.planner import plan_client
from winback.rules.runner import Outcome
from winback.sync import LocalStore, tables

ANN = "ann@example.com"
CODE = "WB-EMAIL_EVERYONE-1"


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    s = seeded_store(tmp_path / "w.db", [customer("1", ANN, first="Ann"), customer("2", "josé@example.com", first="José")])
    yield s
    s.close()


def _plan(store: LocalStore, rule: EmailEveryone, now=NOW):
    return plan_client(store, facts(store), [rule], now, Limits(), None)


async def _run(store: LocalStore, connector, sender, *, only: str = ANN, now=NOW, valid_days: int | None = None, **kw):
    """Run the test rule for ``only``; with ``valid_days`` its codes start at ``now`` and end
    ``valid_days`` later, as the built-in rules' codes do."""
    plan = _plan(store, EmailEveryone({"discount": True, "only": (only,)}), now)
    if valid_days is not None:
        dates = {"starts_at": now.isoformat(), "ends_at": (now + timedelta(days=valid_days)).isoformat()}
        plan.actions[:] = [
            replace(a, payload={**a.payload, "discount": {**a.payload["discount"], **dates}}) for a in plan.actions
        ]
    return await run_actions(plan, store=store, connector=connector, sender=sender, now=now, **kw)


def _row(store: LocalStore) -> dict:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(tables.action_ledger)).mappings().one())


def _mailed_code(sender: FakeSender) -> str:
    text = sender.sent[-1].get_body(("plain",)).get_content()
    return next(word for word in text.split() if word.startswith("WB-"))


def _merchants_own(code: str = CODE) -> DiscountCode:
    """A merchant's 50 %-for-everyone code that happens to use winback's string."""
    return DiscountCode(platform="fake", store_id="x", id="theirs", code=code, title="Staff party", kind=DiscountKind.PERCENTAGE,
                        value=Decimal("50"), starts_at=NOW - timedelta(days=3), ends_at=None, usage_limit=None)


# --- an email that cannot go out ---------------------------------------------------------------


async def test_no_code_is_created_for_an_address_the_sender_cannot_send_to(store: LocalStore) -> None:
    connector, sender = FakeConnector(), FakeSender()  # a sender that takes plain ASCII addresses only
    report = await _run(store, connector, sender, only="josé@example.com")
    assert [r.outcome for r in report.results] == [Outcome.SKIPPED] and report.failed == 0
    again = await _run(store, connector, sender, only="josé@example.com", now=NOW + timedelta(days=1))
    assert again.results == [] and again.failed == 0  # settled: not planned again
    assert connector.calls == [] and sender.sent == []
    row = _row(store)
    assert row["status"] == "skipped" and "non-ASCII characters before the @" in row["error"]


async def test_a_sender_that_can_deliver_it_gets_the_code_and_the_email(store: LocalStore, tmp_path: Path) -> None:
    connector, outbox = FakeConnector(), OutboxSender(tmp_path / "outbox")
    report = await _run(store, connector, outbox, only="josé@example.com")
    assert [r.outcome for r in report.results] == [Outcome.DONE]
    [eml] = (tmp_path / "outbox").glob("*.eml")
    message = message_from_string(eml.read_bytes().decode("utf-8"), policy=policy.default)
    assert [a.addr_spec for a in message["To"].addresses] == ["josé@example.com"]
    assert "WB-EMAIL_EVERYONE-2" in message.get_body(("plain",)).get_content()


async def test_an_action_that_failed_this_way_before_is_skipped_not_failed_again(store: LocalStore) -> None:
    """Rows left by the old behaviour (code created, email failing every run) stop failing."""
    plan = _plan(store, EmailEveryone({"discount": True, "only": ("josé@example.com",)}))
    ledger = Ledger(store)
    entry = ledger.claim(plan.actions[0], NOW)
    ledger.start(entry.id, NOW)
    ledger.step_done(entry.id, Step.CREATE_DISCOUNT_CODE, NOW, {"discount_id": "d9", "discount_code": CODE})
    ledger.finish(entry.id, "failed", NOW, error="the to address ... has non-ASCII characters before the @")
    report = await _run(store, FakeConnector(), FakeSender(), only="josé@example.com")
    assert report.results[0].outcome is Outcome.SKIPPED and report.failed == 0
    assert f"the discount code {CODE} created for it earlier stays on the store" in report.results[0].detail


async def test_a_dry_run_shows_it_as_skipped(store: LocalStore) -> None:
    report = await _run(store, None, FakeSender(), only="josé@example.com", dry_run=True, capabilities=None)
    assert report.results[0].outcome is Outcome.SKIPPED and "non-ASCII" in report.results[0].detail


# --- code strings that already exist -----------------------------------------------------------


async def test_a_string_owned_by_someone_else_gets_another_code_and_is_left_alone(store: LocalStore) -> None:
    connector, sender = FakeConnector(), FakeSender()
    connector.codes[CODE] = _merchants_own()

    report = await _run(store, connector, sender)

    assert [r.outcome for r in report.results] == [Outcome.DONE]
    other = alternative_code(CODE, 1)
    assert connector.writes() == [f"create_discount_code {CODE}", f"create_discount_code {other}"]
    assert _mailed_code(sender) == other and connector.codes[CODE].id == "theirs"
    assert _row(store)["created_ref"]["discount_code"] == other
    again = await _run(store, connector, sender, now=NOW + timedelta(days=1))
    assert again.results == [] and len(sender.sent) == 1


async def test_when_every_string_is_taken_the_action_is_skipped_once_with_the_reason(store: LocalStore) -> None:
    connector, sender = FakeConnector(), FakeSender()
    for attempt in range(3):
        code = CODE if attempt == 0 else alternative_code(CODE, attempt)
        connector.codes[code] = _merchants_own(code)

    report = await _run(store, connector, sender)

    [result] = report.results
    assert result.outcome is Outcome.SKIPPED and report.failed == 0
    assert "are all taken on the store by codes winback did not make for this customer" in result.detail
    assert all(code in result.detail for code in connector.codes)
    again = await _run(store, connector, sender, now=NOW + timedelta(days=1))
    assert again.results == []
    assert sender.sent == [] and {c.id for c in connector.codes.values()} == {"theirs"}


@pytest.mark.parametrize("locked", [True, False])
async def test_a_fresh_database_adopts_the_codes_winback_made(tmp_path: Path, locked: bool) -> None:
    """The README's SQLite → PostgreSQL move starts the ledger fresh: the codes winback made on the
    store are recognised (same value, customer or title, validity) and adopted, not failed on;
    the email names the code's own end date."""
    connector = FakeConnector()
    connector.customer_locked = locked
    old = seeded_store(tmp_path / "old.db", [customer("1", ANN)])
    await _run(old, connector, FakeSender(), valid_days=30)
    old.close()
    created = list(connector.writes())

    fresh, sender = seeded_store(tmp_path / "fresh.db", [customer("1", ANN)]), FakeSender()
    report = await _run(fresh, connector, sender, now=NOW + timedelta(days=2), valid_days=30)

    assert [r.outcome for r in report.results] == [Outcome.DONE]
    assert connector.writes() == [*created, f"create_discount_code {CODE}"]  # refused as taken, then adopted
    row = _row(fresh)
    assert row["created_ref"]["adopted"] is True and row["created_ref"]["discount_id"] == "d1"
    assert _mailed_code(sender) == CODE
    assert "25 December 2026" in sender.sent[0].get_body(("plain",)).get_content()  # NOW + 30 days
    fresh.close()


async def test_an_expired_code_of_ours_is_not_mailed_again(tmp_path: Path) -> None:
    connector = FakeConnector()
    old = seeded_store(tmp_path / "old.db", [customer("1", ANN)])
    await _run(old, connector, FakeSender(), valid_days=30)
    old.close()

    fresh, sender = seeded_store(tmp_path / "fresh.db", [customer("1", ANN)]), FakeSender()
    report = await _run(fresh, connector, sender, now=NOW + timedelta(days=40), valid_days=30)

    [result] = report.results
    assert result.outcome is Outcome.SKIPPED and report.failed == 0
    assert f"winback created the discount code {CODE} for this before" in result.detail and "expired" in result.detail
    assert sender.sent == [] and len(connector.codes) == 1
    fresh.close()


async def test_after_a_crash_a_colliding_code_that_is_not_ours_is_never_mailed(store: LocalStore) -> None:
    """The create was started when the process died; the code found under that string is the
    merchant's 50 %-for-everyone code, not the personal 10 % one winback asked for."""
    plan = _plan(store, EmailEveryone({"discount": True, "only": (ANN,)}))
    ledger = Ledger(store)
    entry = ledger.claim(plan.actions[0], NOW)
    ledger.start(entry.id, NOW)
    ledger.step_started(entry.id, Step.CREATE_DISCOUNT_CODE, NOW)
    connector, sender = FakeConnector(), FakeSender()
    connector.codes[CODE] = _merchants_own()

    report = await _run(store, connector, sender)

    assert [r.outcome for r in report.results] == [Outcome.DONE]
    assert _mailed_code(sender) == alternative_code(CODE, 1)
    assert "adopted" not in _row(store)["created_ref"]


async def test_after_a_crash_our_own_code_is_adopted_as_it_was_sent(store: LocalStore) -> None:
    connector, sender = FakeConnector(), FakeSender()
    connector.fail_after_create_code = errors.PlatformUnavailableError("connection dropped after the request was sent")
    first = await _run(store, connector, sender)
    assert first.results[0].outcome is Outcome.FAILED and _row(store)["step_states"] == {"create_discount_code": "started"}
    connector.fail_after_create_code = None

    later = NOW + timedelta(hours=5)  # the rerun plans other dates; the code sent is what counts
    report = await _run(store, connector, sender, now=later)

    assert [r.outcome for r in report.results] == [Outcome.DONE]
    assert connector.writes() == [f"create_discount_code {CODE}"]
    assert _row(store)["created_ref"]["adopted"] is True and _mailed_code(sender) == CODE
