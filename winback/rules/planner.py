"""Turn a client's enabled rules into a :class:`Plan`: the actions to run now and the held ones.

Planning reads the local store and the ledger and writes nothing, so ``winback plan`` can run it
any time. Guard rails, in order: already settled in the ledger (done, skipped, or waiting for a
person) → suppressed address → marketing without SUBSCRIBED consent → quiet hours → the
per-customer marketing cap (ledger emails in the window plus earlier actions in this plan) → the
rule's holdout (:mod:`winback.rules.holdout`: a held-out action stays in :attr:`Plan.actions`
with no steps, so the executor records it) → the per-run maximum.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from winback.connectors.base import Capabilities
from winback.rules.base import PlannedAction, Rule, RuleContext, Step, StoreFacts
from winback.rules.guards import (
    HeldAction,
    HoldReason,
    Limits,
    in_quiet_hours,
    quiet_hours_end,
    subscribed_emails,
)
from winback.model import normalize_email
from winback.rules.holdout import as_held_out, is_held_out
from winback.rules.ledger import Ledger
from winback.rules.ledger_entries import SETTLED
from winback.rules.suppressions import SuppressionList
from winback.sync import LocalStore

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Plan:
    """What one run would do for one store."""

    store_key: str
    now: datetime
    actions: list[PlannedAction] = field(default_factory=list)
    """To run now, in order."""
    held: list[HeldAction] = field(default_factory=list)
    rule_errors: dict[str, str] = field(default_factory=dict)
    """Rules whose planning failed (the others still planned), by name."""
    rules_held: dict[str, str] = field(default_factory=dict)
    """Enabled rules that need something the credentials cannot reach, with why and the remedy;
    their actions are held (:attr:`HoldReason.UNREACHABLE`), never failed at a first write."""

    def held_counts(self) -> Counter[str]:
        return Counter(held.reason.value for held in self.held)


def sends_marketing_email(action: PlannedAction) -> bool:
    return action.marketing and Step.SEND_EMAIL in action.steps


def plan_client(
    store: LocalStore,
    facts: StoreFacts,
    rules: Sequence[Rule],
    now: datetime,
    limits: Limits | None = None,
    capabilities: Capabilities | None = None,
) -> Plan:
    """Run each enabled rule's ``plan()`` and apply the guard rails. No side effects.

    A rule that raises is reported in :attr:`Plan.rule_errors`; the other rules still plan.
    """
    limits = limits or Limits()
    plan = Plan(store_key=facts.store_key, now=now)
    context = RuleContext(store=store, facts=facts, now=now, capabilities=capabilities)
    proposed: list[PlannedAction] = []
    seen: set[str] = set()
    holdouts: dict[str, float] = {}
    unreachable = dict(capabilities.unreachable) if capabilities is not None else {}
    by_name = {rule.name: rule for rule in rules}

    def out_of_reach(needs: frozenset[str]) -> str | None:
        missing = sorted(need for need in needs if need in unreachable)
        return "; ".join(f"cannot {need}: {unreachable[need]}" for need in missing) or None

    for rule in rules:
        if not rule.options.enabled:
            continue
        holdouts[rule.name] = rule.options.holdout
        why = out_of_reach(frozenset(rule.needs))
        if why is not None:
            plan.rules_held[rule.name] = why
        try:
            for action in rule.plan(context):
                if action.idempotency_key not in seen and action.store_key == facts.store_key:
                    seen.add(action.idempotency_key)
                    proposed.append(action)
        except Exception as exc:  # one rule's bug must not stop the others
            log.exception("rule %s failed while planning for %s", rule.name, facts.store_key)
            plan.rule_errors[rule.name] = f"{type(exc).__name__}: {exc}"
    if not proposed:
        return plan

    ledger = Ledger(store)
    existing = ledger.existing(facts.store_key, (a.idempotency_key for a in proposed))
    emails = {a.email for a in proposed}
    suppressed = SuppressionList(store).suppressed(facts.store_key, emails) | set(limits.suppress)
    marketing_emails = {a.email for a in proposed if a.marketing}
    consenting = subscribed_emails(store, facts.store_key, marketing_emails) if marketing_emails else set()
    quiet_until = quiet_hours_end(limits, facts.timezone, now) if in_quiet_hours(limits, facts.timezone, now) else None
    window = timedelta(days=limits.marketing_cap_days)
    window_start = now - window
    capped_emails = {a.email for a in proposed if sends_marketing_email(a)}
    sent_before = ledger.marketing_email_times(facts.store_key, capped_emails, window_start) if capped_emails else {}
    sent_in_plan: Counter[str] = Counter()
    held_out = 0

    def hold(action: PlannedAction, reason: HoldReason, detail: str, until: datetime | None = None) -> None:
        plan.held.append(HeldAction(action, reason, detail, until))

    for action in proposed:
        email = normalize_email(action.email)
        entry = existing.get(action.idempotency_key)
        if entry is not None and entry.status in SETTLED:
            hold(action, HoldReason.ALREADY_DONE, f"{entry.status} earlier")
            continue
        if entry is not None and entry.needs_review:
            hold(action, HoldReason.NEEDS_REVIEW, entry.error or "interrupted: check before retrying")
            continue
        owner = by_name.get(action.rule)
        needs = owner.needs_of(action) if owner is not None and unreachable else frozenset()
        why = out_of_reach(needs)
        if why is not None:
            # The remedy is said once per rule (``rules_held``); each action names what it lacks.
            plan.rules_held.setdefault(action.rule, why)
            lacking = ", ".join(sorted(need for need in needs if need in unreachable))
            hold(action, HoldReason.UNREACHABLE, f"the store's credentials cannot {lacking} (see rule {action.rule} held)")
            continue
        if email in suppressed:
            hold(action, HoldReason.SUPPRESSED, "on the suppression list")
            continue
        if action.marketing and email not in consenting:
            hold(action, HoldReason.NO_CONSENT, "not subscribed to marketing email")
            continue
        if action.marketing and quiet_until is not None:
            hold(action, HoldReason.QUIET_HOURS, f"quiet hours {limits.quiet_hours}: deferred to a later run", quiet_until)
            continue
        if sends_marketing_email(action):
            sent = list(sent_before.get(email, ()))
            if entry is not None and entry.email_started_at is not None and entry.email_started_at in sent:
                sent.remove(entry.email_started_at)  # this action's own interrupted send is not another email
            sent = sorted(sent + [now] * sent_in_plan[email])
            if len(sent) >= limits.marketing_cap_count:
                # A run may send once fewer than cap_count emails are left in the window.
                until = sent[len(sent) - limits.marketing_cap_count] + window if limits.marketing_cap_count else None
                hold(
                    action,
                    HoldReason.CAPPED,
                    f"{len(sent)} marketing email(s) in {limits.marketing_cap_days} days (cap {limits.marketing_cap_count})",
                    until,
                )
                continue
        # Step-less actions ("skipped: nothing to do") are no treatment to withhold: drawing them
        # would put people who were never candidates into the control group and bias the lift.
        if action.steps and is_held_out(action, holdouts.get(action.rule, 0.0)):
            plan.actions.append(as_held_out(action))
            held_out += 1
            continue
        if len(plan.actions) - held_out >= limits.max_actions_per_run:
            hold(action, HoldReason.OVER_LIMIT, f"over {limits.max_actions_per_run} actions per run: next run")
            continue
        if sends_marketing_email(action):
            sent_in_plan[email] += 1
        plan.actions.append(action)
    return plan
