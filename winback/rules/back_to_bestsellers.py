"""``back_to_bestsellers``: remind lapsed, subscribed buyers of the store's bestsellers.

Ecwid's own "Back to bestsellers" mail, for any platform: a buyer whose last real order (not
cancelled, not a test, not fully refunded) is ``after_days`` old gets one email showing the store's
current top products, optionally with a one-use discount code. One reminder per last order: the
idempotency key anchors on the buyer's email and last order id, so a buyer who orders again and
lapses again is reminded again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, model_validator
from sqlalchemy import and_, or_, select

from winback.connectors.base import Need
from winback.rules import queries, samples
from winback.rules.base import (
    PlannedAction,
    Rule,
    RuleContext,
    RuleOptions,
    Step,
    idempotency_key,
)
from winback.rules.codes import DiscountOffer, discount_spec, template_discount
from winback.rules.compose import customer_context
from winback.rules.queries import at_time, buyer, epoch_days
from winback.rules.recommend import Recommend, Recommender
from winback.sync import tables

log = logging.getLogger(__name__)


class BackToBestsellersOptions(RuleOptions):
    """``[rules.back_to_bestsellers]``."""

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
    """Never remind someone whose last order is older than this."""
    recommend: Recommend = Recommend.BESTSELLERS
    """``co_purchase``: what buyers of the recipient's products also bought (bestsellers fill in)."""
    min_support: int = Field(default=3, ge=1)
    """With ``co_purchase``: common buyers a product pair needs to count."""

    @model_validator(mode="after")
    def _window(self) -> BackToBestsellersOptions:
        if self.max_age_days <= self.after_days:
            raise ValueError(f"max_age_days ({self.max_age_days}) must exceed after_days ({self.after_days})")
        return self


