"""``back_to_bestsellers``: remind lapsed, subscribed buyers of the store's bestsellers.

Ecwid's own "Back to bestsellers" mail, for any platform: a buyer whose last real order (not
cancelled, not a test, not fully refunded) is ``after_days`` old gets one email showing the store's
current top products, optionally with a one-use discount code. One reminder per last order: the
idempotency key anchors on the buyer's email and last order id, so a buyer who orders again and
lapses again is reminded again.

With ``steps`` the reminder is the first step of a sequence (:mod:`winback.rules.sequences`):
follow-ups, e.g. a personal code two weeks later and a last note after that, go only to buyers
who have not ordered since; the last order id is the sequence's anchor. ``timing`` chooses when
the first step goes: ``after_days`` since the last order, the buyer's own ``cadence``, or when the
BG/NBD probability that they are still active falls below ``p_alive_below``
(:mod:`winback.rules.alive`). The timing is recorded with each action (the ledger's ``variant``)
so ``winback report`` compares the timings' results against their holdouts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field, model_validator
from sqlalchemy import and_, or_, select

from winback.connectors.base import Need
from winback.model import normalize_email
from winback.rules import alive, queries, samples, sequences
from winback.rules.base import (
    PlannedAction,
    Rule,
    RuleContext,
    SequencePosition,
    Step,
)
from winback.rules.codes import DiscountOffer, discount_spec, template_discount
from winback.rules.compose import customer_context
from winback.rules.queries import at_time, buyer, epoch_days
from winback.rules.recommend import Recommend, Recommender
from winback.sync import tables

log = logging.getLogger(__name__)


Timing = Literal["after_days", "cadence", "p_alive"]
FOLLOW_UP_TEMPLATE = "back_to_bestsellers_followup"


class BackToBestsellersOptions(sequences.SequenceOptions):
    """``[rules.back_to_bestsellers]`` (``steps`` and ``min_gap_days``: see
    :class:`~winback.rules.sequences.SequenceOptions`)."""

    after_days: int = Field(default=180, ge=1)
    """Days since the last real order before the reminder."""
    products: int = Field(default=4, ge=1, le=20)
    """How many bestsellers the email shows."""
    lookback_days: int = Field(default=365, ge=1)
    """Bestsellers are counted over the real orders of this many days."""
    exclude_purchased: bool = True
    """Leave out products the buyer already bought (when enough others remain)."""
    cadence: bool = False
    """Time the reminder on the buyer's own rhythm when they have ordered often enough."""
    cadence_cycles: float = Field(default=2, gt=0)
    """With ``cadence``: remind after this many of the buyer's mean gaps between real orders."""
    cadence_min_orders: int = Field(default=3, ge=2)
    cadence_min_days: int = Field(default=14, ge=1)
    discount: DiscountOffer | None = None
    """``{kind = "percentage", value = 10}`` attaches a one-use code (prefix ``BACK``)."""
    max_age_days: int = Field(default=730, ge=1)
    """Never start reminding someone whose last order is older than this."""
    timing: Timing | None = None
    """When the first reminder goes: ``after_days`` (the default), ``cadence`` (same as
    ``cadence = true``) or ``p_alive`` (when the BG/NBD probability that the buyer is still active
    falls below ``p_alive_below``; one-time buyers by ``after_days``)."""
    p_alive_below: float = Field(default=0.5, gt=0, lt=1)
    recommend: Recommend = Recommend.BESTSELLERS
    """``co_purchase``: what buyers of the recipient's products also bought (bestsellers fill in)."""
    min_support: int = Field(default=3, ge=1)
    """With ``co_purchase``: common buyers a product pair needs to count."""

    @model_validator(mode="after")
    def _window(self) -> BackToBestsellersOptions:
        if self.max_age_days <= self.first_wait:
            raise ValueError(f"max_age_days ({self.max_age_days}) must exceed after_days ({self.first_wait})")
        if self.cadence and self.timing not in (None, "cadence"):
            raise ValueError(f"cadence = true contradicts timing = {self.timing!r}: keep one of them")
        first = self.step(0)
        if first is not None and first.after_days is not None and "after_days" in self.model_fields_set \
                and first.after_days != self.after_days:
            raise ValueError(f"after_days ({self.after_days}) and steps[0].after_days ({first.after_days}) "
                             "disagree: set one of them")
        if self.steps and self.discount is not None:
            raise ValueError("with steps, put the discount on the step that carries it (steps[i].discount)")
        return self

    @property
    def first_wait(self) -> int:
        """Days since the last real order before the first reminder (``steps[0].after_days``
        when given, else ``after_days``)."""
        first = self.step(0)
        return first.after_days if first is not None and first.after_days is not None else self.after_days

    @property
    def chosen_timing(self) -> Timing:
        return self.timing or ("cadence" if self.cadence else "after_days")


