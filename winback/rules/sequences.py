"""Sequences: a rule's message in steps that stop the moment the customer orders.

A rule with ``steps`` (``[[rules.<name>.steps]]``) sends its first message as it always did, then
follow-ups, each ``after_days`` after the previous one went out, to customers who have not ordered
since. Every step is its own ledger action with its own idempotency key (:func:`step_key`: the
rule, the address, the sequence's *anchor* and the step's index), and the ledger records the anchor
and the index (``action_ledger.anchor``, ``sequence_step``). Where each customer stands is read from
the ledger in one statement (:func:`follow_ups`), never step by step in Python:

* step ``k + 1`` is due when the ledger row of step ``k`` for the *current* anchor is ``done``,
  was not held out, no later step exists for that anchor, and ``max(after_days, min_gap_days)``
  days have passed since it finished;
* a follow-up row that is not settled (planned, running, failed, waiting for review) is proposed
  again under the same key, so a killed run neither repeats a step (the key exists) nor skips
  one (the next step waits for this one to be ``done``);
* the anchor is what the rule's intent hangs on (``back_to_bestsellers``: the last real order's
  id). A real order moves the anchor, so it ends the sequence: the rows of the old anchor no
  longer match and the customer's next lapse starts at step 1 again. An order placed since the
  previous step that is not (yet) real, e.g. awaiting payment or refunded, pauses the follow-ups
  while it stands (:func:`ordered_after`); one placed before the sequence began does not;
* a step that was skipped (held out, address unsendable, code unusable) ends the sequence for that
  anchor: a follow-up goes only to someone who got the previous message. The holdout is drawn once,
  at the first step (:mod:`winback.rules.holdout`).

Each step still passes every guard rail of the planner on its own (consent, suppression, quiet
hours, the marketing cap, the per-run maximum). The first step keeps the key of the rule's single
message (no index in it), so turning ``steps`` on continues the lapses already reminded rather
than reminding them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, and_, case, exists, false, not_, or_

from winback.rules.base import RuleOptions, idempotency_key
from winback.rules.codes import DiscountOffer
from winback.rules.ledger_entries import DONE, SETTLED
from winback.rules.queries import at_time, buyer
from winback.sync import tables

MAX_STEPS = 10
DEFAULT_MIN_GAP_DAYS = 3

_orders = tables.orders


class StepOptions(BaseModel):
    """One ``[[rules.<name>.steps]]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    after_days: int | None = Field(default=None, ge=1)
    """First step: days since the lapse began (the rule's own timing when left out). Later
    steps: days since the previous step was sent (required)."""
    template: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,100}$")
    """The email template; the rule's default for that step when left out."""
    discount: DiscountOffer | None = None
    """A one-use code for this step only (``{kind = "percentage", value = 10}``)."""


class SequenceOptions(RuleOptions):
    """Options every rule with steps accepts (its options model derives from this one)."""

    steps: tuple[StepOptions, ...] = Field(default=(), max_length=MAX_STEPS)
    """Without steps the rule sends one message, as it always did."""
    min_gap_days: int = Field(default=DEFAULT_MIN_GAP_DAYS, ge=0)
    """Two steps never go out closer than this, whatever their ``after_days``."""

    @model_validator(mode="after")
    def _follow_ups_say_when(self) -> SequenceOptions:
        for number, step in enumerate(self.steps[1:], start=2):
            if step.after_days is None:
                raise ValueError(f"steps[{number - 1}] (step {number}) needs after_days: days after step {number - 1}")
        return self

    @property
    def step_count(self) -> int:
        return max(1, len(self.steps))

    def step(self, index: int) -> StepOptions | None:
        return self.steps[index] if index < len(self.steps) else None

    def wait_days(self, index: int) -> int:
        """Days step ``index`` (1 or more) waits after the previous step was sent."""
        step = self.steps[index]
        return max(step.after_days or 0, self.min_gap_days)


