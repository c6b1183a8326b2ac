"""What a row of the action ledger is, apart from the ledger's transactions: the action and step
statuses, :class:`LedgerEntry` (a row as the executor needs it) and :class:`RecordedAction` (a row
read back as the action it recorded). Rules that only test a status import it from here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from winback.rules.base import PlannedAction, SequencePosition, Step
from winback.sync import tables

PLANNED, RUNNING, DONE, FAILED, SKIPPED = tables.LEDGER_STATUSES
SETTLED = (DONE, SKIPPED)
"""Statuses that end an intent for good: never acted on again."""

STARTED, STEP_DONE, STEP_SKIPPED = "started", "done", "skipped"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger row as the executor needs it."""

    id: int
    store_key: str
    rule: str
    idempotency_key: str
    email: str | None
    status: str
    payload: dict[str, Any] = field(default_factory=dict)
    """The intent as recorded: the first plan's payload, updated with what a step was about to
    send (:meth:`Ledger.step_started`'s ``intent``)."""
    step_states: dict[str, str] = field(default_factory=dict)
    created_ref: dict[str, Any] = field(default_factory=dict)
    email_started_at: datetime | None = None
    needs_review: bool = False
    attempts: int = 0
    error: str | None = None

    def step_state(self, step: Step) -> str | None:
        return self.step_states.get(step.value)

    @classmethod
    def from_row(cls, row: Any) -> LedgerEntry:
        return cls(
            id=row["id"],
            store_key=row["store_key"],
            rule=row["rule"],
            idempotency_key=row["idempotency_key"],
            email=row["email"],
            status=row["status"],
            payload=dict(row["payload"] or {}),
            step_states=dict(row["step_states"] or {}),
            created_ref=dict(row["created_ref"] or {}),
            email_started_at=row["email_started_at"],
            needs_review=bool(row["needs_review"]),
            attempts=int(row["attempts"] or 0),
            error=row["error"],
        )


@dataclass(frozen=True, slots=True)
class RecordedAction:
    """An action as the ledger recorded it (its payload, as planned then) and how far it got."""

    action: PlannedAction
    entry: LedgerEntry
    created_at: datetime
    updated_at: datetime


def recorded_action(row: Any) -> RecordedAction:
    """A full ledger row (every column) as the action it recorded."""
    payload = dict(row["payload"] or {})
    spec = payload.get("email")
    customer = spec.get("context", {}).get("customer") if isinstance(spec, dict) else None
    first = customer.get("first_name") if isinstance(customer, dict) else None
    kind = row["kind"] or "none"
    action = PlannedAction(
        rule=row["rule"],
        idempotency_key=row["idempotency_key"],
        store_key=row["store_key"],
        email=row["email"] or row["lower_email"] or "",
        customer_id=row["customer_id"],
        recipient_name=first if isinstance(first, str) else None,
        reason=row["reason"] or "",
        steps=tuple(Step(value) for value in kind.split("+") if value != "none"),
        marketing=bool(row["marketing"]),
        payload=payload,
        holdout=bool(row["holdout"]),
        sequence=None if row["anchor"] is None else SequencePosition(row["anchor"], int(row["sequence_step"] or 0)),
        variant=row["variant"],
    )
    return RecordedAction(action, LedgerEntry.from_row(row), row["created_at"], row["updated_at"])
