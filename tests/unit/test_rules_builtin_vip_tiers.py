"""The vip_tiers rule: tiers over the window, one action per tier change, welcome on moving up
only, silent moves down, and the tier step run through the executor (idempotent on the platform)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from tests.unit.rules_fakes import FakeConnector, FakeSender
from tests.unit.test_rules_builtin_support import NOW, Shop, emails
from winback.config import EmailSection
from winback.connectors.base import Capabilities, InviteMode, TierWrite
from winback.model import ConsentState
from winback.rules.base import Step, idempotency_key
from winback.rules.executor import run_actions
from winback.rules.guards import Limits
from winback.rules.ledger import Ledger
from winback.rules.planner import plan_client
from winback.rules.vip_tiers import VipTiers
from winback.sync import open_store

EMAIL = EmailSection(from_address="Shop One <hello@shop.test>")
TIERS = [{"name": "Silver", "min_spend": "100"}, {"name": "Gold", "min_spend": "500", "min_orders": 3}]


def rule(**options: Any) -> VipTiers:
    return VipTiers({"tiers": TIERS, "perk": {"kind": "percentage", "value": 15}, **options})


@pytest.fixture
def store(tmp_path):
    opened = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    yield opened
    opened.close()


def populate(shop: Shop) -> None:
    c, o = shop.customer, shop.order
    shop.put(c("gold"), c("silver"), c("old"), c("quiet", consent=ConsentState.NOT_SUBSCRIBED), c("small"),
             c("lapsed"))
    shop.put(
        *[o(f"gold-{n}", 5 + n * 30, customer_id="gold", email="gold@example.com", total="200.00") for n in range(3)],
        o("silver-1", 20, customer_id="silver", email="silver@example.com", total="150.00"),
        # Silver earned long ago (inside the window, outside welcome_within_days)
        o("old-1", 200, customer_id="old", email="old@example.com", total="120.00"),
        o("quiet-1", 3, customer_id="quiet", email="quiet@example.com", total="700.00"),
        o("quiet-2", 4, customer_id="quiet", email="quiet@example.com", total="10.00"),
        o("quiet-3", 5, customer_id="quiet", email="quiet@example.com", total="10.00"),
        o("small-1", 2, customer_id="small", email="small@example.com", total="50.00"),
        # outside the window: no tier
        o("lapsed-1", 400, customer_id="lapsed", email="lapsed@example.com", total="900.00"),
        # a guest cannot carry a tag
        o("g-1", 2, email="guest@example.com", total="900.00", accepts_marketing=True),
    )


def by_email(actions: Sequence[Any]) -> dict[str, Any]:
    return {a.email: a for a in actions}


def test_each_customer_gets_the_highest_tier_they_meet(any_store) -> None:
    shop = Shop(any_store)
    populate(shop)
    actions = by_email(shop.plan(rule()))
    assert sorted(actions) == ["gold@example.com", "old@example.com", "quiet@example.com", "silver@example.com"]
    gold = actions["gold@example.com"]
    assert gold.payload["tier"] == {"name": "Gold", "label": "VIP Gold", "labels": ["VIP Silver", "VIP Gold"],
                                    "previous": None}
    assert gold.steps == (Step.SET_CUSTOMER_TIER, Step.CREATE_DISCOUNT_CODE, Step.SEND_EMAIL) and gold.marketing
    assert gold.idempotency_key == idempotency_key("vip_tiers", shop.key, "gold@example.com", "Gold", "initial")
    assert gold.payload["email"]["template"] == "vip_welcome"
    assert gold.payload["email"]["context"]["tier"]["name"] == "Gold"
    assert "3 real orders, 600.00 EUR in 365 days" in gold.reason and "welcome email" in gold.reason
    # Gold too, but not subscribed: the tier without an email
    quiet = actions["quiet@example.com"]
    assert quiet.payload["tier"]["name"] == "Gold"
    assert quiet.steps == (Step.SET_CUSTOMER_TIER,) and not quiet.marketing
    assert "not subscribed: tier only" in quiet.reason
    old = actions["old@example.com"]
    assert old.steps == (Step.SET_CUSTOMER_TIER,) and "earned before the last 30 days" in old.reason
    assert actions["silver@example.com"].payload["tier"]["name"] == "Silver"


def test_no_welcome_without_the_option_and_no_code_without_a_perk(store) -> None:
    shop = Shop(store)
    populate(shop)
    plain = by_email(shop.plan(VipTiers({"tiers": TIERS})))
    assert plain["gold@example.com"].steps == (Step.SET_CUSTOMER_TIER, Step.SEND_EMAIL)
    silent = by_email(shop.plan(rule(welcome_email=False)))
    assert all(a.steps == (Step.SET_CUSTOMER_TIER,) and not a.marketing for a in silent.values())


def _record(shop: Shop, action: Any, *, status: str = "done") -> None:
    """What the executor leaves after the action: a ledger row with its payload."""
    from winback.sync import tables

    with shop.store.engine.begin() as conn:
        conn.execute(tables.action_ledger.insert().values(
            store_key=shop.key, rule="vip_tiers", idempotency_key=action.idempotency_key, email=action.email,
            lower_email=action.email.lower(), customer_id=action.customer_id, kind="set_customer_tier",
            status=status, payload=dict(action.payload), reason=action.reason, created_at=NOW, updated_at=NOW))


def test_a_recorded_tier_is_not_planned_again_and_moving_down_is_silent(store) -> None:
    shop = Shop(store)
    populate(shop)
    first = by_email(shop.plan(rule()))
    for action in first.values():
        _record(shop, action)
    assert shop.plan(rule()) == []
    # 310 days later the oldest Gold order left the window: two orders, 400 spent: Silver, silently
    later = NOW + timedelta(days=310)
    moved = by_email(shop.plan(rule(), now=later))
    gold = moved["gold@example.com"]
    assert gold.payload["tier"]["name"] == "Silver" and gold.payload["tier"]["previous"] == "Gold"
    assert gold.steps == (Step.SET_CUSTOMER_TIER,) and not gold.marketing and "moving down: silent" in gold.reason
    assert gold.idempotency_key != first["gold@example.com"].idempotency_key
    # Old's only order leaves the window: no tier, its label removed, silently
    old = moved["old@example.com"]
    assert old.payload["tier"] == {"name": None, "label": None, "labels": ["VIP Silver", "VIP Gold"],
                                   "previous": "Silver"}
    assert old.steps == (Step.SET_CUSTOMER_TIER,) and "removed on the platform" in old.reason


def test_a_tier_the_synced_tags_already_show_needs_nothing(store) -> None:
    shop = Shop(store)
    populate(shop)
    tagged = shop.customer("silver").model_copy(update={"tags": ("VIP Silver", "wholesale")})
    both = shop.customer("gold").model_copy(update={"tags": ("VIP Silver", "VIP Gold")})
    shop.put(tagged, both)
    actions = by_email(shop.plan(rule()))
    assert "silver@example.com" not in actions
    # Gold shown, but Silver's label too: written again, to remove it; not an upgrade, no email
    gold = actions["gold@example.com"]
    assert gold.steps == (Step.SET_CUSTOMER_TIER,) and gold.payload["tier"]["previous"] == "Gold"


def test_a_label_the_tags_show_is_taken_off_a_customer_who_no_longer_qualifies(any_store) -> None:
    """No record of winback writing it (a new database, or the merchant's hand): still taken off,
    once per state of the customer record."""
    shop = Shop(any_store)
    populate(shop)
    shop.put(shop.customer("small").model_copy(update={"tags": ("VIP Gold", "newsletter")}),
             shop.customer("nobody", email="nobody@example.com").model_copy(update={"tags": ("VIP Goldfish",)}))
    actions = by_email(shop.plan(rule()))
    small = actions["small@example.com"]
    assert small.payload["tier"] == {"name": None, "label": None, "labels": ["VIP Silver", "VIP Gold"],
                                     "previous": "Gold"}
    assert small.steps == (Step.SET_CUSTOMER_TIER,) and not small.marketing and "was Gold" in small.reason
    assert "nobody@example.com" not in actions, "a tag that merely starts like a label is not one"
    assert {a.idempotency_key for a in shop.plan(rule())} == {a.idempotency_key for a in actions.values()}


def test_options_are_validated() -> None:
    with pytest.raises(ValidationError, match="needs min_spend or min_orders"):
        VipTiers({"tiers": [{"name": "Gold"}]})
    with pytest.raises(ValidationError, match="must differ"):
        VipTiers({"tiers": [{"name": "Gold", "min_orders": 2}, {"name": "gold", "min_orders": 5}]})
    with pytest.raises(ValidationError):
        VipTiers({"tiers": [{"name": "Gold, Silver", "min_orders": 2}]})
    with pytest.raises(ValidationError):
        VipTiers({"tiers": []})


class TierPlatform(FakeConnector):
    """Tags per customer id, written only where they differ, as the real connectors do."""

    def __init__(self) -> None:
        super().__init__(InviteMode.NOT_NEEDED)
        self.tags: dict[str, set[str]] = {}
        self.writes: list[tuple[str, str | None]] = []

    async def set_customer_tier(self, customer_id: str, tier: str | None, tiers: Sequence[str]) -> TierWrite:
        present = self.tags.setdefault(customer_id, set())
        wanted = ({tier} if tier else set()) | (present - set(tiers))
        if wanted == present:
            return TierWrite.ALREADY
        self.tags[customer_id] = wanted
        self.writes.append((customer_id, tier))
        return TierWrite.WRITTEN


async def test_the_executor_writes_each_tier_once_and_mails_only_upgrades(store) -> None:
    shop = Shop(store)
    populate(shop)
    connector, sender = TierPlatform(), FakeSender()
    caps = Capabilities(invite_mode=InviteMode.NOT_NEEDED)
    limits = Limits(marketing_cap_count=10)

    async def run(now=NOW) -> Any:
        plan = plan_client(store, shop.facts, [rule()], now, limits, caps)
        return await run_actions(plan, store=store, connector=connector, sender=sender, now=now,
                                 facts=shop.facts, capabilities=caps, email_settings=EMAIL)

    report = await run()
    assert report.counts() == {"done": 4}
    assert connector.tags == {"gold": {"VIP Gold"}, "silver": {"VIP Silver"}, "old": {"VIP Silver"},
                              "quiet": {"VIP Gold"}}
    assert sorted(sender.recipients()) == ["Ann Gold <gold@example.com>", "Ann Silver <silver@example.com>"]
    assert len(connector.codes) == 2
    entry = Ledger(store).get(shop.key, idempotency_key("vip_tiers", shop.key, "gold@example.com", "Gold", "initial"))
    assert entry is not None and entry.created_ref["tier"] == "VIP Gold" and entry.created_ref["tier_write"] == "written"

    again = await run()
    assert again.results == [] and len(connector.writes) == 4 and len(sender.sent) == 2

    later = await run(NOW + timedelta(days=310))
    assert later.counts() == {"done": 2}
    assert connector.tags["gold"] == {"VIP Silver"} and connector.tags["old"] == set()
    assert len(sender.sent) == 2


async def test_a_tier_step_cut_short_is_run_again_without_a_second_write(store) -> None:
    """A kill after the platform write but before ``done`` leaves the step started: the next run
    calls the connector again, which finds the tier shown and writes nothing."""
    shop = Shop(store)
    populate(shop)
    connector = TierPlatform()
    caps = Capabilities(invite_mode=InviteMode.NOT_NEEDED)
    silent = VipTiers({"tiers": TIERS, "welcome_email": False})
    plan = plan_client(store, shop.facts, [silent], NOW, Limits(), caps)
    gold = next(a for a in plan.actions if a.email == "gold@example.com")
    ledger = Ledger(store)
    entry = ledger.claim(gold, NOW)
    ledger.start(entry.id, NOW)
    ledger.step_started(entry.id, Step.SET_CUSTOMER_TIER, NOW, {"tier": dict(gold.payload["tier"])})
    await connector.set_customer_tier("gold", "VIP Gold", ["VIP Silver", "VIP Gold"])  # the write that went out
    report = await run_actions(plan, store=store, connector=connector, sender=FakeSender(), now=NOW,
                               facts=shop.facts, capabilities=caps)
    assert report.counts()["done"] == 4
    assert connector.writes.count(("gold", "VIP Gold")) == 1
    done = ledger.get(shop.key, gold.idempotency_key)
    assert done is not None and done.created_ref["tier_write"] == "already"


async def test_a_platform_without_tiers_skips_the_action_with_the_reason(store) -> None:
    shop = Shop(store)
    populate(shop)
    caps = Capabilities(invite_mode=InviteMode.NOT_NEEDED)
    plan = plan_client(store, shop.facts, [rule()], NOW, Limits(marketing_cap_count=10), caps)
    sender = FakeSender()
    report = await run_actions(plan, store=store, connector=FakeConnector(InviteMode.NOT_NEEDED), sender=sender,
                               now=NOW, facts=shop.facts, capabilities=caps, email_settings=EMAIL)
    assert report.counts() == {"skipped": 4}
    assert all("cannot record a customer's tier" in r.detail for r in report.results)
    assert sender.sent == []


def test_the_sample_action_renders_a_welcome(store) -> None:
    shop = Shop(store)
    populate(shop)
    [sample] = rule().sample_actions(shop.context())
    assert sample.steps == (Step.SET_CUSTOMER_TIER, Step.CREATE_DISCOUNT_CODE, Step.SEND_EMAIL)
    assert emails([sample]) == ["ada.lovelace@example.com"]
