"""Carry out one planned action step by step, recording every step in the ledger.

:class:`ActionRunner` claims the action's ledger row, skips it if it is settled or waits for
review, then runs its steps in order. Each platform write is preceded by a committed ``started``
mark and followed by a committed ``done`` with what was created, so after a crash the next run
reconciles instead of repeating (see :mod:`winback.rules.executor` for the guarantees). The
outcome of each action is an :class:`ActionResult`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from winback import errors
from winback.config import EmailSection
from winback.connectors.base import Capabilities, Connector, InviteMode
from winback.model import NewCustomer
from winback.notify.senders import check_recipient
from winback.rules.base import PlannedAction, Step, StoreFacts
from winback.rules.compose import compose_email
from winback.rules.discount_step import CodeNotUsable, create_or_adopt
from winback.rules.tier_step import TierNotSet, set_tier
from winback.rules.ledger import Ledger
from winback.rules.ledger_entries import (
    DONE,
    FAILED,
    SETTLED,
    SKIPPED,
    STARTED,
    STEP_DONE,
    STEP_SKIPPED,
    LedgerEntry,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

STORE_WIDE = (
    errors.AuthenticationError,
    errors.MissingScopeError,
    errors.StoreFrozenError,
    errors.StoreLockedError,
    errors.StoreNotFoundError,
    errors.SenderUnavailableError,
    errors.TemplateLimitError,
)
"""Errors that will fail every other action of the store too: stop and leave them for later."""

_ACCOUNT_MODES = {Step.CREATE_ACCOUNT: InviteMode.CREATE_CUSTOMER, Step.SEND_INVITE: InviteMode.SEND_INVITE}


class Outcome(StrEnum):
    """How one action ended in this run."""

    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    ALREADY_DONE = "already done"
    NEEDS_REVIEW = "needs review"
    WOULD_DO = "would do"
    """Dry run."""
    NOT_RUN = "not run"
    """Left for a later run after a store-wide error."""
    HELD_OUT = "held out"
    """Recorded as a control-group member; nothing sent or created."""


@dataclass(slots=True)
class ActionResult:
    """What happened to one action: its outcome, why, and what the platform created for it."""

    action: PlannedAction
    outcome: Outcome
    detail: str = ""
    created_ref: dict[str, Any] = field(default_factory=dict)


class _Stop(Exception):
    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


def mask_email(email: str) -> str:
    """``alice@example.com`` → ``a***@example.com`` for log lines."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


