"""``replenishment``: remind a buyer to reorder a product when it is about to run out.

For products buyers order again and again (coffee, contact lenses, pet food), the store's own
orders say how long one lasts: :mod:`winback.rules.reorder` learns each product's median reorder
gap from the products that at least ``min_repeat_buyers`` buyers bought again. A subscribed buyer
whose latest real purchase of such a product is about one interval old (``interval_factor`` times
it, ``lead_days`` early), and who has ordered it on no live order since, gets one email linking
back to that product, optionally with "you may also like" products and a one-use code.

One reminder per purchase: the idempotency key is (rule, store, email, product, the anchoring
order's id), so buying the product again re-arms the reminder. A buyer due for several products
gets the one due first; the next once ``min_days_between`` days have passed (and the marketing cap
allows), so running again right after a run proposes nothing new.
Buyers are identified by the email on their orders, as the interval learning does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, model_validator
from sqlalchemy import Connection, and_, case, func, select

from winback.connectors.base import Need
from winback.model import ProductStatus
from winback.rules import queries, samples
from winback.rules.base import PlannedAction, Rule, RuleContext, RuleOptions, Step, idempotency_key
from winback.rules.codes import DiscountOffer, discount_spec, template_discount
from winback.rules.compose import customer_context
from winback.rules.ledger_entries import SETTLED
from winback.rules.queries import Bestseller, at_time, buyer, epoch_days
from winback.rules.recommend import Recommend, Recommender
from winback.rules.reorder import ReorderInterval, intervals_query
from winback.sync import tables

log = logging.getLogger(__name__)

_orders = tables.orders
_lines = tables.order_lines
_products = tables.products
_ledger = tables.action_ledger


class ReplenishmentOptions(RuleOptions):
    """``[rules.replenishment]``."""

    lookback_days: int = Field(default=730, ge=30)
    """Reorder intervals are learned from the real orders of this many days."""
    min_repeat_buyers: int = Field(default=5, ge=2)
    """A product is replenishable once this many different buyers ordered it again."""
    min_interval_days: int = Field(default=7, ge=1)
    max_interval_days: int = Field(default=180, ge=2)
    """The learned interval is clamped to ``[min_interval_days, max_interval_days]``."""
    interval_factor: float = Field(default=1.0, gt=0, le=3)
    """Remind after this many intervals (1.0: when the usual buyer reorders)."""
    lead_days: int = Field(default=3, ge=0)
    """Remind this many days before that, so the email arrives before the product runs out."""
    max_overdue_days: int = Field(default=30, ge=1)
    """Not past this many days after the due date: by then the buyer went elsewhere or stopped."""
    min_days_between: int = Field(default=7, ge=0)
    """A buyer reminded (of any product) this recently is left alone: one reorder email at a time."""
    products: int = Field(default=3, ge=0, le=12)
    """"You may also like" products in the email (0: none)."""
    recommend: Recommend = Recommend.CO_PURCHASE
    """How those are picked: ``co_purchase`` (what buyers of this product also bought) or ``bestsellers``."""
    min_support: int = Field(default=3, ge=1)
    """With ``co_purchase``: common buyers a pair needs; bestsellers fill in when too few pairs qualify."""
    recommend_lookback_days: int = Field(default=365, ge=1)
    discount: DiscountOffer | None = None
    """``{kind = "percentage", value = 10, prefix = "REFILL"}`` attaches a one-use code."""

    @model_validator(mode="after")
    def _bounds(self) -> ReplenishmentOptions:
        if self.max_interval_days <= self.min_interval_days:
            raise ValueError(f"max_interval_days ({self.max_interval_days}) must exceed "
                             f"min_interval_days ({self.min_interval_days})")
        if self.lead_days >= self.min_interval_days * self.interval_factor:
            raise ValueError(f"lead_days ({self.lead_days}) must be shorter than the shortest wait "
                             f"(min_interval_days * interval_factor)")
        return self


class Replenishment(Rule):
    """Subscribed buyers due to reorder a product get a reminder linking back to it."""

    name = "replenishment"
    needs = frozenset({Need.READ_PRODUCTS})
    options_model = ReplenishmentOptions
    description = "remind buyers to reorder a product at its usual reorder interval"

    options: ReplenishmentOptions

    # --- planning --------------------------------------------------------------------------------

    def audience(self, context: RuleContext) -> Any:
        """The SELECT of every (buyer, product) due now, by email then due date (one statement,
        the interval learning of :mod:`winback.rules.reorder` included as a CTE)."""
        opts, now, store_key = self.options, context.now, context.facts.store_key
        learned = intervals_query(store_key, now - timedelta(days=opts.lookback_days),
                                  min_repeat_buyers=opts.min_repeat_buyers).order_by(None).subquery("learned")
        low, high = float(opts.min_interval_days), float(opts.max_interval_days)
        clamped = case((learned.c.median < low, low), (learned.c.median > high, high), else_=learned.c.median)
        iv = select(
            learned.c.pid, learned.c.median, learned.c.buyers, learned.c.gaps,
            (clamped * opts.interval_factor).label("wait"),
        ).cte("iv")
        now_days = epoch_days(at_time(now, "now"))
        longest = opts.max_interval_days * opts.interval_factor + opts.max_overdue_days
        purchases = (
            select(
                _orders.c.lower_email.label("who"), _lines.c.product_id.label("pid"), _orders.c.id.label("oid"),
                _orders.c.ordered_at.label("at"), iv.c.wait, iv.c.median, iv.c.buyers, iv.c.gaps,
                func.row_number().over(
                    partition_by=(_orders.c.lower_email, _lines.c.product_id),
                    order_by=(_orders.c.ordered_at.desc(), _orders.c.id.desc()),
                ).label("rn"),
            )
            .select_from(
                _orders.join(_lines, and_(_lines.c.store_key == _orders.c.store_key, _lines.c.order_id == _orders.c.id))
                .join(iv, iv.c.pid == _lines.c.product_id)
            )
            .where(
                _orders.c.store_key == store_key,
                _orders.c.counts_as_purchase.is_(True),
                _orders.c.lower_email.is_not(None),
                _lines.c.current_quantity > 0,
                _orders.c.ordered_at >= at_time(now - timedelta(days=longest), "bought_since"),
            )
            .subquery("purchases")
        )
        since = now_days - epoch_days(purchases.c.at)
        due_in = purchases.c.wait - opts.lead_days
        latest = (
            select(purchases)
            .where(purchases.c.rn == 1, since >= due_in, since <= purchases.c.wait + opts.max_overdue_days)
            .subquery("due")
        )
        later, later_line = _orders.alias("later"), _lines.alias("later_line")
        bought_since = (
            select(later.c.id)
            .select_from(later.join(later_line, and_(later_line.c.store_key == later.c.store_key,
                                                     later_line.c.order_id == later.c.id)))
            .where(
                later.c.store_key == store_key,
                later.c.lower_email == latest.c.who,
                later.c.ordered_at > latest.c.at,
                later.c.cancelled_at.is_(None),
                later.c.test.is_(False),
                later_line.c.product_id == latest.c.pid,
            )
            .correlate(latest)
            .exists()
        )
        customer = tables.customers.alias("c")
        last_order = tables.orders.alias("lo")
        product = _products.alias("p")
        return (
            select(
                buyer.c.lower_email, buyer.c.email, buyer.c.customer_id, customer.c.first_name, customer.c.last_name,
                last_order.c.billing_address, latest.c.pid, latest.c.oid.label("anchor_order_id"),
                latest.c.at.label("bought_at"), latest.c.wait, latest.c.median, latest.c.buyers, latest.c.gaps,
                product.c.title, product.c.url, product.c.image_url,
                product.c.price, product.c.currency,
            )
            .select_from(
                latest.join(buyer, and_(buyer.c.store_key == store_key, buyer.c.lower_email == latest.c.who))
                .join(product, and_(product.c.store_key == store_key, product.c.id == latest.c.pid))
                .outerjoin(customer, and_(customer.c.store_key == store_key, customer.c.id == buyer.c.customer_id))
                .outerjoin(last_order, and_(last_order.c.store_key == store_key,
                                            last_order.c.id == buyer.c.last_order_id))
            )
            .where(
                product.c.status == ProductStatus.ACTIVE.value,
                ~bought_since,
                ~queries.settled_in_ledger(store_key, self.name,
                                           since=at_time(now - timedelta(days=opts.min_days_between), "spaced")),
                queries.subscribed(),
                queries.not_redacted(customer),
            )
            .order_by(buyer.c.lower_email, (epoch_days(latest.c.at) + latest.c.wait), latest.c.pid)
        )

    def plan(self, context: RuleContext) -> Iterator[PlannedAction]:
        """At most one action per buyer: ``SEND_EMAIL`` (after ``CREATE_DISCOUNT_CODE`` when a
        discount is configured) for the product due first that was not reminded for this
        purchase yet."""
        opts, facts, now = self.options, context.facts, context.now
        with context.store.reading() as conn:
            recommender: Recommender | None = None
            for group in _by_buyer(queries.stream_batches(conn, self.audience(context))):
                settled = self._settled(conn, facts.store_key, group)
                chosen = [fresh[0] for fresh in ([r for r in rows if self._key(facts.store_key, r) not in settled]
                                                 for rows in group) if fresh]
                if recommender is None:
                    recommender = Recommender(
                        conn, facts.store_key, now - timedelta(days=opts.recommend_lookback_days),
                        method=opts.recommend, count=opts.products, min_support=opts.min_support,
                    )
                also = recommender.for_batch(
                    conn, [(row.lower_email, row.customer_id) for row in chosen],
                    {row.lower_email: {row.pid} for row in chosen},
                )
                for row in chosen:
                    yield self._action(context, row, also.get(row.lower_email, []))

    def _key(self, store_key: str, row: Any) -> str:
        return idempotency_key(self.name, store_key, row.lower_email, row.pid, row.anchor_order_id)

    def _settled(self, conn: Connection, store_key: str, group: Sequence[Sequence[Any]]) -> set[str]:
        """Which of the group's candidate keys are settled in the ledger (one query)."""
        keys = sorted({self._key(store_key, row) for rows in group for row in rows})
        query = select(_ledger.c.idempotency_key).where(
            _ledger.c.store_key == store_key, _ledger.c.rule == self.name,
            _ledger.c.idempotency_key.in_(keys), _ledger.c.status.in_(SETTLED),
        )
        return set(conn.execute(query).scalars())

    def sample_actions(self, context: RuleContext) -> list[PlannedAction]:
        sample = samples.sample_buyer(context.now)
        product = samples.sample_bestsellers(1)[0]
        row = _SampleRow(sample, product, context.now - timedelta(days=30), ReorderInterval(product.id, 30.0, 12, 40))
        also = samples.sample_bestsellers(self.options.products + 1)[1:]
        return [self._action(context, row, also)]

    # --- one action ------------------------------------------------------------------------------

    def _action(self, context: RuleContext, row: Any, also: list[Bestseller]) -> PlannedAction:
        opts, facts, now = self.options, context.facts, context.now
        key = self._key(facts.store_key, row)
        first, last = queries.person_name(row.first_name, row.last_name, row.billing_address)
        bought_at: datetime = row.bought_at
        days = (now - bought_at).days
        product = Bestseller(row.pid, row.title, row.url, row.image_url, row.price, row.currency, 0)
        email_context: dict[str, Any] = {
            "customer": customer_context(row.email, first, last),
            "product": product.context(facts.currency),
            "products": [p.context(facts.currency) for p in also],
            "last_purchase_at": bought_at.date().isoformat(),
            "days_since": days,
            "interval_days": round(float(row.wait) / opts.interval_factor),  # the clamped median, as buyers do it
        }
        payload: dict[str, Any] = {"product_id": row.pid, "anchor_order_id": row.anchor_order_id}
        steps: tuple[Step, ...] = (Step.SEND_EMAIL,)
        if opts.discount is not None:
            spec = discount_spec(opts.discount, idempotency_key=key, secret=facts.store_key, now=now,
                                 title="winback replenishment", customer_id=row.customer_id)
            payload["discount"] = spec.model_dump(mode="json")
            email_context["discount"] = template_discount(spec)
            steps = (Step.CREATE_DISCOUNT_CODE, Step.SEND_EMAIL)
        payload["email"] = {"template": "replenishment", "context": email_context}
        return PlannedAction(
            rule=self.name,
            idempotency_key=key,
            store_key=facts.store_key,
            email=row.email,
            customer_id=row.customer_id,
            recipient_name=queries.full_name(first, last),
            reason=self._reason(row, bought_at, days),
            steps=steps,
            marketing=True,
            payload=payload,
        )

    def _reason(self, row: Any, bought_at: datetime, days: int) -> str:
        opts = self.options
        median, wait = float(row.median), float(row.wait)
        clamp = "" if opts.min_interval_days <= median <= opts.max_interval_days else (
            f", clamped to {min(max(median, opts.min_interval_days), opts.max_interval_days):.0f}")
        factor = "" if opts.interval_factor == 1 else f" x {opts.interval_factor:g}"
        consent = "subscribed" if row.customer_id else "accepted marketing on their last order"
        return (
            f"bought {row.title} on {bought_at.date().isoformat()}, {days} days ago; its buyers reorder it about "
            f"every {median:.0f} days (median of {row.gaps} reorders by {row.buyers} buyers{clamp}){factor}; "
            f"due after {max(wait - opts.lead_days, 0):.0f} days; {consent}; "
            f"not reminded for this purchase"
        )


