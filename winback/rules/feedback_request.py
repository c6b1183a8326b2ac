"""``feedback_request``: a few days after an order arrives, ask "how likely are you to recommend us?"
with eleven one-click links, 0 to 10 (the Net Promoter question).

When an order is due: ``days_after`` days after the platform reports it delivered (Shopify
fulfillments' ``deliveredAt``, Ecwid ``DELIVERED``); for an order only reported shipped, after
``transit_days`` more, unless ``delivered_only`` says to wait for a delivery report. Orders whose
shipment or delivery is older than ``max_age_days`` are never asked about (turning the rule on
does not mail the whole history). Only real orders (not cancelled, not a test, not fully
refunded).

Once per order: the idempotency key is (rule, store, order id). A buyer is asked about one order
at a time (the newest due) and at most once every ``min_days_between`` days; a buyer asked after an
order shipped is not asked about that order again.

Marketing by default: many jurisdictions (e.g. the UK's ICO and Germany's UWG; under CAN-SPAM it
depends on the primary purpose) count a request for a review or rating as direct marketing, so it
needs consent, carries an unsubscribe link and counts toward the cap and quiet hours. Set
``marketing = false`` to send it as a transactional message where the merchant's counsel says it
is one; even then a buyer who unsubscribed is not asked.

The answers land on ``winback serve`` (``[email] public_url``) or on the merchant's ``answer_url``
(see :mod:`winback.notify.feedback_links`); :mod:`winback.sync.feedback` keeps them.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from sqlalchemy import and_, exists, func, not_, or_, select

from winback.model import ConsentState
from winback.rules import queries, samples
from winback.rules.base import PlannedAction, Rule, RuleContext, RuleOptions, Step, idempotency_key
from winback.rules.compose import customer_context
from winback.rules.queries import at_time, buyer
from winback.sync import tables

log = logging.getLogger(__name__)

TEMPLATE = "feedback_request"
_PLACEHOLDERS = {"order", "score", "token"}
LATE_DELIVERY_DAYS = 60
"""Orders shipped longer than ``max_age_days`` plus this ago are never considered, whenever their
delivery was reported (lets the audience use the ``(store_key, fulfilled_at)`` index)."""


class FeedbackRequestOptions(RuleOptions):
    """``[rules.feedback_request]``."""

    days_after: int = Field(default=7, ge=0, le=120)
    """Days after delivery (or after shipping plus ``transit_days``) before asking."""
    transit_days: int = Field(default=5, ge=0, le=60)
    """For an order reported shipped but never delivered: the days it usually takes to arrive."""
    delivered_only: bool = False
    """Ask only about orders the platform reports delivered (Shopify carriers that report it, Ecwid
    orders set to DELIVERED)."""
    max_age_days: int = Field(default=30, ge=1, le=365)
    """Never ask about an order shipped or delivered longer ago than this."""
    min_days_between: int = Field(default=30, ge=0)
    """Ask the same buyer at most once in this many days (0: once per order, whatever the gap)."""
    marketing: bool = True
    """Treat the request as marketing (consent, unsubscribe link, cap, quiet hours): the safe
    default; ``false`` sends it as a transactional message."""
    template: str = Field(default=TEMPLATE, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
    """The email template (``X.subject.txt``, ``X.html``, ``X.txt``; override in ``templates_dir``)."""
    answer_url: str | None = None
    """Where the links point instead of ``winback serve``: an https URL with ``{order}``,
    ``{score}`` and ``{token}``, e.g. ``https://shop.example/nps?o={order}&s={score}&t={token}``;
    the token is signed with ``[email] unsubscribe_secret``."""

    @field_validator("answer_url")
    @classmethod
    def _answer_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        parts = urlsplit(value.replace("{", "").replace("}", ""))
        if parts.scheme != "https" or not parts.hostname or " " in value:
            raise ValueError("answer_url must be an https:// URL without spaces")
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"answer_url has a broken placeholder ({exc})") from None
        if names - _PLACEHOLDERS or not _PLACEHOLDERS <= names:
            raise ValueError("answer_url must use exactly the placeholders {order}, {score} and {token}")
        return value


class FeedbackRequest(Rule):
    """Buyers whose order arrived a few days ago are asked to rate it 0-10."""

    name = "feedback_request"
    options_model = FeedbackRequestOptions
    description = "ask buyers a few days after delivery how likely they are to recommend the store (0-10)"

    options: FeedbackRequestOptions

    def audience(self, context: RuleContext) -> Any:
        """The SELECT of every due order, newest first within each buyer (one statement)."""
        opts, now, store_key = self.options, context.now, context.facts.store_key
        order = tables.orders.alias("o")
        customer = tables.customers.alias("c")
        feedback = tables.feedback
        delivered_due = and_(
            order.c.delivered_at.is_not(None),
            order.c.delivered_at <= at_time(now - timedelta(days=opts.days_after), "delivered_before"),
        )
        due = delivered_due
        if not opts.delivered_only:
            shipped_due = and_(
                order.c.delivered_at.is_(None),
                order.c.fulfilled_at <= at_time(now - timedelta(days=opts.days_after + opts.transit_days), "shipped_before"),
            )
            due = or_(delivered_due, shipped_due)
        anchor = func.coalesce(order.c.delivered_at, order.c.fulfilled_at)
        consent = queries.subscribed() if opts.marketing else not_(_unsubscribed())
        conditions = [
            order.c.store_key == store_key,
            order.c.counts_as_purchase.is_(True),
            # indexed prefilter: a delivery reported more than LATE_DELIVERY_DAYS after shipping is not awaited
            order.c.fulfilled_at >= at_time(now - timedelta(days=opts.max_age_days + LATE_DELIVERY_DAYS), "shipped_after"),
            due,
            anchor >= at_time(now - timedelta(days=opts.max_age_days), "not_before"),
            consent,
            queries.not_redacted(customer),
            ~exists().where(feedback.c.store_key == order.c.store_key, feedback.c.order_id == order.c.id),
            ~queries.settled_in_ledger(store_key, self.name, since=order.c.fulfilled_at),
        ]
        if opts.min_days_between:
            since = at_time(now - timedelta(days=opts.min_days_between), "asked_since")
            conditions.append(~queries.settled_in_ledger(store_key, self.name, since=since))
        joined = order.join(
            buyer, and_(buyer.c.store_key == order.c.store_key, buyer.c.lower_email == order.c.lower_email)
        ).outerjoin(customer, and_(customer.c.store_key == buyer.c.store_key, customer.c.id == buyer.c.customer_id))
        return (
            select(
                buyer.c.lower_email, order.c.email, buyer.c.customer_id, order.c.id.label("order_id"),
                order.c.name.label("order_name"), order.c.ordered_at, order.c.fulfilled_at, order.c.delivered_at,
                customer.c.first_name, customer.c.last_name, order.c.billing_address,
            )
            .select_from(joined)
            .where(*conditions)
            .order_by(buyer.c.lower_email, order.c.ordered_at.desc(), order.c.id.desc())
        )

    def plan(self, context: RuleContext) -> Iterator[PlannedAction]:
        """One ``SEND_EMAIL`` per buyer with a due order (their newest due one), by email."""
        store_key = context.facts.store_key
        last_email: str | None = None
        with context.store.reading() as conn:
            for batch in queries.stream_batches(conn, self.audience(context)):
                rows = []
                for row in batch:
                    if row.lower_email != last_email:
                        rows.append(row)
                    last_email = row.lower_email
                titles = _item_titles(conn, store_key, [row.order_id for row in rows])
                for row in rows:
                    yield self._action(context, row, titles.get(row.order_id, []))

    def sample_actions(self, context: RuleContext) -> list[PlannedAction]:
        sample = samples.sample_buyer(context.now)
        row = _SampleOrder(
            lower_email=sample.lower_email, email=sample.email, customer_id=sample.customer_id,
            order_id=sample.last_order_id, order_name="#1001", ordered_at=context.now - timedelta(days=12),
            fulfilled_at=context.now - timedelta(days=11), delivered_at=context.now - timedelta(days=8),
            first_name=sample.first_name, last_name=sample.last_name, billing_address=None,
        )
        return [self._action(context, row, ["Sample product 1", "Sample product 2"])]

    def _action(self, context: RuleContext, row: Any, titles: Sequence[str]) -> PlannedAction:
        opts, facts, now = self.options, context.facts, context.now
        first, last = queries.person_name(row.first_name, row.last_name, row.billing_address)
        email_context: dict[str, Any] = {
            "customer": customer_context(row.email, first, last),
            "order": {
                "id": row.order_id,
                "name": row.order_name or f"#{row.order_id}",
                "ordered_at": row.ordered_at.date().isoformat(),
                "delivered": row.delivered_at is not None,
                "lines": list(titles),
            },
            "marketing": opts.marketing,
        }
        return PlannedAction(
            rule=self.name,
            idempotency_key=idempotency_key(self.name, facts.store_key, row.order_id),
            store_key=facts.store_key,
            email=row.email,
            customer_id=row.customer_id,
            recipient_name=queries.full_name(first, last),
            reason=self._reason(row, now),
            steps=(Step.SEND_EMAIL,),
            marketing=opts.marketing,
            payload={
                "email": {"template": opts.template, "context": email_context},
                "feedback": {"order_id": row.order_id, "answer_url": opts.answer_url},
            },
        )

    def _reason(self, row: Any, now: Any) -> str:
        name = row.order_name or f"#{row.order_id}"
        if row.delivered_at is not None:
            when = f"delivered {row.delivered_at.date().isoformat()}, {(now - row.delivered_at).days} days ago"
        else:
            when = (f"shipped {row.fulfilled_at.date().isoformat()}, {(now - row.fulfilled_at).days} days ago "
                    f"(no delivery report; {self.options.transit_days} transit days allowed)")
        kind = "marketing: subscribed" if self.options.marketing else "transactional"
        return f"order {name} {when}; not asked about it yet; {kind}"


def _unsubscribed() -> Any:
    """A customer row with the buyer's email said no to marketing (respected in transactional mode too)."""
    customers = tables.customers
    return exists().where(
        customers.c.store_key == buyer.c.store_key,
        customers.c.lower_email == buyer.c.lower_email,
        customers.c.consent_state == ConsentState.UNSUBSCRIBED.value,
    )


def _item_titles(conn: Any, store_key: str, order_ids: Sequence[str], limit: int = 3) -> dict[str, list[str]]:
    """Up to ``limit`` line titles per order, in order position (one query per batch)."""
    if not order_ids:
        return {}
    lines = tables.order_lines
    rows = conn.execute(
        select(lines.c.order_id, lines.c.title)
        .where(lines.c.store_key == store_key, lines.c.order_id.in_(list(order_ids)))
        .order_by(lines.c.order_id, lines.c.position)
    )
    found: dict[str, list[str]] = {}
    for order_id, title in rows:
        kept = found.setdefault(order_id, [])
        if len(kept) < limit and title:
            kept.append(title)
    return found


class _SampleOrder:
    """A due order of the made-up buyer of :mod:`winback.rules.samples` (the audience's columns)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)