class BackToBestsellers(Rule):
    """Lapsed subscribed buyers (guests included) get the store's current bestsellers."""

    name = "back_to_bestsellers"
    needs = frozenset({Need.READ_PRODUCTS})
    options_model = BackToBestsellersOptions
    description = "email buyers who have not ordered for a while the store's bestsellers"

    options: BackToBestsellersOptions

    def _columns(self, customer: Any, last_order: Any) -> list[Any]:
        return [
            buyer.c.lower_email, buyer.c.email, buyer.c.customer_id, buyer.c.last_order_id,
            buyer.c.first_order_at, buyer.c.last_order_at, buyer.c.real_orders_count,
            customer.c.first_name, customer.c.last_name, last_order.c.billing_address,
        ]

    def audience(self, context: RuleContext, model: alive.AliveModel | str | None = None) -> Any:
        """The SELECT of every buyer to remind now (the first step), by email (one statement).
        ``model``: the store's fitted P(alive) model with ``timing = "p_alive"``."""
        opts, now, store_key = self.options, context.now, context.facts.store_key
        customer = tables.customers.alias("c")
        last_order = tables.orders.alias("lo")
        since_last = epoch_days(at_time(now, "now")) - epoch_days(buyer.c.last_order_at)
        first_wait = opts.first_wait
        lapsed = buyer.c.last_order_at <= at_time(now - timedelta(days=first_wait), "lapsed_before")
        earliest_wait = first_wait
        span = epoch_days(buyer.c.last_order_at) - epoch_days(buyer.c.first_order_at)
        if opts.chosen_timing == "cadence":
            earliest_wait = min(first_wait, opts.cadence_min_days)
            on_rhythm = and_(
                buyer.c.real_orders_count >= opts.cadence_min_orders,
                since_last >= opts.cadence_min_days,
                since_last * (buyer.c.real_orders_count - 1) >= opts.cadence_cycles * span,
            )
            lapsed = or_(and_(buyer.c.real_orders_count < opts.cadence_min_orders, lapsed), on_rhythm)
        elif isinstance(model, alive.AliveModel):
            earliest_wait = min(first_wait, opts.cadence_min_days)
            fading = and_(buyer.c.real_orders_count >= 2, since_last >= opts.cadence_min_days, model.due(since_last, span))
            lapsed = or_(and_(buyer.c.real_orders_count < 2, lapsed), fading)
        return (
            select(*self._columns(customer, last_order))
            .select_from(queries.buyer_joined(customer, last_order))
            .where(
                buyer.c.store_key == store_key,
                buyer.c.last_order_id.is_not(None),
                buyer.c.last_order_at <= at_time(now - timedelta(days=earliest_wait), "waited_before"),
                buyer.c.last_order_at >= at_time(now - timedelta(days=opts.max_age_days), "not_before"),
                lapsed,
                queries.subscribed(),
                queries.not_redacted(customer),
                ~queries.settled_in_ledger(store_key, self.name, since=buyer.c.last_order_at),
            )
            .order_by(buyer.c.lower_email)
        )

    def follow_up_audience(self, context: RuleContext) -> Any:
        """The SELECT of every buyer due for a follow-up step now, by email (one statement; see
        :func:`~winback.rules.sequences.follow_ups`)."""
        opts, now, store_key = self.options, context.now, context.facts.store_key
        customer = tables.customers.alias("c")
        last_order = tables.orders.alias("lo")
        due = sequences.follow_ups(store_key, self.name, opts, now, buyer.c.last_order_id)
        seq = due.ledger
        return (
            select(
                *self._columns(customer, last_order), due.next_step.label("step_index"),
                seq.c.status.label("previous_status"), seq.c.finished_at.label("previous_finished_at"),
            )
            .select_from(queries.buyer_joined(customer, last_order).join(seq, due.onclause))
            .where(
                buyer.c.store_key == store_key,
                buyer.c.last_order_id.is_not(None),
                due.where,
                ~sequences.ordered_after(store_key, seq.c.created_at),
                queries.subscribed(),
                queries.not_redacted(customer),
            )
            .order_by(buyer.c.lower_email)
        )

    def plan(self, context: RuleContext) -> Iterator[PlannedAction]:
        """One action per buyer to remind, by email: ``SEND_EMAIL`` (after ``CREATE_DISCOUNT_CODE``
        when the step has a discount); then, with steps, the follow-ups due. Nothing when the store
        has no active bestseller."""
        opts, facts, now = self.options, context.facts, context.now
        with context.store.reading() as conn:
            recommender = Recommender(conn, facts.store_key, now - timedelta(days=opts.lookback_days),
                                      method=opts.recommend, count=opts.products,
                                      exclude_purchased=opts.exclude_purchased, min_support=opts.min_support)
            if recommender.empty:
                log.info("back_to_bestsellers: %s has no active product sold in %d days: nothing to show",
                         facts.store_key, opts.lookback_days, extra={"store": facts.store_key})
                return
            model = alive.fit_alive(conn, facts.store_key, now, opts.p_alive_below) \
                if opts.chosen_timing == "p_alive" else None
            if isinstance(model, str):
                log.warning("back_to_bestsellers: %s: %s; timed by after_days", facts.store_key, model,
                            extra={"store": facts.store_key})
            audiences = [self.audience(context, model)]
            if opts.step_count > 1:
                audiences.append(self.follow_up_audience(context))
            for query in audiences:
                for batch in queries.stream_batches(conn, query):
                    chosen = recommender.for_batch(conn, [(row.lower_email, row.customer_id) for row in batch])
                    for row in batch:
                        yield self._action(context, row, chosen[row.lower_email], model)

    def step_action(self, context: RuleContext, email: str, index: int) -> PlannedAction | None:
        """Step ``index`` (0-based) for ``email``'s current lapse as if it were due now, whatever
        the timing (``winback preview --step``); ``None`` when the store has no such buyer or no
        bestseller."""
        opts, facts, now = self.options, context.facts, context.now
        if not 0 <= index < opts.step_count:
            raise ValueError(f"step {index + 1} does not exist: the rule has {opts.step_count} step(s)")
        customer = tables.customers.alias("c")
        last_order = tables.orders.alias("lo")
        wanted = normalize_email(email)
        query = (
            select(*self._columns(customer, last_order))
            .select_from(queries.buyer_joined(customer, last_order))
            .where(buyer.c.store_key == facts.store_key, buyer.c.lower_email == wanted,
                   buyer.c.last_order_id.is_not(None))
        )
        with context.store.reading() as conn:
            row = conn.execute(query).first()
            recommender = Recommender(conn, facts.store_key, now - timedelta(days=opts.lookback_days),
                                      method=opts.recommend, count=opts.products,
                                      exclude_purchased=opts.exclude_purchased, min_support=opts.min_support)
            if row is None or recommender.empty:
                return None
            chosen = recommender.for_batch(conn, [(row.lower_email, row.customer_id)])
        return self._action(context, row, chosen[row.lower_email], None, index=index)

    def sample_actions(self, context: RuleContext) -> list[PlannedAction]:
        sample = samples.sample_buyer(context.now)
        products = samples.sample_bestsellers(self.options.products)
        return [self._action(context, sample, products, None, index=i) for i in range(self.options.step_count)]

    def _action(
        self, context: RuleContext, row: Any, chosen: list[queries.Bestseller],
        model: alive.AliveModel | str | None, index: int | None = None,
    ) -> PlannedAction:
        opts, facts, now = self.options, context.facts, context.now
        if index is None:
            index = int(getattr(row, "step_index", 0) or 0)
        key = sequences.step_key(self.name, facts.store_key, row.lower_email, row.last_order_id, index)
        first, last = queries.person_name(row.first_name, row.last_name, row.billing_address)
        last_at: datetime = row.last_order_at
        days = (now - last_at).days
        email_context: dict[str, Any] = {
            "customer": customer_context(row.email, first, last),
            "products": [product.context(facts.currency) for product in chosen],
            "last_order_at": last_at.date().isoformat(),
            "days_since": days,
        }
        step = opts.step(index)
        offer = opts.discount if step is None else step.discount
        if opts.steps:
            email_context["step"] = {"number": index + 1, "of": opts.step_count, "last": index + 1 == opts.step_count}
        payload: dict[str, Any] = {}
        steps: tuple[Step, ...] = (Step.SEND_EMAIL,)
        if offer is not None:
            spec = discount_spec(
                offer, idempotency_key=key, secret=facts.store_key, now=now,
                title="winback back to bestsellers", customer_id=row.customer_id,
            )
            payload["discount"] = spec.model_dump(mode="json")
            email_context["discount"] = template_discount(spec)
            steps = (Step.CREATE_DISCOUNT_CODE, Step.SEND_EMAIL)
        default_template = "back_to_bestsellers" if index == 0 else FOLLOW_UP_TEMPLATE
        template = (step.template if step is not None else None) or default_template
        payload["email"] = {"template": template, "context": email_context}
        if index == 0:
            reason = self._reason(row, last_at, days, model, now)
            if opts.steps:
                reason = f"{sequences.step_label(0, opts.step_count)}: {reason}"
        else:
            reason = sequences.follow_up_reason(
                index, opts, getattr(row, "previous_status", "done"), getattr(row, "previous_finished_at", None), now
            )
        return PlannedAction(
            rule=self.name,
            idempotency_key=key,
            store_key=facts.store_key,
            email=row.email,
            customer_id=row.customer_id,
            recipient_name=queries.full_name(first, last),
            reason=reason,
            steps=steps,
            marketing=True,
            payload=payload,
            sequence=SequencePosition(anchor=str(row.last_order_id), index=index, of=opts.step_count),
            variant=opts.chosen_timing,
        )

    def _reason(self, row: Any, last_at: datetime, days: int, model: alive.AliveModel | str | None,
                now: datetime) -> str:
        opts = self.options
        rhythm = alive.describe(model, row, now)
        count = int(row.real_orders_count or 0)
        if opts.chosen_timing == "cadence" and count >= opts.cadence_min_orders and row.first_order_at is not None:
            gap = (last_at - row.first_order_at).total_seconds() / 86400 / (count - 1)
            wait = max(opts.cadence_min_days, opts.cadence_cycles * gap)
            rhythm = f"; orders about every {gap:.0f} days ({count} orders), due after {wait:.0f}"
        consent = "subscribed" if row.customer_id else "accepted marketing on their last order"
        return f"last order {last_at.date().isoformat()}, {days} days ago{rhythm}; {consent}; not reminded since"