class _SampleRow:
    """The audience row of :meth:`Replenishment.sample_actions` (no store read)."""

    def __init__(self, sample: samples.SampleBuyer, product: Bestseller, bought_at: datetime,
                 interval: ReorderInterval) -> None:
        self.lower_email, self.email, self.customer_id = sample.lower_email, sample.email, sample.customer_id
        self.first_name, self.last_name, self.billing_address = sample.first_name, sample.last_name, None
        self.pid, self.anchor_order_id, self.bought_at = product.id, sample.last_order_id, bought_at
        self.median, self.wait = interval.median_days, interval.median_days
        self.buyers, self.gaps = interval.repeat_buyers, interval.gaps
        self.title, self.url, self.image_url = product.title, product.url, product.image_url
        self.price, self.currency = product.price, product.currency


def _by_buyer(batches: Iterator[Sequence[Any]]) -> Iterator[list[list[Any]]]:
    """Regroup streamed rows (ordered by email) into lists of each buyer's rows, a batch of buyers
    at a time; a buyer whose rows straddle two batches is held back until complete."""
    carry: list[Any] = []
    for batch in batches:
        groups: list[list[Any]] = []
        current = carry
        for row in batch:
            if current and current[0].lower_email != row.lower_email:
                groups.append(current)
                current = []
            current.append(row)
        carry = current
        if groups:
            yield groups
    if carry:
        yield [carry]
