"""``birthday``: a personal discount code a few days before a customer's birthday, once a year.

Where the platform holds a birth date: Shopify has no birth date field, so merchants keep one in a
customer metafield (set ``birth_date_metafield = "facts.birth_date"`` under ``[store]``; the sync
then reads it with each customer); Ecwid keeps none either, only merchant-defined customer extra
fields (``birth_date_field`` under ``[store]``, the field's key). Synced into
``customers.birth_date`` with an indexed ``birth_md`` (month * 100 + day), so the audience is an
index lookup of the few month-days ahead, not a walk over every customer.

A subscribed customer whose birthday falls within the next ``days_before`` days (today included)
gets one code and one email; the idempotency key holds the year of that birthday, so a run every
day sends once per year, and a run missed on the first day still catches up until the birthday
itself. 29 February birthdays are celebrated on 28 February in common years.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from pydantic import Field
from sqlalchemy import select

from winback.connectors.base import Need
from winback.model import ConsentState
from winback.rules import queries, samples
from winback.rules.base import PlannedAction, Rule, RuleContext, RuleOptions, Step, idempotency_key
from winback.rules.codes import PREFIX_PATTERN, DiscountOffer, discount_spec, template_discount
from winback.rules.compose import customer_context
from winback.sync import tables


class BirthdayGift(DiscountOffer):
    """The birthday code (prefix ``BDAY`` unless given)."""

    prefix: str = Field(default="BDAY", pattern=PREFIX_PATTERN)
    valid_days: int = Field(default=14, ge=1, le=3650)


class BirthdayOptions(RuleOptions):
    """``[rules.birthday]``."""

    discount: BirthdayGift
    """``{kind = "percentage", value = 15}``: the personal one-use code."""
    days_before: int = Field(default=7, ge=0, le=60)
    """Send this many days before the birthday at the earliest (0: on the day)."""
    template: str = Field(default="birthday", pattern=r"^[A-Za-z0-9_.-]+$")
    active_within_days: int | None = Field(default=None, ge=1)
    """Only customers with a real order this recent; ``None``: every subscribed customer with a birth date."""


def upcoming(today: date, days_before: int) -> dict[int, date]:
    """month * 100 + day → the birthday that falls on it within ``days_before`` days of ``today``."""
    out: dict[int, date] = {}
    for offset in range(days_before + 1):
        day = today + timedelta(days=offset)
        out[day.month * 100 + day.day] = day
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            out[229] = day
    return out


class Birthday(Rule):
    """Subscribed customers with a birth date on the platform get a birthday code."""

    name = "birthday"
    needs = frozenset({Need.READ_CUSTOMERS, Need.CREATE_DISCOUNT_CODES, Need.READ_DISCOUNT_CODES})
    options_model = BirthdayOptions
    description = "send subscribed customers a personal code a few days before their birthday"

    options: BirthdayOptions

    def audience(self, context: RuleContext, days: dict[int, date]) -> Any:
        customer = tables.customers.alias("c")
        conditions = [
            customer.c.store_key == context.facts.store_key,
            customer.c.birth_md.in_(sorted(days)),
            customer.c.lower_email.is_not(None),
            customer.c.consent_state == ConsentState.SUBSCRIBED.value,
            customer.c.redacted.is_(False),
            customer.c.deleted_at.is_(None),
        ]
        if self.options.active_within_days is not None:
            since = context.now - timedelta(days=self.options.active_within_days)
            conditions.append(customer.c.last_order_at >= queries.at_time(since, "active_since"))
        return (
            select(customer.c.id, customer.c.email, customer.c.lower_email, customer.c.first_name,
                   customer.c.last_name, customer.c.birth_md)
            .where(*conditions)
            .order_by(customer.c.lower_email, customer.c.id)
        )

    def plan(self, context: RuleContext) -> Iterator[PlannedAction]:
        """One action per customer whose birthday is near, by email: ``CREATE_DISCOUNT_CODE`` then
        ``SEND_EMAIL`` (template ``birthday``)."""
        days = upcoming(self._today(context), self.options.days_before)
        seen: set[str] = set()
        with context.store.reading() as conn:
            for batch in queries.stream_batches(conn, self.audience(context, days)):
                for row in batch:
                    if row.lower_email in seen:  # two customer rows with one email: one gift
                        continue
                    seen.add(row.lower_email)
                    yield self._action(context, row.id, row.email, row.lower_email, row.first_name,
                                       row.last_name, days[row.birth_md])

    def sample_actions(self, context: RuleContext) -> list[PlannedAction]:
        sample = samples.sample_buyer(context.now)
        birthday = self._today(context) + timedelta(days=self.options.days_before)
        return [self._action(context, sample.customer_id or "sample", sample.email, sample.lower_email,
                             sample.first_name, sample.last_name, birthday)]

    def _today(self, context: RuleContext) -> date:
        """Today in the store's time zone (a birthday is a local date)."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            zone = ZoneInfo(context.facts.timezone) if context.facts.timezone else None
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
        return (context.now.astimezone(zone) if zone else context.now).date()

    def _action(self, context: RuleContext, customer_id: str, email: str, lower_email: str,
                first: str | None, last: str | None, birthday: date) -> PlannedAction:
        facts, now = context.facts, context.now
        key = idempotency_key(self.name, facts.store_key, lower_email, birthday.year)
        spec = discount_spec(self.options.discount, idempotency_key=key, secret=facts.store_key, now=now,
                             title="winback birthday gift", customer_id=customer_id)
        days_until = (birthday - self._today(context)).days
        email_context = {
            "customer": customer_context(email, first, last),
            "discount": template_discount(spec),
            "birthday": birthday.isoformat(),
            "days_until": days_until,
        }
        when = "today" if days_until == 0 else f"in {days_until} day{'s' if days_until != 1 else ''}"
        return PlannedAction(
            rule=self.name, idempotency_key=key, store_key=facts.store_key, email=email,
            customer_id=customer_id, recipient_name=" ".join(p for p in (first, last) if p) or None,
            reason=f"birthday {birthday.day} {birthday:%B} {when}; gift for {birthday.year}; subscribed",
            steps=(Step.CREATE_DISCOUNT_CODE, Step.SEND_EMAIL), marketing=True,
            payload={"discount": spec.model_dump(mode="json"),
                     "email": {"template": self.options.template, "context": email_context}},
        )
