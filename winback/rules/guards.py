"""Guard rails between what rules propose and what the executor does.

Each guard is set-based over the planned actions (one query per 500 addresses at most), never a
loop over the store's customers. Rules already filter their audience; these checks are the safety
net that holds whatever slipped through, with a reason the merchant can read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from winback.errors import RuleError
from winback.model import ConsentState, normalize_email
from winback.rules import queries
from winback.rules.base import PlannedAction
from winback.sync import LocalStore, tables
from winback.sync.derive import chunks


class HoldReason(StrEnum):
    """Why a planned action is not run now."""

    ALREADY_DONE = "already done"
    NEEDS_REVIEW = "needs review"
    SUPPRESSED = "suppressed"
    NO_CONSENT = "no consent"
    QUIET_HOURS = "quiet hours"
    CAPPED = "capped"
    OVER_LIMIT = "over limit"
    UNREACHABLE = "unreachable"
    """The platform credentials cannot reach what the action needs (a missing scope)."""


DEFERRED = frozenset({HoldReason.QUIET_HOURS, HoldReason.CAPPED, HoldReason.OVER_LIMIT})
"""Held for now; a later run may do them. The others stay held until something changes."""


@dataclass(frozen=True, slots=True)
class HeldAction:
    action: PlannedAction
    reason: HoldReason
    detail: str = ""
    until: datetime | None = None
    """When a run may do it at the earliest, when the guard knows (quiet hours' end, the cap's
    window moving past an earlier email); ``None`` for the rest."""


@dataclass(frozen=True, slots=True)
class Limits:
    """The guard rails' settings (a client's ``[limits]`` table; see ``LimitsSection``)."""

    marketing_cap_days: int = 7
    marketing_cap_count: int = 1
    quiet_hours: str | None = None
    max_actions_per_run: int = 500
    suppress: tuple[str, ...] = ()
    timezone: str | None = None

    @classmethod
    def from_section(cls, section: Any) -> Limits:
        """From a ``LimitsSection`` (or anything with the same attributes)."""
        return cls(**{name: getattr(section, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window of local time, possibly across midnight (``21:00-08:00``)."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        try:
            first, second = text.replace(" ", "").split("-")
            start, end = (time.fromisoformat(part if len(part) == 5 else "0" + part) for part in (first, second))
        except ValueError:
            raise RuleError(f"quiet hours {text!r} must look like '21:00-08:00'") from None
        return cls(start, end)

    def contains(self, moment: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


def store_zone(name: str | None) -> ZoneInfo | timezone:
    """The zone quiet hours are read in: the override, else the store's, else UTC."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def in_quiet_hours(limits: Limits, store_timezone: str | None, now: datetime) -> bool:
    if not limits.quiet_hours:
        return False
    local = now.astimezone(store_zone(limits.timezone or store_timezone))
    return QuietHours.parse(limits.quiet_hours).contains(local.time().replace(tzinfo=None))


def quiet_hours_end(limits: Limits, store_timezone: str | None, now: datetime) -> datetime | None:
    """When the quiet hours ``now`` falls in end (UTC); ``None`` when there are none."""
    if not limits.quiet_hours:
        return None
    window = QuietHours.parse(limits.quiet_hours)
    local = now.astimezone(store_zone(limits.timezone or store_timezone))
    end = local.replace(hour=window.end.hour, minute=window.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def subscribed_emails(store: LocalStore, store_key: str, emails: Iterable[str]) -> set[str]:
    """The addresses among ``emails`` that may get marketing mail, as the rules define it
    (:func:`winback.rules.queries.subscribed`): a live customer row with the address is SUBSCRIBED
    and none is UNSUBSCRIBED; or there is no customer row at all and no order from a customer
    account (a true guest) and the buyer ticked "accept marketing" on their newest order. The planner re-checks so no rule can bypass
    consent."""
    customers = tables.customers
    state: dict[str, set[str]] = {}
    guests: set[str] = set()
    with store.reading() as conn:
        for chunk in chunks({key for key in map(normalize_email, emails) if key}, 500):
            query = select(customers.c.lower_email, customers.c.consent_state).where(
                customers.c.store_key == store_key,
                customers.c.lower_email.in_(chunk),
                customers.c.deleted_at.is_(None),
                customers.c.redacted.is_(False),
            )
            for email, consent in conn.execute(query):
                state.setdefault(email, set()).add(consent)
            guest_query = select(queries.buyer.c.lower_email).where(
                queries.buyer.c.store_key == store_key,
                queries.buyer.c.lower_email.in_(chunk),
                queries.buyer.c.customer_id.is_(None),
                queries.subscribed(),
            )
            guests.update(email for (email,) in conn.execute(guest_query))
    registered = {
        email
        for email, states in state.items()
        if ConsentState.SUBSCRIBED.value in states and ConsentState.UNSUBSCRIBED.value not in states
    }
    # A guest only counts while no customer row exists for the address (any row's consent wins).
    return registered | (guests - state.keys())
