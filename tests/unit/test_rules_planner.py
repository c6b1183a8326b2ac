"""Guard rails in the planner: ledger, suppression, consent, quiet hours, the cap, the run limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.unit.rules_fakes import (
    KEY,
    NOW,
    EmailEveryone,
    EmailEveryoneAgain,
    FakeConnector,
    FakeSender,
    customer,
    facts,
    seeded_store,
)
from winback.model import ConsentState
from winback.rules.executor import run_actions
from winback.rules.guards import HoldReason, Limits, QuietHours
from winback.rules.planner import plan_client
from winback.rules.suppressions import SuppressionList
from winback.sync import LocalStore


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    s = seeded_store(
        tmp_path / "w.db",
        [
            customer("1", "ann@example.com", first="Ann"),
            customer("2", "bob@example.com", first="Bob"),
            customer("3", "cy@example.com", ConsentState.NOT_SUBSCRIBED, first="Cy"),
            customer("4", "di@example.com", ConsentState.UNSUBSCRIBED, first="Di"),
            customer("5", "eve@example.com", ConsentState.UNKNOWN, first="Eve"),
        ],
    )
    yield s
    s.close()


def _held(plan) -> dict[str, str]:
    return {h.action.email: h.reason.value for h in plan.held}


def test_no_consent_never_gets_marketing(store: LocalStore) -> None:
    plan = plan_client(store, facts(store), [EmailEveryone()], NOW, Limits(), None)
    assert [a.email for a in plan.actions] == ["ann@example.com", "bob@example.com"]
    assert _held(plan) == {"cy@example.com": "no consent", "di@example.com": "no consent", "eve@example.com": "no consent"}


def test_transactional_mail_does_not_need_consent(store: LocalStore) -> None:
    plan = plan_client(store, facts(store), [EmailEveryone({"marketing": False})], NOW, Limits(), None)
    assert len(plan.actions) == 5 and plan.held == []


def test_suppression_list_and_config_suppress(store: LocalStore) -> None:
    suppressions = SuppressionList(store)
    suppressions.suppress("ANN@example.com", NOW, store_key=KEY, reason="asked")
    suppressions.suppress("nobody@example.com", NOW)  # all stores
    plan = plan_client(store, facts(store), [EmailEveryone({"marketing": False})], NOW, Limits(suppress=("bob@example.com",)), None)
    assert _held(plan) == {"ann@example.com": "suppressed", "bob@example.com": "suppressed"}
    assert suppressions.unsuppress("ann@example.com", store_key=KEY)
    assert suppressions.suppressed(KEY, ["Ann@example.com", "nobody@example.com"]) == {"nobody@example.com"}


async def test_the_cap_counts_across_rules_within_a_plan_and_in_the_ledger(store: LocalStore) -> None:
    rules = [EmailEveryone(), EmailEveryoneAgain()]
    plan = plan_client(store, facts(store), rules, NOW, Limits(), None)
    assert [(a.rule, a.email) for a in plan.actions] == [("email_everyone", "ann@example.com"), ("email_everyone", "bob@example.com")]
    capped = [h for h in plan.held if h.reason is HoldReason.CAPPED]
    assert [(h.action.rule, h.action.email) for h in capped] == [
        ("email_everyone_again", "ann@example.com"), ("email_everyone_again", "bob@example.com"),
    ]
    await run_actions(plan, store=store, connector=FakeConnector(), sender=FakeSender(), now=NOW)

    three_days = plan_client(store, facts(store), [EmailEveryoneAgain()], NOW + timedelta(days=3), Limits(), None)
    assert three_days.actions == [] and {h.reason for h in three_days.held} >= {HoldReason.CAPPED}
    two_allowed = plan_client(store, facts(store), [EmailEveryoneAgain()], NOW + timedelta(days=3), Limits(marketing_cap_count=2), None)
    assert len(two_allowed.actions) == 2
    a_week_later = plan_client(store, facts(store), [EmailEveryoneAgain()], NOW + timedelta(days=8), Limits(), None)
    assert len(a_week_later.actions) == 2


@pytest.mark.parametrize(
    ("utc_time", "quiet"),
    [("20:30", True), ("05:59", True), ("06:00", False), ("12:00", False), ("19:59", False)],
)
def test_quiet_hours_in_the_store_timezone(store: LocalStore, utc_time: str, quiet: bool) -> None:
    # Europe/Berlin is UTC+1 in late November: 21:00-07:00 local is 20:00-06:00 UTC
    hour, minute = map(int, utc_time.split(":"))
    now = datetime(2026, 11, 25, hour, minute, tzinfo=UTC)
    limits = Limits(quiet_hours="21:00-07:00")
    plan = plan_client(store, facts(store), [EmailEveryone()], now, limits, None)
    held = {h.reason for h in plan.held if h.action.email in ("ann@example.com", "bob@example.com")}
    assert (held == {HoldReason.QUIET_HOURS}) is quiet
    assert (plan.actions == []) is quiet
    transactional = plan_client(store, facts(store), [EmailEveryone({"marketing": False})], now, limits, None)
    assert len(transactional.actions) == 5  # quiet hours are for marketing only


def test_timezone_override_and_window_parsing() -> None:
    assert QuietHours.parse("21:00-08:00").contains(datetime(2026, 1, 1, 23, 0).time())
    assert not QuietHours.parse("09:00-17:00").contains(datetime(2026, 1, 1, 17, 0).time())
    from winback.rules.guards import in_quiet_hours

    noon_utc = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert in_quiet_hours(Limits(quiet_hours="21:00-08:00", timezone="Pacific/Auckland"), "Europe/Berlin", noon_utc)
    assert not in_quiet_hours(Limits(quiet_hours="21:00-08:00"), "Europe/Berlin", noon_utc)


def test_max_actions_per_run_defers_the_rest(store: LocalStore) -> None:
    plan = plan_client(store, facts(store), [EmailEveryone({"marketing": False})], NOW, Limits(max_actions_per_run=2), None)
    assert len(plan.actions) == 2
    assert [h.reason for h in plan.held] == [HoldReason.OVER_LIMIT] * 3


def test_a_failing_rule_is_reported_and_the_others_still_plan(store: LocalStore) -> None:
    class Broken(EmailEveryone):
        name = "broken"

        def plan(self, context):  # type: ignore[override]
            raise RuntimeError("boom")

    plan = plan_client(store, facts(store), [Broken(), EmailEveryoneAgain()], NOW, Limits(), None)
    assert plan.rule_errors == {"broken": "RuntimeError: boom"}
    assert len(plan.actions) == 2


def test_limits_section_validates_config() -> None:
    from pydantic import ValidationError

    from winback.config._sections import LimitsSection

    assert LimitsSection(quiet_hours="21:00 - 8:00", suppress=["A@x.com"]).suppress == ("a@x.com",)
    for bad in ({"quiet_hours": "9pm-8am"}, {"timezone": "Mars/Olympus"}, {"suppress": ["nope"]}):
        with pytest.raises(ValidationError):
            LimitsSection(**bad)


def _guest_order(oid: str, email: str, accepts: bool, days_ago: int) -> Any:
    from decimal import Decimal

    from tests.unit.rules_fakes import STORE_ID
    from winback import model

    when = NOW - timedelta(days=days_ago)
    return model.Order(
        platform="fake", store_id=STORE_ID, id=oid, email=email, customer_id=None, created_at=when,
        updated_at=when, financial_status=model.FinancialStatus.PAID,
        total=model.Money(amount=Decimal("10"), currency="EUR"), accepts_marketing=accepts,
    )


def test_consent_safety_net_follows_a_guests_newest_order(store: LocalStore) -> None:
    """Ecwid guests have no customer row: their consent is "accept marketing" on the newest order,
    the same definition the rules select with, so the planner must not hold them all."""
    from tests.unit.rules_fakes import KEY
    from winback.connectors.base import Page, Resource
    from winback.rules.guards import subscribed_emails

    orders = [
        _guest_order("g1", "guest.yes@example.com", True, 200),
        _guest_order("g2", "guest.no@example.com", False, 200),
        _guest_order("g3a", "guest.changed@example.com", True, 300),
        _guest_order("g3b", "guest.changed@example.com", False, 100),
        # A guest order from a registered, UNSUBSCRIBED customer's address: the row's consent wins.
        _guest_order("g4", "di@example.com", True, 50),
    ]
    store.commit_page(KEY, Resource.ORDERS, Page(records=orders), None)
    emails = ["guest.yes@example.com", "guest.no@example.com", "guest.changed@example.com", "di@example.com", "ann@example.com"]
    assert subscribed_emails(store, KEY, emails) == {"guest.yes@example.com", "ann@example.com"}


def test_actions_needing_what_the_credentials_cannot_reach_are_held_with_the_reason(store: LocalStore) -> None:
    from winback.connectors.base import Capabilities, InviteMode, Need

    class NeedsCustomers(EmailEveryone):
        name = "needs_customers"
        needs = frozenset({Need.READ_CUSTOMERS})

    caps = Capabilities(invite_mode=InviteMode.NOT_NEEDED,
                        unreachable={Need.READ_DISCOUNT_CODES: "no coupon scope: ask Ecwid",
                                     Need.CREATE_DISCOUNT_CODES: "no coupon scope: ask Ecwid"})
    rules = [EmailEveryone({"discount": True}), EmailEveryoneAgain(), NeedsCustomers({"marketing": False})]
    plan = plan_client(store, facts(store), rules, NOW, Limits(), caps)
    # Codes are out of reach: the discount rule's actions are held, whatever consent says.
    assert {h.action.rule for h in plan.held if h.reason is HoldReason.UNREACHABLE} == {"email_everyone"}
    assert plan.rules_held == {"email_everyone": "cannot create discount codes: no coupon scope: ask Ecwid; "
                                                  "cannot read discount codes: no coupon scope: ask Ecwid"}
    # A rule whose needs are reachable plans as before.
    assert {a.rule for a in plan.actions} == {"email_everyone_again", "needs_customers"}

    blocked = Capabilities(invite_mode=InviteMode.NOT_NEEDED, unreachable={Need.READ_CUSTOMERS: "ask Ecwid"})
    plan = plan_client(store, facts(store), [NeedsCustomers()], NOW, Limits(), blocked)
    assert plan.actions == [] and plan.rules_held == {"needs_customers": "cannot read customers: ask Ecwid"}
    assert {h.reason for h in plan.held} == {HoldReason.UNREACHABLE}


def test_a_registered_buyer_without_a_customer_row_is_not_a_mailable_guest(store: LocalStore) -> None:
    """Review item 1: a buyer whose orders belong to a customer account we have no row for
    (deleted, or never synced under a token without customers) has unknown consent, so their
    order's "accept marketing" must not make them a guest: neither the rules' SQL nor the
    planner's safety net may mail them."""
    from sqlalchemy import select

    from tests.unit.rules_fakes import KEY
    from winback.connectors.base import Page, Resource
    from winback.rules import queries
    from winback.rules.guards import subscribed_emails

    registered = _guest_order("r1", "gone@example.com", True, 30).model_copy(update={"customer_id": "c-gone"})
    orders = [registered, _guest_order("g1", "guest.yes@example.com", True, 30)]
    store.commit_page(KEY, Resource.ORDERS, Page(records=orders), None)
    emails = ["gone@example.com", "guest.yes@example.com"]
    assert subscribed_emails(store, KEY, emails) == {"guest.yes@example.com"}
    b = queries.buyer
    with store.reading() as conn:
        rows = conn.execute(
            select(b.c.lower_email).where(b.c.store_key == KEY, b.c.lower_email.in_(emails), queries.subscribed())
        ).scalars().all()
    assert set(rows) == {"guest.yes@example.com"}
