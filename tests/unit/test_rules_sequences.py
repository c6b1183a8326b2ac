"""Sequences of back_to_bestsellers: step progression, exit on a new order, minimum gap, keys,
holdout drawn once, kill-safety of the ledger-derived position, reasons and step previews."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from tests.unit.test_rules_builtin_support import NOW, Shop, count_statements, emails
from winback.model import DiscountCodeSpec
from winback.rules.back_to_bestsellers import FOLLOW_UP_TEMPLATE, BackToBestsellers
from winback.rules.base import Step, idempotency_key
from winback.rules.compose import render_for_preview
from winback.config import EmailSection
from winback.rules.holdout import is_held_out
from winback.rules.ledger import DONE, FAILED, SKIPPED, Ledger
from winback.rules.planner import plan_client
from winback.rules.guards import Limits
from winback.rules.sequences import step_key
from winback.sync import open_store

RULE = BackToBestsellers.name
MAIL = EmailSection(from_address="shop@shop.test")
STEPS = {
    "steps": [
        {"after_days": 180},
        {"after_days": 14, "discount": {"kind": "percentage", "value": 10}},
        {"after_days": 14, "template": "back_to_bestsellers_followup"},
    ]
}


def lapsed_shop(store, *names: str, days_ago: float = 200) -> Shop:
    shop = Shop(store)
    shop.put(shop.product("p1"), shop.product("p2"), *(shop.customer(n) for n in names))
    shop.put(*(shop.order(f"o-{n}", days_ago, customer_id=n, email=f"{n}@example.com") for n in names))
    return shop


def send(shop: Shop, actions, when: datetime, status: str = DONE) -> None:
    """What the executor leaves in the ledger for actions it carried out (or skipped) at ``when``."""
    ledger = Ledger(shop.store)
    for action in actions:
        entry = ledger.claim(action, when)
        if status == DONE and action.steps:
            ledger.email_started(entry.id, when)
        if status in (DONE, SKIPPED, FAILED):
            ledger.finish(entry.id, status, when)


def later(days: float) -> datetime:
    return NOW + timedelta(days=days)


# --- options ---------------------------------------------------------------------------------------


def test_follow_up_steps_need_after_days():
    with pytest.raises(ValidationError, match="step 2"):
        BackToBestsellers({"steps": [{"after_days": 180}, {"template": "x"}]})


def test_after_days_and_first_step_must_agree_and_discount_sits_on_a_step():
    with pytest.raises(ValidationError, match="disagree"):
        BackToBestsellers({"after_days": 90, "steps": [{"after_days": 180}, {"after_days": 14}]})
    with pytest.raises(ValidationError, match="discount on the step"):
        BackToBestsellers({"discount": {"kind": "percentage", "value": 10}, **STEPS})
    with pytest.raises(ValidationError, match="max_age_days"):
        BackToBestsellers({"max_age_days": 100, "steps": [{"after_days": 120}]})
    assert BackToBestsellers(STEPS).options.first_wait == 180
    with pytest.raises(ValidationError):
        BackToBestsellers({"steps": [{"after_days": 1}] * 11})


# --- progression -----------------------------------------------------------------------------------


def test_steps_follow_each_other_after_their_days_with_their_own_keys(any_store):
    shop = lapsed_shop(any_store, "ann")
    rule = BackToBestsellers(STEPS)

    first = shop.plan(rule)
    assert [a.sequence.index for a in first] == [0]
    assert first[0].idempotency_key == idempotency_key(RULE, shop.key, "ann@example.com", "o-ann")
    assert first[0].steps == (Step.SEND_EMAIL,)
    assert first[0].reason.startswith("step 1 of 3: last order ")
    assert first[0].payload["email"]["template"] == "back_to_bestsellers"
    assert first[0].payload["email"]["context"]["step"] == {"number": 1, "of": 3, "last": False}
    send(shop, first, NOW)

    assert shop.plan(rule, now=later(13)) == []
    second = shop.plan(rule, now=later(14))
    assert [a.sequence.index for a in second] == [1]
    action = second[0]
    assert action.idempotency_key == step_key(RULE, shop.key, "ann@example.com", "o-ann", 1)
    assert action.idempotency_key != first[0].idempotency_key
    assert action.steps == (Step.CREATE_DISCOUNT_CODE, Step.SEND_EMAIL)
    assert action.payload["email"]["template"] == FOLLOW_UP_TEMPLATE
    spec = DiscountCodeSpec.model_validate(action.payload["discount"])
    assert spec.customer_id == "ann" and spec.code.startswith("BACK-")
    assert action.reason == ("step 2 of 3: step 1 sent 2026-11-22, 14 days ago (due after 14); no order since")
    send(shop, second, later(15))

    assert shop.plan(rule, now=later(28)) == []  # 14 days after step 2 was sent, not after it was due
    third = shop.plan(rule, now=later(29))
    assert [a.sequence.index for a in third] == [2]
    assert third[0].payload["email"]["context"]["step"]["last"] is True
    assert "discount" not in third[0].payload
    send(shop, third, later(29))
    assert shop.plan(rule, now=later(90)) == []


def test_a_real_order_ends_the_sequence_and_the_next_lapse_starts_over(store):
    shop = lapsed_shop(store, "ann", "bob")
    rule = BackToBestsellers(STEPS)
    send(shop, shop.plan(rule), NOW)
    shop.put(shop.order("o-bob-2", -5, customer_id="bob", email="bob@example.com"))  # bob came back

    assert emails(shop.plan(rule, now=later(14))) == ["ann@example.com"]
    # 180 days after bob's new order: step 1 again, anchored on the new order
    again = shop.plan(rule, now=later(5 + 181))
    bob = [a for a in again if a.email == "bob@example.com"]
    assert [(a.sequence.index, a.sequence.anchor) for a in bob] == [(0, "o-bob-2")]


def test_an_order_that_is_not_real_pauses_the_follow_ups(store):
    shop = lapsed_shop(store, "ann")
    rule = BackToBestsellers(STEPS)
    send(shop, shop.plan(rule), NOW)
    shop.put(shop.order("o-ann-refunded", -3, customer_id="ann", email="ann@example.com", refunded=True))
    assert shop.plan(rule, now=later(14)) == []


def test_steps_never_come_closer_than_the_minimum_gap(store):
    shop = lapsed_shop(store, "ann")
    rule = BackToBestsellers({"steps": [{"after_days": 180}, {"after_days": 1}], "min_gap_days": 3})
    send(shop, shop.plan(rule), NOW)
    assert shop.plan(rule, now=later(2)) == []
    assert [a.sequence.index for a in shop.plan(rule, now=later(3))] == [1]


def test_an_unfinished_step_is_continued_under_its_key_and_the_next_waits_for_it(store):
    shop = lapsed_shop(store, "ann")
    rule = BackToBestsellers(STEPS)
    send(shop, shop.plan(rule), NOW)
    second = shop.plan(rule, now=later(14))
    send(shop, second, later(14), status=FAILED)

    again = shop.plan(rule, now=later(60))
    assert [a.idempotency_key for a in again] == [second[0].idempotency_key]
    assert again[0].reason.startswith("step 2 of 3: not finished earlier (failed)")
    # the code is the same string: a killed run's code is found, not created twice
    assert again[0].payload["discount"]["code"] == second[0].payload["discount"]["code"]
    send(shop, again, later(60))
    assert [a.sequence.index for a in shop.plan(rule, now=later(74))] == [2]


def test_a_skipped_or_held_out_first_step_ends_the_sequence(store):
    shop = lapsed_shop(store, "ann", "bob")
    rule = BackToBestsellers({**STEPS, "holdout": 0.5})
    first = shop.plan(rule)
    ann = [a for a in first if a.email == "ann@example.com"]
    bob = [a for a in first if a.email == "bob@example.com"]
    from winback.rules.holdout import as_held_out

    send(shop, [as_held_out(a) for a in ann], NOW, status=SKIPPED)
    send(shop, bob, NOW)
    follow = shop.plan(rule, now=later(14))
    assert emails(follow) == ["bob@example.com"]
    # a follow-up is never drawn into the holdout: its customer was drawn at the first step
    assert not is_held_out(follow[0], 0.5)
    assert all(not is_held_out(a, 0.5) for a in follow)


def test_the_holdout_is_drawn_once_per_lapse_in_the_planner(store):
    names = [f"c{n}" for n in range(40)]
    shop = lapsed_shop(store, *names)
    rule = BackToBestsellers({**STEPS, "holdout": 0.5})
    limits = Limits(marketing_cap_count=5)
    plan = plan_client(shop.store, shop.facts, [rule], NOW, limits)
    held = {a.email for a in plan.actions if a.holdout}
    assert 0 < len(held) < len(names)
    send(shop, [a for a in plan.actions if not a.holdout], NOW)
    send(shop, [a for a in plan.actions if a.holdout], NOW, status=SKIPPED)
    follow = plan_client(shop.store, shop.facts, [rule], later(14), limits)
    assert {a.email for a in follow.actions} == {f"{n}@example.com" for n in names} - held
    assert not any(a.holdout for a in follow.actions)
    assert {a.variant for a in follow.actions} == {"after_days"}


def test_each_step_passes_the_cap_on_its_own(store):
    shop = lapsed_shop(store, "ann")
    rule = BackToBestsellers({"steps": [{"after_days": 180}, {"after_days": 3}]})
    send(shop, shop.plan(rule), NOW)
    plan = plan_client(shop.store, shop.facts, [rule], later(3), Limits(marketing_cap_days=7, marketing_cap_count=1))
    assert plan.actions == []
    assert [h.reason.value for h in plan.held] == ["capped"]


def test_without_steps_one_reminder_as_before(store):
    shop = lapsed_shop(store, "ann")
    rule = BackToBestsellers()
    first = shop.plan(rule)
    assert first[0].reason == "last order 2026-05-06, 200 days ago; subscribed; not reminded since"
    assert (first[0].sequence.index, first[0].sequence.of, first[0].variant) == (0, 1, "after_days")
    assert "step" not in first[0].payload["email"]["context"]
    send(shop, first, NOW)
    assert shop.plan(rule, now=later(400)) == []


def test_turning_steps_on_continues_lapses_already_reminded(store):
    shop = lapsed_shop(store, "ann")
    send(shop, shop.plan(BackToBestsellers()), NOW)
    follow = shop.plan(BackToBestsellers(STEPS), now=later(14))
    assert [a.sequence.index for a in follow] == [1]


def test_follow_up_statements_do_not_grow_with_the_audience(tmp_path):
    def statements(n: int) -> int:
        store = open_store(f"sqlite:///{tmp_path / f'{n}.db'}")
        try:
            shop = lapsed_shop(store, *(f"c{i}" for i in range(n)))
            rule = BackToBestsellers(STEPS)
            send(shop, shop.plan(rule), NOW)
            with count_statements(store) as seen:
                assert len(shop.plan(rule, now=later(14))) == n
            return len(seen)
        finally:
            store.close()

    assert statements(5) == statements(60)


# --- previews --------------------------------------------------------------------------------------


def test_step_action_renders_any_step(store):
    shop = lapsed_shop(store, "ann")
    rule = BackToBestsellers(STEPS)
    action = rule.step_action(shop.context(), "ANN@example.com", 1)
    assert action is not None and action.sequence.index == 1
    rendered = render_for_preview(action, shop.facts, MAIL, {"discount_code": action.payload["discount"]["code"]})
    assert action.payload["discount"]["code"] in rendered.text
    assert "personal code" in rendered.text
    last = rule.step_action(shop.context(), "ann@example.com", 2)
    assert "last note" in render_for_preview(last, shop.facts, MAIL, {}).subject
    with pytest.raises(ValueError, match="step 4 does not exist"):
        rule.step_action(shop.context(), "ann@example.com", 3)
    assert rule.step_action(shop.context(), "nobody@example.com", 0) is None


def test_samples_cover_every_step(store):
    shop = lapsed_shop(store, "ann")
    samples = BackToBestsellers(STEPS).sample_actions(shop.context())
    assert [a.payload["email"]["template"] for a in samples] == [
        "back_to_bestsellers", FOLLOW_UP_TEMPLATE, "back_to_bestsellers_followup"]
    for action in samples:
        refs = {"discount_code": "BACK-TEST"} if "discount" in action.payload else {}
        assert render_for_preview(action, shop.facts, MAIL, refs).subject


def test_fewer_steps_in_the_config_end_longer_sequences(store):
    shop = lapsed_shop(store, "ann")
    send(shop, shop.plan(BackToBestsellers(STEPS)), NOW)
    send(shop, shop.plan(BackToBestsellers(STEPS), now=later(14)), later(14))
    third = shop.plan(BackToBestsellers(STEPS), now=later(28))
    send(shop, third, later(28), status=FAILED)
    two_steps = BackToBestsellers({"steps": STEPS["steps"][:2]})
    assert shop.plan(two_steps, now=later(60)) == []
    assert [a.idempotency_key for a in shop.plan(BackToBestsellers(STEPS), now=later(60))] == [
        third[0].idempotency_key]


def test_preflight_renders_every_step_and_names_a_missing_template(store):
    from winback.rules.preflight import email_problems

    shop = lapsed_shop(store, "ann")
    problems, rendered = email_problems([BackToBestsellers(STEPS)], shop.facts, MAIL, NOW,
                                        require_postal_address=False)
    assert (problems, rendered) == ([], 3)
    broken = BackToBestsellers({"steps": [{"after_days": 180}, {"after_days": 14, "template": "no_such_mail"}]})
    problems, rendered = email_problems([broken], shop.facts, MAIL, NOW, require_postal_address=False)
    assert rendered == 1 and len(problems) == 1 and "no_such_mail" in problems[0]