def step_key(rule: str, store_key: str, email: str, anchor: str, index: int) -> str:
    """The idempotency key of step ``index`` (0-based) of ``anchor``'s sequence for ``email``.

    Step 0 keeps the key of a rule's single message, so enabling steps never repeats it.
    """
    if index == 0:
        return idempotency_key(rule, store_key, email, anchor)
    return idempotency_key(rule, store_key, email, anchor, f"step {index}")


@dataclass(frozen=True, slots=True)
class FollowUps:
    """The pieces of a follow-up audience: join ``buyer`` to :attr:`ledger` on :attr:`onclause`
    and filter on :attr:`where`; :attr:`next_step` is the 0-based step to send."""

    ledger: Any
    onclause: ColumnElement[bool]
    where: ColumnElement[bool]
    next_step: ColumnElement[int]


def follow_ups(
    store_key: str, rule: str, options: SequenceOptions, now: datetime, anchor: ColumnElement[Any]
) -> FollowUps:
    """Who is due for a follow-up now, as SQL correlated with :data:`~winback.rules.queries.buyer`
    (see the module docstring). ``anchor`` is the buyer's current anchor (a column)."""
    seq = tables.action_ledger.alias("seq")
    later = tables.action_ledger.alias("seq_later")
    onclause = and_(
        seq.c.store_key == store_key,
        seq.c.rule == rule,
        seq.c.lower_email == buyer.c.lower_email,
        seq.c.anchor == anchor,
    )
    newest = not_(
        exists().where(
            later.c.store_key == seq.c.store_key,
            later.c.rule == seq.c.rule,
            later.c.lower_email == seq.c.lower_email,
            later.c.anchor == seq.c.anchor,
            later.c.sequence_step > seq.c.sequence_step,
        )
    )
    due = [
        and_(seq.c.sequence_step == index - 1,
             seq.c.finished_at <= at_time(now - timedelta(days=options.wait_days(index)), f"step_{index}_after"))
        for index in range(1, options.step_count)
    ]
    sent_and_waited = and_(seq.c.status == DONE, seq.c.holdout.is_(False), or_(*due)) if due else false()
    unfinished = and_(seq.c.status.not_in(SETTLED), seq.c.sequence_step.between(1, options.step_count - 1))
    where = and_(seq.c.sequence_step.is_not(None), newest, or_(sent_and_waited, unfinished))
    next_step = case((seq.c.status.in_(SETTLED), seq.c.sequence_step + 1), else_=seq.c.sequence_step)
    return FollowUps(seq, onclause, where, next_step)


def ordered_after(store_key: str, moment: ColumnElement[Any]) -> ColumnElement[bool]:
    """The buyer placed an order that is not cancelled and not a test after ``moment`` (a column):
    real or not. Cheap for most buyers: only those with orders that are not real are looked up."""
    live = and_(
        _orders.c.store_key == store_key,
        _orders.c.cancelled_at.is_(None),
        _orders.c.test.is_(False),
        _orders.c.ordered_at > moment,
    )
    return or_(
        buyer.c.last_order_at > moment,
        and_(
            buyer.c.orders_count > buyer.c.real_orders_count,
            or_(
                exists().where(live, _orders.c.lower_email == buyer.c.lower_email),
                and_(buyer.c.customer_id.is_not(None), exists().where(live, _orders.c.customer_id == buyer.c.customer_id)),
            ),
        ),
    )


def step_label(index: int, count: int) -> str:
    """``"step 2 of 3"`` (1-based for people)."""
    return f"step {index + 1} of {count}"


def follow_up_reason(index: int, options: SequenceOptions, status: str, finished_at: datetime | None,
                     now: datetime) -> str:
    """Why step ``index`` (1 or more) is planned, for ``winback plan``."""
    label = step_label(index, options.step_count)
    if status not in SETTLED:
        return f"{label}: not finished earlier ({status}), continued under the same key"
    wait = options.wait_days(index)
    if finished_at is None:
        return f"{label}: step {index} sent, due after {wait} days"
    days = (now - finished_at).days
    return (f"{label}: step {index} sent {finished_at.date().isoformat()}, {days} days ago (due after {wait}); "
            "no order since")