@dataclass(slots=True)
class ActionRunner:
    """Runs one store's actions, one at a time, against its connector, sender and ledger."""

    ledger: Ledger
    connector: Connector | None
    sender: Any
    settings: EmailSection
    now: datetime
    facts: StoreFacts
    capabilities: Capabilities | None
    dry_run: bool

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def run(self, action: PlannedAction) -> ActionResult:
        if self.dry_run:
            return await self._dry_run(action)
        entry = await self._db(self.ledger.claim, action, self.now)
        if entry.status in SETTLED:
            return ActionResult(action, Outcome.ALREADY_DONE, f"{entry.status} earlier", entry.created_ref)
        if entry.needs_review:
            return ActionResult(action, Outcome.NEEDS_REVIEW, entry.error or "waiting for review", entry.created_ref)
        if action.holdout:
            await self._db(self.ledger.finish, entry.id, SKIPPED, self.now, error=action.reason)
            return ActionResult(action, Outcome.HELD_OUT, action.reason)
        if not action.steps:
            # The rule's way of saying "nothing to do, and here is why" (e.g. new customer accounts).
            await self._db(self.ledger.finish, entry.id, SKIPPED, self.now, error=action.reason)
            return ActionResult(action, Outcome.SKIPPED, action.reason)
        unsupported = self._unsupported(action)
        if unsupported is not None and not (set(action.steps) - unsupported.keys()) - {Step.SEND_EMAIL}:
            reason = next(iter(unsupported.values()))
            await self._db(self.ledger.finish, entry.id, SKIPPED, self.now, error=reason)
            return ActionResult(action, Outcome.SKIPPED, reason)
        unsendable = await self._unsendable(action, entry)
        if unsendable is not None:
            await self._db(self.ledger.finish, entry.id, SKIPPED, self.now, error=unsendable)
            return ActionResult(action, Outcome.SKIPPED, unsendable, entry.created_ref)
        await self._db(self.ledger.start, entry.id, self.now)
        refs = dict(entry.created_ref)
        try:
            for step in action.steps:
                state = entry.step_state(step)
                if state in (STEP_DONE, STEP_SKIPPED):
                    continue
                if unsupported and step in unsupported:
                    await self._db(self.ledger.step_skipped, entry.id, step, self.now)
                    continue
                refs.update(await self._step(step, action, entry, refs, state))
        except _Stop as stop:
            if stop.outcome is Outcome.NEEDS_REVIEW:
                await self._db(self.ledger.finish, entry.id, FAILED, self.now, error=stop.detail, needs_review=True)
            else:
                await self._db(self.ledger.finish, entry.id, stop.outcome.value, self.now, error=stop.detail)
            return ActionResult(action, stop.outcome, stop.detail, refs)
        except STORE_WIDE as exc:
            await self._db(self.ledger.finish, entry.id, FAILED, self.now, error=str(exc))
            raise
        except errors.WinbackError as exc:
            await self._db(self.ledger.finish, entry.id, FAILED, self.now, error=str(exc))
            return ActionResult(action, Outcome.FAILED, str(exc), refs)
        except Exception as exc:  # a bug in one action must not stop the others
            log.exception("unexpected failure in %s for %s", action.rule, mask_email(action.email))
            message = f"unexpected {type(exc).__name__}: {exc}"
            await self._db(self.ledger.finish, entry.id, FAILED, self.now, error=message)
            return ActionResult(action, Outcome.FAILED, message, refs)
        await self._db(self.ledger.finish, entry.id, DONE, self.now)
        return ActionResult(action, Outcome.DONE, action.reason, refs)

    async def _unsendable(self, action: PlannedAction, entry: LedgerEntry | None) -> str | None:
        """Why the action's email can never go out from this sender, asked before any step (so
        nothing is created on the platform for it); ``None`` when it can, or has no email to send.
        A sender that cannot be reached raises (store-wide) rather than answer."""
        if Step.SEND_EMAIL not in action.steps or (
            entry is not None and entry.step_state(Step.SEND_EMAIL) in (STEP_DONE, STEP_SKIPPED)
        ):
            return None
        try:
            await check_recipient(self.sender, action.email)
        except errors.UnsendableAddressError as exc:
            code = entry.created_ref.get("discount_code") if entry is not None else None
            kept = f"; the discount code {code} created for it earlier stays on the store" if code else ""
            return f"not sent: {exc}{kept}"
        return None

    def _unsupported(self, action: PlannedAction) -> dict[Step, str] | None:
        """Steps this store does not need or cannot do, with why; None when all are fine."""
        caps = self.capabilities
        if caps is None:
            return None
        found: dict[Step, str] = {}
        for step, mode in _ACCOUNT_MODES.items():
            if step in action.steps and caps.invite_mode is not mode:
                found[step] = f"not needed: accounts on this store work by {caps.invite_mode.value}"
        if Step.CREATE_DISCOUNT_CODE in action.steps and not caps.discount_codes:
            found[Step.CREATE_DISCOUNT_CODE] = "not supported: this store cannot create discount codes"
        return found or None

    async def _step(
        self, step: Step, action: PlannedAction, entry: LedgerEntry, refs: dict[str, Any], state: str | None
    ) -> dict[str, Any]:
        if step is Step.CREATE_DISCOUNT_CODE:
            return await self._discount(action, entry, state)
        if step is Step.CREATE_ACCOUNT:
            return await self._account(action, entry, state)
        if step is Step.SEND_INVITE:
            return await self._invite(action, entry, refs, state)
        if step is Step.SET_CUSTOMER_TIER:
            try:
                return await set_tier(self, action, entry)
            except TierNotSet as exc:
                raise _Stop(Outcome.SKIPPED, str(exc)) from None
        return await self._email(action, entry, refs, state)

    def _platform(self) -> Connector:
        if self.connector is None:
            raise errors.RuleError("no connector: platform writes need a connected store")
        return self.connector

    async def _platform_write(
        self, step: Step, entry: LedgerEntry, write: Callable[[], Awaitable[dict[str, Any]]],
        intent: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record the intent, act, record the result: ``step`` is marked started (committed, with
        ``intent``, what exactly is asked) before ``write`` runs and done with the ref it returns
        after. A definite refusal by the platform clears the mark (nothing was created); any other
        failure leaves it started, for the next run to reconcile."""
        await self._db(self.ledger.step_started, entry.id, step, self.now, intent)
        try:
            ref = await write()
        except (errors.PlatformRejectedError, errors.NotSupportedError):
            await self._db(self.ledger.step_cleared, entry.id, step, self.now)
            raise
        await self._db(self.ledger.step_done, entry.id, step, self.now, ref)
        return ref

    async def _adopt(self, step: Step, entry: LedgerEntry, ref: dict[str, Any]) -> dict[str, Any]:
        """A step left started by a crash did create its object: record the one found as done."""
        ref = {**ref, "adopted": True}
        await self._db(self.ledger.step_done, entry.id, step, self.now, ref)
        return ref

    async def _discount(self, action: PlannedAction, entry: LedgerEntry, state: str | None) -> dict[str, Any]:
        locked = self.capabilities.customer_locked_codes if self.capabilities is not None else False
        try:
            return await create_or_adopt(self, action, entry, state, customer_locked=locked)
        except CodeNotUsable as exc:
            raise _Stop(Outcome.SKIPPED, str(exc)) from None

    async def _account(self, action: PlannedAction, entry: LedgerEntry, state: str | None) -> dict[str, Any]:
        connector = self._platform()
        spec = NewCustomer.model_validate({"email": action.email, **dict(action.payload.get("account") or {})})
        if state == STARTED:
            found = await connector.find_customer_by_email(spec.email)
            if found is not None:
                return await self._adopt(Step.CREATE_ACCOUNT, entry, {"customer_id": found.id})

        async def create() -> dict[str, Any]:
            customer = await connector.create_customer(spec)
            return {"customer_id": customer.id}

        try:
            return await self._platform_write(Step.CREATE_ACCOUNT, entry, create)
        except errors.CustomerExistsError:
            raise _Stop(Outcome.SKIPPED, "already has an account on the store: nothing created") from None

    async def _invite(
        self, action: PlannedAction, entry: LedgerEntry, refs: dict[str, Any], state: str | None
    ) -> dict[str, Any]:
        if state == STARTED:
            raise _Stop(
                Outcome.NEEDS_REVIEW,
                "an interrupted run may have sent the account invite already: it is not sent twice "
                "automatically; check the customer on the platform",
            )
        connector = self._platform()
        customer_id = str(action.payload.get("customer_id") or refs.get("customer_id") or action.customer_id or "")
        if not customer_id:
            raise _Stop(Outcome.FAILED, "no customer id to send the account invite to")

        async def send() -> dict[str, Any]:
            await connector.send_account_invite(customer_id)
            return {"invite_customer_id": customer_id}

        return await self._platform_write(Step.SEND_INVITE, entry, send)

    async def _email(
        self, action: PlannedAction, entry: LedgerEntry, refs: dict[str, Any], state: str | None
    ) -> dict[str, Any]:
        if entry.email_started_at is not None or state == STARTED:
            raise _Stop(
                Outcome.NEEDS_REVIEW,
                f"an interrupted run handed this email to the sender at {entry.email_started_at or 'an unknown time'} "
                "and may have sent it: it is never resent automatically",
            )
        # Rendering is bounded but may take seconds: off the event loop, so other clients go on.
        message = await asyncio.to_thread(compose_email, action, self.facts, refs, self.settings, self.now)
        # Wait for the sender's turn (rate limit) and its connection *before* the mark, so a kill
        # or an unreachable server while waiting leaves nothing for review.
        ready = getattr(self.sender, "ready", None)
        try:
            if ready is not None:
                await ready()
        except errors.SenderUnavailableError:
            raise  # no email of this run can leave: stop the client once (see STORE_WIDE)
        except errors.EmailNotSentError as exc:
            raise _Stop(Outcome.FAILED, f"email not sent ({exc}); it will be tried again next run") from exc
        await self._db(self.ledger.email_started, entry.id, self.now)
        try:
            message_id = await self.sender.send(message)
        except errors.SenderUnavailableError:
            await self._db(self.ledger.email_not_started, entry.id, self.now)
            raise
        except errors.EmailNotSentError as exc:
            await self._db(self.ledger.email_not_started, entry.id, self.now)
            raise _Stop(Outcome.FAILED, f"email not sent ({exc}); it will be tried again next run") from exc
        except Exception as exc:
            raise _Stop(
                Outcome.NEEDS_REVIEW,
                f"sending failed after the message was handed over ({type(exc).__name__}: {exc}); "
                "it may have gone out, so it is not retried automatically",
            ) from exc
        ref = {"message_id": message_id}
        await self._db(self.ledger.step_done, entry.id, Step.SEND_EMAIL, self.now, ref)
        return ref

    async def _dry_run(self, action: PlannedAction) -> ActionResult:
        entry = await self._db(self.ledger.get, action.store_key, action.idempotency_key)
        if entry is not None and entry.status in SETTLED:
            return ActionResult(action, Outcome.ALREADY_DONE, f"{entry.status} earlier", entry.created_ref)
        if action.holdout:
            return ActionResult(action, Outcome.HELD_OUT, action.reason)
        unsendable = await self._unsendable(action, None)
        if unsendable is not None:
            return ActionResult(action, Outcome.SKIPPED, unsendable)
        refs: dict[str, Any] = {}
        discount = action.payload.get("discount")
        if Step.CREATE_DISCOUNT_CODE in action.steps and isinstance(discount, dict) and discount.get("code"):
            refs["discount_code"] = str(discount["code"])
        try:
            if Step.SEND_EMAIL in action.steps:
                message = await asyncio.to_thread(compose_email, action, self.facts, refs, self.settings, self.now)
                refs["message_id"] = await self.sender.send(message)
        except (errors.SenderUnavailableError, errors.TemplateLimitError):
            raise
        except errors.WinbackError as exc:
            return ActionResult(action, Outcome.FAILED, str(exc), refs)
        return ActionResult(action, Outcome.WOULD_DO, action.reason, refs)
