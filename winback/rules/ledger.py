"""The action ledger: every side effect is recorded before it happens and after it succeeded.

One row per (store, idempotency key) — the unique constraint makes "at most once per intent" a
database guarantee. The executor's protocol, which a crash at any point leaves recoverable:

1. :meth:`Ledger.claim` inserts the action as ``planned`` (or loads the existing row) and commits;
2. :meth:`Ledger.start` marks it ``running`` (one more attempt);
3. per step: :meth:`Ledger.step_started` (commit) → the platform call → :meth:`Ledger.step_done`
   with what was created (commit). For an email, :meth:`Ledger.email_started` is committed just
   before the message is handed to the sender;
4. :meth:`Ledger.finish` records ``done``, ``failed`` or ``skipped``.

A step left ``started`` by a crash is reconciled by the executor (look the object up on the
platform); an email left started is never resent automatically: the row gets ``needs_review``.

Rows are matched to buyers by ``lower_email`` (:func:`winback.model.normalize_email`). The
suppression list lives beside it in :mod:`winback.rules.suppressions`; what a row is (statuses,
:class:`LedgerEntry`, :class:`RecordedAction`) in :mod:`winback.rules.ledger_entries`.
"""


from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, cast, func, select, update

from winback.model import normalize_email
from winback.rules.base import PlannedAction, Step
from winback.rules.ledger_entries import (
    DONE,
    FAILED,
    PLANNED,
    RUNNING,
    SETTLED,
    SKIPPED,
    STARTED,
    STEP_DONE,
    STEP_SKIPPED,
    LedgerEntry,
    RecordedAction,
    recorded_action,
)
from winback.sync import LocalStore, tables
from winback.sync.derive import chunks
from winback.sync.store import db_errors
from winback.sync.writes import dialect_insert

_ledger = tables.action_ledger

_db_errors = db_errors("the action ledger")