class BackToBestsellers(Rule):
    """Lapsed subscribed buyers (guests included) get the store's current bestsellers."""

    name = "back_to_bestsellers"
    needs = frozenset({Need.READ_PRODUCTS})
    options_model = BackToBestsellersOptions
    description = "email buyers who have not ordered for a while the store's bestsellers"

    options: BackToBestsellersOptions

    def audience(self, context: RuleContext) -> Any:
        """The SELECT of every buyer to remind now, by email (one statement)."""
        opts, now, store_key = self.options, context.now, context.facts.store_key
        customer = tables.customers.alias("c")
        last_order = tables.orders.alias("lo")
        since_last = epoch_days(at_time(now, "now")) - epoch_days(buyer.c.last_order_at)
        lapsed = buyer.c.last_order_at <= at_time(now - timedelta(days=opts.after_days), "lapsed_before")
        earliest_wait = opts.after_days
        if opts.cadence:
            earliest_wait = min(opts.after_days, opts.cadence_min_days)
            span = epoch_days(buyer.c.last_order_at) - epoch_days(buyer.c.first_order_at)
            on_rhythm = and_(
                buyer.c.real_orders_count >= opts.cadence_min_orders,
                since_last >= opts.cadence_min_days,
                since_last * (buyer.c.real_orders_count - 1) >= opts.cadence_cycles * span,
            )
            lapsed = or_(and_(buyer.c.real_orders_count < opts.cadence_min_orders, lapsed), on_rhythm)
        return (
            select(
                buyer.c.lower_email, buyer.c.email, buyer.c.customer_id, buyer.c.last_order_id,
                buyer.c.first_order_at, buyer.c.last_order_at, buyer.c.real_orders_count,
                customer.c.first_name, customer.c.last_name, last_order.c.billing_address,
            )
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

    def plan(self, context: RuleContext) -> Iterator[PlannedAction]:
        """One action per buyer to remind, by email: ``SEND_EMAIL`` (after ``CREATE_DISCOUNT_CODE``
        when a discount is configured). Nothing when the store has no active bestseller."""
        opts, facts, now = self.options, context.facts, context.now
        if opts.recommend is Recommend.CO_PURCHASE:
            yield from self._plan_co_purchase(context)
            return
        with context.store.reading() as conn:
            pool = opts.products * 3 + 10 if opts.exclude_purchased else opts.products
            ranked = queries.bestsellers(conn, facts.store_key, now - timedelta(days=opts.lookback_days), pool)
            if not ranked:
                log.info("back_to_bestsellers: %s has no active product sold in %d days: nothing to show",
                         facts.store_key, opts.lookback_days, extra={"store": facts.store_key})
                return
            product_ids = [product.id for product in ranked]
            for batch in queries.stream_batches(conn, self.audience(context)):
                bought: dict[str, set[str]] = {}
                if opts.exclude_purchased:
                    bought = queries.purchased_products(
                        conn, facts.store_key, [(row.lower_email, row.customer_id) for row in batch], product_ids
                    )
                for row in batch:
                    chosen = queries.pick_products(ranked, bought.get(row.lower_email, set()), opts.products)
                    yield self._action(context, row, chosen)

    def _plan_co_purchase(self, context: RuleContext) -> Iterator[PlannedAction]:
        """As :meth:`plan`, the products picked by :mod:`winback.rules.recommend`."""
        opts, facts, now = self.options, context.facts, context.now
        with context.store.reading() as conn:
            recommender = Recommender(conn, facts.store_key, now - timedelta(days=opts.lookback_days),
                                      method=opts.recommend, count=opts.products,
                                      exclude_purchased=opts.exclude_purchased, min_support=opts.min_support)
            if recommender.empty:
                return
            for batch in queries.stream_batches(conn, self.audience(context)):
                chosen = recommender.for_batch(conn, [(row.lower_email, row.customer_id) for row in batch])
                for row in batch:
                    yield self._action(context, row, chosen[row.lower_email])

    def sample_actions(self, context: RuleContext) -> list[PlannedAction]:
        sample = samples.sample_buyer(context.now)
        return [self._action(context, sample, samples.sample_bestsellers(self.options.products))]

    def _action(self, context: RuleContext, row: Any, chosen: list[queries.Bestseller]) -> PlannedAction:
        opts, facts, now = self.options, context.facts, context.now
        key = idempotency_key(self.name, facts.store_key, row.lower_email, row.last_order_id)
        first, last = queries.person_name(row.first_name, row.last_name, row.billing_address)
        last_at: datetime = row.last_order_at
        days = (now - last_at).days
        email_context: dict[str, Any] = {
            "customer": customer_context(row.email, first, last),
            "products": [product.context(facts.currency) for product in chosen],
            "last_order_at": last_at.date().isoformat(),
            "days_since": days,
        }
        payload: dict[str, Any] = {}
        steps: tuple[Step, ...] = (Step.SEND_EMAIL,)
        if opts.discount is not None:
            spec = discount_spec(
                opts.discount, idempotency_key=key, secret=facts.store_key, now=now,
                title="winback back to bestsellers", customer_id=row.customer_id,
            )
            payload["discount"] = spec.model_dump(mode="json")
            email_context["discount"] = template_discount(spec)
            steps = (Step.CREATE_DISCOUNT_CODE, Step.SEND_EMAIL)
        payload["email"] = {"template": "back_to_bestsellers", "context": email_context}
        return PlannedAction(
            rule=self.name,
            idempotency_key=key,
            store_key=facts.store_key,
            email=row.email,
            customer_id=row.customer_id,
            recipient_name=" ".join(part for part in (first, last) if part) or None,
            reason=self._reason(row, last_at, days),
            steps=steps,
            marketing=True,
            payload=payload,
        )

    def _reason(self, row: Any, last_at: datetime, days: int) -> str:
        opts = self.options
        rhythm = ""
        count = int(row.real_orders_count or 0)
        if opts.cadence and count >= opts.cadence_min_orders and row.first_order_at is not None:
            gap = (last_at - row.first_order_at).total_seconds() / 86400 / (count - 1)
            wait = max(opts.cadence_min_days, opts.cadence_cycles * gap)
            rhythm = f"; orders about every {gap:.0f} days ({count} orders), due after {wait:.0f}"
        consent = "subscribed" if row.customer_id else "accepted marketing on their last order"
        return f"last order {last_at.date().isoformat()}, {days} days ago{rhythm}; {consent}; not reminded since"

