"""``vip_tiers``: reward the best customers with a tier the merchant can use on the platform.

Each registered customer's real orders over ``window_days`` place them in the highest tier whose
conditions they meet (or none). When that differs from the tier winback last recorded for them,
one action writes the new tier to the platform (a Shopify customer tag, an Ecwid customer group,
both named ``label_prefix`` + tier name; the other tiers' labels are removed, the merchant's own
kept). Moving up, when the upgrade was earned by a recent order and the customer is subscribed,
the same action sends a "welcome to Gold" email, optionally with a one-use perk code; moving down
(or out) is silent.

Never twice: the idempotency key anchors on the email, the new tier and the ledger row of the tier
recorded before (``initial`` for none), so each tier change is one intent; a killed run re-runs the
same action, and the platform write itself reads first and writes only what differs. A customer
whose platform already shows the tier (synced Shopify tags) and who has no record yet is left out.
Suppressed addresses are held by the planner like any action, their tier included.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from winback.connectors.base import Need
from winback.rules import queries, samples
from winback.rules.base import PlannedAction, Rule, RuleContext, Step, idempotency_key
from winback.rules.codes import discount_spec, template_discount
from winback.rules.compose import customer_context
from winback.rules.vip_tiers.audience import Recorded, labelled_query, recorded_tiers, stream, tier_query
from winback.rules.vip_tiers.options import VipTiersOptions


class VipTiers(Rule):
    """Registered customers get the tier their recent spend or orders earn, on the platform."""

    name = "vip_tiers"
    needs = frozenset({Need.READ_CUSTOMERS})
    options_model = VipTiersOptions
    description = "put the best customers in tiers (Shopify tags, Ecwid groups) and welcome them on moving up"

    options: VipTiersOptions

    def plan(self, context: RuleContext) -> Iterator[PlannedAction]:
        """One action per customer whose tier changed, by email (moves to no tier last)."""
        facts = context.facts
        with context.store.reading() as conn:
            recorded = recorded_tiers(conn, facts.store_key, self.name)
            tiered: set[str] = set()
            for row in stream(conn, tier_query(self.options, facts.store_key, context.now)):
                tiered.add(row.lower_email)
                action = self._change(context, row, recorded.get(row.lower_email))
                if action is not None:
                    yield action
            unrecorded = [row for row in stream(conn, labelled_query(self.options, facts.store_key))
                          if row.lower_email not in tiered and row.lower_email not in recorded]
        for email, before in sorted(recorded.items()):
            if email not in tiered and before.tier is not None and before.customer_id:
                yield self._drop(context, email, before)
        for row in unrecorded:
            shown = self._previous(row, None)
            if shown is not None:
                yield self._drop(context, row.lower_email, Recorded(0, shown, row.id, row.email or row.lower_email),
                                 anchor=("tags", row.updated_at.isoformat()))

    def sample_actions(self, context: RuleContext) -> list[PlannedAction]:
        sample = samples.sample_buyer(context.now)
        top = self.options.tiers[-1]
        row = _Row(
            lower_email=sample.lower_email, email=sample.email, customer_id=sample.customer_id,
            first_name=sample.first_name, last_name=sample.last_name, tags=[],
            window_orders=max(top.min_orders or 0, sample.real_orders_count),
            window_spent=max(top.min_spend or Decimal(0), sample.real_amount_spent),
            window_last_at=context.now - timedelta(days=1), tier=top.name, subscribed=True,
        )
        action = self._change(context, row, None)
        return [action] if action is not None else []

    # --- actions ---------------------------------------------------------------------------

    def _previous(self, row: Any, before: Recorded | None) -> str | None:
        """The tier shown now: winback's last record, else a tier label among the synced tags."""
        if before is not None:
            return before.tier
        tags = {str(tag).casefold() for tag in (row.tags or ())}
        shown = [tier.name for tier in self.options.tiers if (self.options.label(tier.name) or "").casefold() in tags]
        return shown[-1] if shown else None

    def _change(self, context: RuleContext, row: Any, before: Recorded | None) -> PlannedAction | None:
        opts, facts, now = self.options, context.facts, context.now
        previous = self._previous(row, before)
        if previous is not None and previous.casefold() == str(row.tier).casefold():
            if before is not None or self._only_label(row, previous):
                return None
        anchor = before.entry_id if before is not None else "initial"
        key = idempotency_key(self.name, facts.store_key, row.lower_email, row.tier, anchor)
        first, last = queries.person_name(row.first_name, row.last_name, None)
        tier = next(t for t in opts.tiers if t.name == row.tier)
        spent = queries.money_text(row.window_spent or Decimal(0))
        facts_text = (f"{row.window_orders} real orders, {spent} {facts.currency} in {opts.window_days} days "
                      f"(last {row.window_last_at.date().isoformat()})")
        upgrade = opts.rank(row.tier) > opts.rank(previous)
        move = f"tier {row.tier} ({tier.describe()})" + (f", from {previous}" if previous else ", first tier")
        payload: dict[str, Any] = {"tier": self._tier_payload(row.tier, previous)}
        steps: tuple[Step, ...] = (Step.SET_CUSTOMER_TIER,)
        recent = row.window_last_at >= now - timedelta(days=opts.welcome_within_days)
        if not upgrade:
            how = "moving down: silent"
        elif not opts.welcome_email:
            how = "welcome email off"
        elif not row.subscribed:
            how = "not subscribed: tier only"
        elif not recent:
            how = f"earned before the last {opts.welcome_within_days} days: tier only"
        else:
            how = "welcome email; subscribed"
            email_context: dict[str, Any] = {
                "customer": customer_context(row.email, first, last),
                "tier": {"name": row.tier, "label": opts.label(row.tier)},
                "previous_tier": previous,
                "window_days": opts.window_days,
                "qualifying_text": f"{row.window_orders} order{'s' if row.window_orders != 1 else ''} "
                                   f"({spent} {facts.currency})",
            }
            steps = (Step.SET_CUSTOMER_TIER, Step.SEND_EMAIL)
            if opts.perk is not None:
                spec = discount_spec(opts.perk, idempotency_key=key, secret=facts.store_key, now=now,
                                     title=f"winback {row.tier} welcome", customer_id=row.customer_id)
                payload["discount"] = spec.model_dump(mode="json")
                email_context["discount"] = template_discount(spec)
                steps = (Step.SET_CUSTOMER_TIER, Step.CREATE_DISCOUNT_CODE, Step.SEND_EMAIL)
            payload["email"] = {"template": opts.template, "context": email_context}
        return PlannedAction(
            rule=self.name, idempotency_key=key, store_key=facts.store_key, email=row.email,
            customer_id=row.customer_id, recipient_name=" ".join(p for p in (first, last) if p) or None,
            reason=f"{move}: {facts_text}; {opts.label(row.tier)} on the platform; {how}",
            steps=steps, marketing=Step.SEND_EMAIL in steps, payload=payload,
        )

    def _only_label(self, row: Any, tier: str) -> bool:
        """The synced tags show ``tier``'s label and no other tier's: nothing to write."""
        tags = {str(tag).casefold() for tag in (row.tags or ())}
        return not ({label.casefold() for label in self.options.labels} & tags) - {(self.options.label(tier) or "").casefold()}

    def _drop(self, context: RuleContext, email: str, before: Recorded,
              anchor: tuple[str, str] | None = None) -> PlannedAction:
        """Take the tier off. The key anchors on the ledger row of the tier recorded or, for a label
        only the synced tags show, on the customer's ``updated_at`` then: a label set again later
        (which changes the record) is taken off again."""
        facts = context.facts
        parts: tuple[object, ...] = (before.entry_id,) if anchor is None else (*anchor, before.tier)
        key = idempotency_key(self.name, facts.store_key, email, "-", *parts)
        return PlannedAction(
            rule=self.name, idempotency_key=key, store_key=facts.store_key, email=before.email,
            customer_id=before.customer_id, recipient_name=None,
            reason=(f"no tier now (was {before.tier}): its orders in {self.options.window_days} days no longer "
                    f"qualify; {self.options.label(before.tier)} removed on the platform; moving down: silent"),
            steps=(Step.SET_CUSTOMER_TIER,), marketing=False,
            payload={"tier": self._tier_payload(None, before.tier)},
        )

    def _tier_payload(self, name: str | None, previous: str | None) -> dict[str, Any]:
        return {"name": name, "label": self.options.label(name), "labels": self.options.labels, "previous": previous}


class _Row:
    """A row of :func:`tier_query` for the sample buyer."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