class Ledger:
    """The action ledger of one database. Each method is one transaction."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store

    # --- one action --------------------------------------------------------------------------

    @_db_errors
    def claim(self, action: PlannedAction, now: datetime) -> LedgerEntry:
        """Record ``action`` as planned unless its key exists; return the row either way."""
        values = {
            "store_key": action.store_key,
            "rule": action.rule,
            "idempotency_key": action.idempotency_key,
            "customer_id": action.customer_id,
            "email": action.email,
            "lower_email": normalize_email(action.email),
            "kind": "+".join(step.value for step in action.steps) or "none",
            "status": PLANNED,
            "reason": action.reason,
            "payload": dict(action.payload),
            "step_states": {},
            "created_ref": {},
            "marketing": action.marketing,
            "holdout": action.holdout,
            "anchor": None if action.sequence is None else action.sequence.anchor,
            "sequence_step": None if action.sequence is None else action.sequence.index,
            "variant": action.variant,
            "created_at": now,
            "updated_at": now,
        }
        with self.store.writing() as conn:
            conn.execute(
                dialect_insert(conn, _ledger).values(values).on_conflict_do_nothing(
                    index_elements=["store_key", "idempotency_key"]
                )
            )
            row = conn.execute(
                select(_ledger).where(
                    _ledger.c.store_key == action.store_key, _ledger.c.idempotency_key == action.idempotency_key
                )
            ).mappings().one()
        return LedgerEntry.from_row(row)

    @_db_errors
    def get(self, store_key: str, idempotency_key: str) -> LedgerEntry | None:
        with self.store.reading() as conn:
            row = conn.execute(
                select(_ledger).where(_ledger.c.store_key == store_key, _ledger.c.idempotency_key == idempotency_key)
            ).mappings().first()
        return None if row is None else LedgerEntry.from_row(row)

    @_db_errors
    def start(self, entry_id: int, now: datetime) -> None:
        """``running``, one more attempt; the previous attempt's error is kept until it ends."""
        self._update(entry_id, now, status=RUNNING, attempts=_ledger.c.attempts + 1)

    @_db_errors
    def step_started(self, entry_id: int, step: Step, now: datetime, intent: dict[str, Any] | None = None) -> None:
        """``intent`` (merged into the payload in the same commit) records exactly what the step
        is about to ask of the platform, for the next run to reconcile against after a crash."""
        self._set_step(entry_id, step, STARTED, None, now, intent)

    @_db_errors
    def step_done(self, entry_id: int, step: Step, now: datetime, ref: dict[str, Any] | None = None) -> None:
        """The step succeeded; ``ref`` (what the platform created) is merged into ``created_ref``."""
        self._set_step(entry_id, step, STEP_DONE, ref, now)

    @_db_errors
    def step_skipped(self, entry_id: int, step: Step, now: datetime) -> None:
        self._set_step(entry_id, step, STEP_SKIPPED, None, now)

    @_db_errors
    def step_cleared(self, entry_id: int, step: Step, now: datetime) -> None:
        """The platform definitely refused the step: forget that it was started."""
        self._set_step(entry_id, step, None, None, now)

    @_db_errors
    def email_not_started(self, entry_id: int, now: datetime) -> None:
        """The sender proved the message did not leave (:class:`~winback.errors.EmailNotSentError`):
        forget the mark so a later run may send it."""
        with self.store.writing() as conn:
            states = self._states(conn, entry_id)
            states.pop(Step.SEND_EMAIL.value, None)
            conn.execute(
                update(_ledger).where(_ledger.c.id == entry_id).values(
                    email_started_at=None, step_states=states, updated_at=now
                )
            )

    @_db_errors
    def email_started(self, entry_id: int, now: datetime) -> None:
        """Committed right before the message goes to the sender; cleared only by
        :meth:`email_not_started` when the sender proves nothing left."""
        with self.store.writing() as conn:
            states = self._states(conn, entry_id)
            states[Step.SEND_EMAIL.value] = STARTED
            conn.execute(
                update(_ledger).where(_ledger.c.id == entry_id).values(
                    email_started_at=now, step_states=states, updated_at=now
                )
            )

    @_db_errors
    def finish(
        self, entry_id: int, status: str, now: datetime, *, error: str | None = None, needs_review: bool | None = None
    ) -> None:
        if status not in (DONE, FAILED, SKIPPED):
            raise ValueError(f"cannot finish an action as {status!r}")
        values: dict[str, Any] = {"status": status, "error": error}
        if status != FAILED:
            values["finished_at"] = now
        if needs_review is not None:
            values["needs_review"] = needs_review
        self._update(entry_id, now, **values)

    @_db_errors
    def flag_for_review(self, entry_id: int, now: datetime, why: str) -> None:
        """Stop acting on this row until a person looks at it (``winback status`` lists it)."""
        self._update(entry_id, now, needs_review=True, error=why)

    def _update(self, entry_id: int, now: datetime, **values: Any) -> None:
        with self.store.writing() as conn:
            conn.execute(update(_ledger).where(_ledger.c.id == entry_id).values(updated_at=now, **values))

    def _states(self, conn: Connection, entry_id: int) -> dict[str, str]:
        return dict(conn.execute(select(_ledger.c.step_states).where(_ledger.c.id == entry_id)).scalar_one() or {})

    def _set_step(
        self, entry_id: int, step: Step, state: str | None, ref: dict[str, Any] | None, now: datetime,
        intent: dict[str, Any] | None = None,
    ) -> None:
        with self.store.writing() as conn:
            row = conn.execute(
                select(_ledger.c.step_states, _ledger.c.created_ref, _ledger.c.payload).where(_ledger.c.id == entry_id)
            ).one()
            states = dict(row.step_states or {})
            if state is None:
                states.pop(step.value, None)
            else:
                states[step.value] = state
            values: dict[str, Any] = {"step_states": states, "updated_at": now}
            if ref:
                values["created_ref"] = {**(row.created_ref or {}), **ref}
            if intent:
                values["payload"] = {**(row.payload or {}), **intent}
            conn.execute(update(_ledger).where(_ledger.c.id == entry_id).values(**values))

    # --- set-based questions for the planner -------------------------------------------------

    @_db_errors
    def recorded(
        self, store_key: str, rule: str, email: str, *, idempotency_key: str | None = None
    ) -> RecordedAction | None:
        """The newest row of ``rule`` for ``email`` (any status; only ``idempotency_key``'s when
        given), as recorded; ``None`` if there is none."""
        query = select(_ledger).where(
            _ledger.c.store_key == store_key, _ledger.c.rule == rule, _ledger.c.lower_email == normalize_email(email)
        )
        if idempotency_key is not None:
            query = query.where(_ledger.c.idempotency_key == idempotency_key)
        with self.store.reading() as conn:
            row = conn.execute(
                query.order_by(_ledger.c.created_at.desc(), _ledger.c.id.desc()).limit(1)
            ).mappings().first()
        return None if row is None else recorded_action(row)

    @_db_errors
    def existing(self, store_key: str, keys: Iterable[str]) -> dict[str, LedgerEntry]:
        """The ledger rows among ``keys`` (one query per 500 keys)."""
        found: dict[str, LedgerEntry] = {}
        with self.store.reading() as conn:
            for chunk in chunks(list(dict.fromkeys(keys)), 500):
                query = select(_ledger).where(_ledger.c.store_key == store_key, _ledger.c.idempotency_key.in_(chunk))
                for row in conn.execute(query).mappings():
                    found[row["idempotency_key"]] = LedgerEntry.from_row(row)
        return found

    def marketing_emails_since(self, store_key: str, emails: Iterable[str], since: datetime) -> dict[str, int]:
        """Marketing emails started (sent, or interrupted mid-send) to each address since ``since``."""
        return {email: len(times) for email, times in self.marketing_email_times(store_key, emails, since).items()}

    @_db_errors
    def marketing_email_times(self, store_key: str, emails: Iterable[str], since: datetime) -> dict[str, list[datetime]]:
        """When marketing emails were started to each address since ``since``, oldest first
        (what :meth:`marketing_emails_since` counts)."""
        times: dict[str, list[datetime]] = {}
        with self.store.reading() as conn:
            for chunk in chunks({key for key in map(normalize_email, emails) if key}, 500):
                query = (
                    select(_ledger.c.lower_email, _ledger.c.email_started_at)
                    .where(
                        _ledger.c.store_key == store_key,
                        _ledger.c.lower_email.in_(chunk),
                        _ledger.c.email_started_at >= since,
                        _ledger.c.marketing.is_(True),
                    )
                    .order_by(_ledger.c.email_started_at)
                )
                for email, started in conn.execute(query):
                    times.setdefault(email, []).append(started)
        return times

    # --- reporting ---------------------------------------------------------------------------

    @_db_errors
    def counts(self, store_key: str) -> list[dict[str, Any]]:
        """Rows per (rule, status), plus how many of them need review."""
        query = (
            select(
                _ledger.c.rule,
                _ledger.c.status,
                func.count().label("count"),
                func.sum(cast(_ledger.c.needs_review, Integer)).label("needs_review"),
            )
            .where(_ledger.c.store_key == store_key)
            .group_by(_ledger.c.rule, _ledger.c.status)
            .order_by(_ledger.c.rule, _ledger.c.status)
        )
        with self.store.reading() as conn:
            return [
                {"rule": r.rule, "status": r.status, "count": int(r.count), "needs_review": int(r.needs_review or 0)}
                for r in conn.execute(query)
            ]

    @_db_errors
    def last_failure(self, store_key: str) -> dict[str, Any] | None:
        """The most recently failed action (rule, email, error, when) and how many are failed now,
        so ``winback status`` never shows "no error" after a run whose actions all failed."""
        failed = (_ledger.c.store_key == store_key) & (_ledger.c.status == FAILED)
        with self.store.reading() as conn:
            row = conn.execute(
                select(_ledger.c.rule, _ledger.c.email, _ledger.c.error, _ledger.c.updated_at)
                .where(failed)
                .order_by(_ledger.c.updated_at.desc(), _ledger.c.id.desc())
                .limit(1)
            ).mappings().first()
            if row is None:
                return None
            count = conn.execute(select(func.count()).select_from(_ledger).where(failed)).scalar_one()
        return {**dict(row), "count": int(count)}

    @_db_errors
    def needing_review(self, store_key: str) -> list[dict[str, Any]]:
        query = (
            select(
                _ledger.c.id, _ledger.c.rule, _ledger.c.email, _ledger.c.status, _ledger.c.idempotency_key,
                _ledger.c.error, _ledger.c.email_started_at, _ledger.c.updated_at,
            )
            .where(_ledger.c.store_key == store_key, _ledger.c.needs_review.is_(True))
            .order_by(_ledger.c.id)
        )
        with self.store.reading() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    @_db_errors
    def settle_review(self, store_key: str, idempotency_key: str, *, delivered: bool, now: datetime) -> bool:
        """A person decided an action held for review (an email or invite interrupted mid-send).

        ``delivered=True``: it did reach the customer, so the action is done. ``delivered=False``:
        it did not, so the interrupted send marks are cleared and the next run sends it once.
        Returns False when there is no such action waiting for review.
        """
        with self.store.writing() as conn:
            row = conn.execute(
                select(_ledger.c.id, _ledger.c.step_states).where(
                    _ledger.c.store_key == store_key,
                    _ledger.c.idempotency_key == idempotency_key,
                    _ledger.c.needs_review.is_(True),
                )
            ).first()
            if row is None:
                return False
            states = dict(row.step_states or {})
            if delivered:
                for step in (Step.SEND_EMAIL.value, Step.SEND_INVITE.value):
                    if states.get(step) == STARTED:
                        states[step] = STEP_DONE
                values: dict[str, Any] = {
                    "status": DONE, "needs_review": False, "finished_at": now, "error": None, "step_states": states,
                }
            else:
                for step in (Step.SEND_EMAIL.value, Step.SEND_INVITE.value):
                    if states.get(step) == STARTED:
                        states.pop(step)
                values = {"needs_review": False, "email_started_at": None, "step_states": states}
            conn.execute(update(_ledger).where(_ledger.c.id == row.id).values(updated_at=now, **values))
        return True



__all__ = [
    "DONE",
    "FAILED",
    "PLANNED",
    "RUNNING",
    "SETTLED",
    "SKIPPED",
    "STARTED",
    "STEP_DONE",
    "STEP_SKIPPED",
    "Ledger",
    "LedgerEntry",
    "RecordedAction",
]
