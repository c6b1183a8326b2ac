"""``discount_codes``: a personal one-use code for buyers who reach a segment.

Segments: ``min_orders`` real orders, ``min_spent`` in real (net) spend, or a thank-you after the
``nth_order``-th real order; conditions given together must all hold. Only buyers whose triggering
order is recent qualify (``since_days``: the Nth order for ``nth_order``, the last real order
otherwise), so the first run does not reward years of history at once. One code per buyer and
segment: the idempotency key anchors on the email and the segment's signature, and the reason
names the segment so the SQL can leave out buyers already served for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import exists, select

from winback.connectors.base import Need
from winback.model import DiscountKind
from winback.rules import queries, samples
from winback.rules.base import (
    PlannedAction,
    Rule,
    RuleContext,
    RuleOptions,
    Step,
    idempotency_key,
)
from winback.rules.codes import (
    PREFIX_PATTERN,
    DiscountOffer,
    discount_spec,
    template_discount,
)
from winback.rules.compose import customer_context
from winback.rules.ledger_entries import SETTLED
from winback.rules.queries import buyer
from winback.sync import tables


class Segment(BaseModel):
    """Who gets a code (``segment = {nth_order = 2}``); at least one condition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_orders: int | None = Field(default=None, ge=1)
    min_spent: Decimal | None = Field(default=None, gt=0)
    nth_order: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_condition(self) -> Segment:
        if self.min_orders is None and self.min_spent is None and self.nth_order is None:
            raise ValueError("a segment needs min_orders, min_spent or nth_order")
        return self

    def signature(self) -> str:
        """Stable text naming the segment (part of the idempotency key and the reason)."""
        parts = []
        if self.min_orders is not None:
            parts.append(f"min_orders={self.min_orders}")
        if self.min_spent is not None:
            parts.append(f"min_spent={self.min_spent.normalize():f}")
        if self.nth_order is not None:
            parts.append(f"nth_order={self.nth_order}")
        return ",".join(parts)


class DiscountCodesOptions(RuleOptions):
    """``[rules.discount_codes]``."""

    segment: Segment
    kind: DiscountKind
    value: Decimal = Field(gt=0)
    valid_days: int = Field(default=30, ge=1, le=3650)
    prefix: str = Field(default="THANKS", pattern=PREFIX_PATTERN)
    marketing: bool = True
    """A thank-you code is still marketing by default: it needs consent and counts toward the cap."""
    since_days: int | None = Field(default=30, ge=1)
    """Only buyers whose triggering order is this recent; ``None``: any time (beware: a first run
    then writes to every buyer in the segment)."""

    @property
    def offer(self) -> DiscountOffer:
        return DiscountOffer(kind=self.kind, value=self.value, valid_days=self.valid_days, prefix=self.prefix)

    @model_validator(mode="after")
    def _valid_offer(self) -> DiscountCodesOptions:
        self.offer  # noqa: B018 - validates kind and value together
        return self


