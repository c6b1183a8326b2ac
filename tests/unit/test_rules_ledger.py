"""Ledger transitions and the suppression list on SQLite and PostgreSQL: record before acting,
never two rows per intent."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.unit.rules_fakes import (
    KEY,
    NOW,
    EmailEveryone,
    customer,
    facts,
    seeded_store,
)
from winback.rules.base import Step
from winback.rules.guards import Limits
from winback.rules.ledger import Ledger
from winback.rules.planner import plan_client
from winback.rules.suppressions import SuppressionList
from winback.sync import LocalStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> LocalStore:
    url = str(tmp_path / "w.db") if request.param == "sqlite" else request.getfixturevalue("sync_postgres_url")
    s = seeded_store(url, [customer("1", "Ann@Example.com"), customer("2", "bob@example.com")])  # type: ignore[arg-type]
    yield s
    s.close()


def test_transitions_and_counts(store: LocalStore) -> None:
    ledger = Ledger(store)
    action = plan_client(store, facts(store), [EmailEveryone({"discount": True})], NOW, Limits(), None).actions[0]

    entry = ledger.claim(action, NOW)
    assert (entry.status, entry.attempts, entry.step_states) == ("planned", 0, {})
    again = ledger.claim(action, NOW + timedelta(hours=1))
    assert again.id == entry.id  # the unique key: one row per intent

    ledger.start(entry.id, NOW)
    ledger.step_started(entry.id, Step.CREATE_DISCOUNT_CODE, NOW)
    assert ledger.get(KEY, action.idempotency_key).step_states == {"create_discount_code": "started"}
    ledger.step_done(entry.id, Step.CREATE_DISCOUNT_CODE, NOW, {"discount_id": "d1", "discount_code": "X"})
    ledger.email_started(entry.id, NOW)
    ledger.step_done(entry.id, Step.SEND_EMAIL, NOW, {"message_id": "<m@x>"})
    ledger.finish(entry.id, "done", NOW)

    done = ledger.get(KEY, action.idempotency_key)
    assert done.status == "done" and done.attempts == 1
    assert done.created_ref == {"discount_id": "d1", "discount_code": "X", "message_id": "<m@x>"}
    assert done.step_states == {"create_discount_code": "done", "send_email": "done"}
    assert ledger.counts(KEY) == [{"rule": "email_everyone", "status": "done", "count": 1, "needs_review": 0}]
    assert ledger.marketing_emails_since(KEY, ["ANN@example.com"], NOW - timedelta(days=7)) == {"ann@example.com": 1}
    assert ledger.marketing_emails_since(KEY, ["ann@example.com"], NOW + timedelta(seconds=1)) == {}

    with pytest.raises(ValueError):
        ledger.finish(entry.id, "running", NOW)


def test_review_flag(store: LocalStore) -> None:
    ledger = Ledger(store)
    action = plan_client(store, facts(store), [EmailEveryone()], NOW, Limits(), None).actions[1]
    entry = ledger.claim(action, NOW)
    ledger.flag_for_review(entry.id, NOW, "check the mail log")
    [row] = ledger.needing_review(KEY)
    assert (row["email"], row["error"]) == ("bob@example.com", "check the mail log")


def test_suppressions(store: LocalStore) -> None:
    suppressions = SuppressionList(store)
    assert suppressions.suppress(" X@example.com", NOW) is True
    assert suppressions.suppress("x@example.com", NOW) is False
    assert suppressions.suppress("x@example.com", NOW, store_key=KEY) is True
    assert [e["store_key"] for e in suppressions.suppressions(KEY)] == [None, KEY]
    assert [e["lower_email"] for e in suppressions.suppressions(KEY)] == ["x@example.com"] * 2
    assert suppressions.unsuppress("X@Example.com") is True
    assert suppressions.suppressed(KEY, ["X@example.com ", ""]) == {"x@example.com"}
    assert suppressions.unsuppress("  ") is False
    with pytest.raises(ValueError):
        suppressions.suppress(" ", NOW)
