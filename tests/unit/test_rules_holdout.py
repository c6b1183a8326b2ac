"""Holdouts: deterministic, order-independent, validated, recorded in the ledger with no side effect."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.unit.rules_fakes import (
    NOW,
    EmailEveryone,
    FakeConnector,
    FakeSender,
    customer,
    facts,
    seeded_store,
)
from winback.errors import ConfigError
from winback.model import ConsentState
from winback.rules.base import PlannedAction, Step
from winback.rules.executor import run_actions
from winback.rules.guards import Limits
from winback.rules.holdout import holdout_draw, is_held_out
from winback.rules.planner import plan_client
from winback.rules.registry import rules_from_config
from winback.sync import tables


def _action(email: str, lapse: str = "order-1", rule: str = "r", store: str = "shopify:s") -> PlannedAction:
    return PlannedAction(rule=rule, idempotency_key=f"{rule}:{email}:{lapse}", store_key=store, email=email,
                         customer_id=None, recipient_name=None, reason="lapsed", steps=(Step.SEND_EMAIL,),
                         marketing=True)


def test_draw_is_a_fixed_function_of_store_rule_customer_and_lapse() -> None:
    # A fixed value: any change to the hashing would move every merchant's control group.
    assert holdout_draw("shopify:s", "r", "Ann@Example.com", "k") == holdout_draw("shopify:s", "r", "ann@example.com", "k")
    assert round(holdout_draw("shopify:s", "r", "ann@example.com", "k"), 12) == round(
        int.from_bytes(__import__("hashlib").sha256("shopify:s\x1fr\x1fann@example.com\x1fk".encode()).digest()[:8], "big") / 2**64, 12)
    assert holdout_draw("shopify:s", "r", "ann@example.com", "k") != holdout_draw("shopify:s", "r", "ann@example.com", "k2")


def test_share_is_close_to_the_setting_and_independent_of_order() -> None:
    actions = [_action(f"c{i}@example.com") for i in range(4000)]
    held = {a.email for a in actions if is_held_out(a, 0.1)}
    assert 0.08 < len(held) / 4000 < 0.12
    shuffled = actions[:]
    random.Random(7).shuffle(shuffled)
    assert {a.email for a in shuffled if is_held_out(a, 0.1)} == held
    assert not any(is_held_out(a, 0.0) for a in actions)


@pytest.mark.parametrize("value", [-0.1, 0.51, 2])
def test_holdout_outside_0_to_half_is_a_config_error(value: float) -> None:
    with pytest.raises(ConfigError, match="holdout"):
        rules_from_config({"back_to_bestsellers": {"holdout": value}}, path=Path("client.toml"))


def test_held_out_customers_are_recorded_and_get_nothing(tmp_path: Path) -> None:
    people = [customer(str(i), f"c{i}@example.com", first=f"C{i}") for i in range(40)]
    people.append(customer("99", "no@example.com", ConsentState.NOT_SUBSCRIBED))
    store = seeded_store(tmp_path / "h.db", people, timezone_name=None)
    try:
        rule = EmailEveryone({"holdout": 0.5, "discount": True})
        plan = plan_client(store, facts(store), [rule], NOW, Limits(), None)
        held = [a for a in plan.actions if a.holdout]
        sent = [a for a in plan.actions if not a.holdout]
        assert held and sent and len(held) + len(sent) == 40
        assert all(a.steps == () and a.payload == {} for a in held)
        assert "no@example.com" in {h.action.email for h in plan.held}  # consent checked before the draw
        again = plan_client(store, facts(store), [rule], NOW, Limits(), None)
        assert [a.email for a in again.actions if a.holdout] == [a.email for a in held]

        connector, sender = FakeConnector(), FakeSender()
        report = asyncio.run(run_actions(plan, store=store, connector=connector, sender=sender, now=NOW))
        assert report.counts()["held out"] == len(held)
        assert len(sender.sent) == len(sent) and len(connector.codes) == len(sent)
        assert set(sender.recipients()).isdisjoint({a.email for a in held})
        with store.engine.connect() as conn:
            rows = conn.execute(select(tables.action_ledger.c.email, tables.action_ledger.c.holdout,
                                       tables.action_ledger.c.status)).all()
        assert {r.email for r in rows if r.holdout} == {a.email for a in held}
        assert {r.status for r in rows if r.holdout} == {"skipped"}
        third = plan_client(store, facts(store), [rule], NOW, Limits(), None)
        assert third.actions == []  # held out for this lapse: never reminded of it later
    finally:
        store.close()


def test_actions_with_nothing_to_do_are_never_drawn_into_the_holdout(tmp_path: Path) -> None:
    """Review item 8: a step-less "skipped: nothing to do" action (e.g. auto_create_accounts for
    someone who already has an account) is no treatment withheld; recording it as held out
    would bias the control group."""
    from dataclasses import replace
    from typing import ClassVar

    class NothingToDo(EmailEveryone):
        name: ClassVar[str] = "nothing_to_do"

        def plan(self, context):  # type: ignore[no-untyped-def]
            for action in super().plan(context):
                yield replace(action, steps=(), payload={}, marketing=False)

    store = seeded_store(tmp_path / "n.db", [customer(str(i), f"c{i}@example.com") for i in range(20)],
                         timezone_name=None)
    try:
        plan = plan_client(store, facts(store), [NothingToDo({"holdout": 0.5})], NOW, Limits(), None)
        assert len(plan.actions) == 20
        assert not any(a.holdout for a in plan.actions)
    finally:
        store.close()