def ordinal(n: int) -> str:
    words = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}
    if n in words:
        return words[n]
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class DiscountCodes(Rule):
    """Buyers who reach a segment get a personal one-use discount code by email."""

    name = "discount_codes"
    needs = frozenset({Need.CREATE_DISCOUNT_CODES, Need.READ_DISCOUNT_CODES})
    """Every action creates a code (looked up first, so it is made at most once)."""
    options_model = DiscountCodesOptions
    description = "send a personal discount code to buyers who reach a segment"

    options: DiscountCodesOptions

    def _tag(self) -> str:
        return f"(segment {self.options.segment.signature()})"

    def audience(self, context: RuleContext) -> Any:
        opts, store_key, now = self.options, context.facts.store_key, context.now
        segment = opts.segment
        customer = tables.customers.alias("c")
        last_order = tables.orders.alias("lo")
        conditions = [
            buyer.c.store_key == store_key, buyer.c.last_order_id.is_not(None), queries.not_redacted(customer)
        ]
        least = max(segment.min_orders or 1, segment.nth_order or 1)
        conditions.append(buyer.c.real_orders_count >= least)
        if segment.min_spent is not None:
            conditions.append(buyer.c.real_amount_spent >= segment.min_spent)
        if opts.since_days is not None:
            since = now - timedelta(days=opts.since_days)
            conditions.append(buyer.c.last_order_at >= queries.at_time(since, "since"))
            if segment.nth_order is not None:
                conditions.append(queries.real_orders_before(store_key, since) < segment.nth_order)
        if opts.marketing:
            conditions.append(queries.subscribed())
        ledger = tables.action_ledger
        conditions.append(
            ~exists().where(
                ledger.c.store_key == store_key,
                ledger.c.lower_email == buyer.c.lower_email,
                ledger.c.rule == self.name,
                ledger.c.status.in_(SETTLED),
                ledger.c.reason.contains(self._tag(), autoescape=True),
            )
        )
        return (
            select(
                buyer.c.lower_email, buyer.c.email, buyer.c.customer_id, buyer.c.real_orders_count,
                buyer.c.real_amount_spent, buyer.c.last_order_at, customer.c.first_name, customer.c.last_name,
                last_order.c.billing_address,
            )
            .select_from(queries.buyer_joined(customer, last_order))
            .where(*conditions)
            .order_by(buyer.c.lower_email)
        )

    def plan(self, context: RuleContext) -> Iterator[PlannedAction]:
        """One action per buyer in the segment not served yet, by email:
        ``CREATE_DISCOUNT_CODE`` then ``SEND_EMAIL`` (template ``discount_code``)."""
        with context.store.reading() as conn:
            for batch in queries.stream_batches(conn, self.audience(context)):
                for row in batch:
                    yield self._action(context, row)

    def sample_actions(self, context: RuleContext) -> list[PlannedAction]:
        return [self._action(context, samples.sample_buyer(context.now))]

    def _action(self, context: RuleContext, row: Any) -> PlannedAction:
        opts, facts, now = self.options, context.facts, context.now
        key = idempotency_key(self.name, facts.store_key, row.lower_email, opts.segment.signature())
        first, last = queries.person_name(row.first_name, row.last_name, row.billing_address)
        spec = discount_spec(
            opts.offer, idempotency_key=key, secret=facts.store_key, now=now,
            title="winback thank-you", customer_id=row.customer_id,
        )
        count = int(row.real_orders_count)
        email_context = {
            "customer": customer_context(row.email, first, last),
            "discount": template_discount(spec),
            "orders_count": count,
            "reason_text": self._reason_text(facts.name, facts.currency, count),
            "segment_text": self._reason_text(facts.name, facts.currency),
        }
        facts_text = f"{count} real orders, {queries.money_text(row.real_amount_spent)} {facts.currency} spent, " \
                     f"last {row.last_order_at.date().isoformat()}"
        consent = "; subscribed" if opts.marketing else ""
        return PlannedAction(
            rule=self.name,
            idempotency_key=key,
            store_key=facts.store_key,
            email=row.email,
            customer_id=row.customer_id,
            recipient_name=queries.full_name(first, last),
            reason=f"{facts_text} {self._tag()}{consent}",
            steps=(Step.CREATE_DISCOUNT_CODE, Step.SEND_EMAIL),
            marketing=opts.marketing,
            payload={
                "discount": spec.model_dump(mode="json"),
                "email": {"template": "discount_code", "context": email_context},
            },
        )

    def _reason_text(self, store_name: str, currency: str, orders_count: int | None = None) -> str:
        """The email's thank-you line: the buyer's own number of orders when known (``orders_count``),
        else the segment's threshold."""
        segment = self.options.segment
        if segment.nth_order is not None:
            return f"Thank you for your {ordinal(segment.nth_order)} order at {store_name}!"
        if segment.min_orders is not None:
            if orders_count is not None and orders_count >= segment.min_orders:
                return f"Thank you for ordering from {store_name} {orders_count} times!"
            return f"Thank you for ordering from {store_name} {segment.min_orders} times or more!"
        assert segment.min_spent is not None
        return f"Thank you for being one of {store_name}'s best customers " \
               f"(over {queries.money_text(segment.min_spent)} {currency} so far)!"
