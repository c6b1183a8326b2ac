"""Carry out a :class:`~winback.rules.planner.Plan`, recording every step in the ledger.

For each action: claim its ledger row (insert ``planned`` or load the existing one, committed),
skip it if it is settled or waits for review, mark it ``running``, then run its steps in order.
Each platform write is preceded by a committed ``started`` mark and followed by a committed
``done`` with what was created; so after a crash at any point the next run knows what may have
happened and reconciles instead of repeating:

* a discount code or account left ``started`` is looked up on the platform and adopted if found;
* an invite or email left ``started`` is never sent again automatically: the row gets
  ``needs_review`` and ``winback status`` lists it.

A definite refusal by the platform clears the ``started`` mark (nothing was created); an
ambiguous failure (:class:`~winback.connectors.http.AmbiguousWriteError`, a crash) keeps it.
One failing action never stops the others; an error that concerns the whole store (token
rejected, store frozen) stops the rest of that store's actions, which stay for the next run.

Dry run (``dry_run=True``) touches neither the platform nor the ledger: codes are shown as they
would be created and emails go to the given sender (``winback run --dry-run`` passes an outbox in
a separate folder). Nothing recorded means the next real run does everything for real.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from winback import errors
from winback.config import EmailSection
from winback.connectors.base import Capabilities, Connector, InviteMode
from winback.model import DiscountCodeSpec, NewCustomer
from winback.rules.base import PlannedAction, Step, StoreFacts
from winback.rules.compose import compose_email
from winback.rules.guards import HeldAction
from winback.rules.ledger import (
    DONE,
    FAILED,
    SETTLED,
    SKIPPED,
    STARTED,
    STEP_DONE,
    STEP_SKIPPED,
    Ledger,
    LedgerEntry,
)
from winback.rules.planner import Plan
from winback.sync import LocalStore

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
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    ALREADY_DONE = "already done"
    NEEDS_REVIEW = "needs review"
    WOULD_DO = "would do"
    """Dry run."""
    NOT_RUN = "not run"
    """Left for a later run after a store-wide error."""


@dataclass(slots=True)
class ActionResult:
    action: PlannedAction
    outcome: Outcome
    detail: str = ""
    created_ref: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RunReport:
    """What :func:`run_actions` did for one store."""

    store_key: str
    results: list[ActionResult] = field(default_factory=list)
    held: list[HeldAction] = field(default_factory=list)
    dry_run: bool = False
    stopped: str | None = None
    """The store-wide error that stopped the run early, if any."""

    def counts(self) -> Counter[str]:
        return Counter(result.outcome.value for result in self.results)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.outcome is Outcome.FAILED)


class _Stop(Exception):
    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


def mask_email(email: str) -> str:
    """``alice@example.com`` → ``a***@example.com`` for log lines."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


async def run_actions(
    plan: Plan,
    *,
    store: LocalStore,
    connector: Connector | None,
    sender: Any,
    email_settings: EmailSection | None = None,
    now: datetime | None = None,
    facts: StoreFacts | None = None,
    capabilities: Capabilities | None = None,
    dry_run: bool = False,
) -> RunReport:
    """Run ``plan.actions`` in order; see the module docstring for the guarantees.

    ``facts`` default to the stored store row, ``capabilities`` to ``connector.capabilities()``.
    ``sender`` is a :class:`winback.notify.Sender`; the caller closes it.
    """
    now = now or datetime.now(UTC)
    if facts is None:
        facts = await asyncio.to_thread(stored_facts, store, plan.store_key)
    if capabilities is None and connector is not None:
        capabilities = await connector.capabilities()
    runner = _Runner(
        ledger=Ledger(store), connector=connector, sender=sender, settings=email_settings or EmailSection(),
        now=now, facts=facts, capabilities=capabilities, dry_run=dry_run,
    )
    report = RunReport(store_key=plan.store_key, held=list(plan.held), dry_run=dry_run)
    for action in plan.actions:
        if report.stopped is not None:
            report.results.append(ActionResult(action, Outcome.NOT_RUN, report.stopped))
            continue
        try:
            result = await runner.run(action)
        except STORE_WIDE as exc:
            report.stopped = str(exc)
            result = ActionResult(action, Outcome.FAILED, str(exc))
        _log(result, dry_run)
        report.results.append(result)
    return report


def stored_facts(store: LocalStore, store_key: str) -> StoreFacts:
    info = store.get_store(store_key)
    if info is None:
        raise errors.RuleError(f"no store {store_key!r} in the local store: run `winback sync` first")
    return StoreFacts(
        store_key=store_key, platform=info["platform"], name=info["name"], currency=info["currency"],
        url=info["url"], timezone=info["timezone"], logo_url=info["logo_url"], email=info["email"],
    )


def _log(result: ActionResult, dry_run: bool) -> None:
    action = result.action
    who = mask_email(action.email)
    extra = {"store": action.store_key, "rule": action.rule}
    if result.outcome is Outcome.DONE:
        verb = "sent" if Step.SEND_EMAIL in action.steps else "did"
        log.info("%s %s to %s: %s", verb, action.rule, who, action.reason, extra=extra)
    elif result.outcome is Outcome.WOULD_DO:
        log.info("dry run: would send %s to %s: %s", action.rule, who, action.reason, extra=extra)
    elif result.outcome is Outcome.FAILED:
        log.warning("%s for %s failed: %s", action.rule, who, result.detail, extra=extra)
    elif result.outcome is Outcome.NEEDS_REVIEW:
        log.warning("%s for %s needs review: %s", action.rule, who, result.detail, extra=extra)
    else:
        log.info("%s for %s %s: %s", action.rule, who, result.outcome.value, result.detail, extra=extra)


@dataclass(slots=True)
class _Runner:
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
        if not action.steps:
            # The rule's way of saying "nothing to do, and here is why" (e.g. new customer accounts).
            await self._db(self.ledger.finish, entry.id, SKIPPED, self.now, error=action.reason)
            return ActionResult(action, Outcome.SKIPPED, action.reason)
        unsupported = self._unsupported(action)
        if unsupported is not None and not (set(action.steps) - unsupported.keys()) - {Step.SEND_EMAIL}:
            reason = next(iter(unsupported.values()))
            await self._db(self.ledger.finish, entry.id, SKIPPED, self.now, error=reason)
            return ActionResult(action, Outcome.SKIPPED, reason)
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
        return await self._email(action, entry, refs, state)

    def _platform(self) -> Connector:
        if self.connector is None:
            raise errors.RuleError("no connector: platform writes need a connected store")
        return self.connector

    async def _discount(self, action: PlannedAction, entry: LedgerEntry, state: str | None) -> dict[str, Any]:
        connector = self._platform()
        spec = DiscountCodeSpec.model_validate(action.payload["discount"])
        if state == STARTED:
            found = await connector.find_discount_code(spec.code)
            if found is not None:
                ref = {"discount_id": found.id, "discount_code": found.code, "adopted": True}
                await self._db(self.ledger.step_done, entry.id, Step.CREATE_DISCOUNT_CODE, self.now, ref)
                return ref
        await self._db(self.ledger.step_started, entry.id, Step.CREATE_DISCOUNT_CODE, self.now)
        try:
            code = await connector.create_discount_code(spec)
        except errors.DiscountCodeTakenError:
            await self._db(self.ledger.step_cleared, entry.id, Step.CREATE_DISCOUNT_CODE, self.now)
            raise _Stop(
                Outcome.FAILED,
                f"the discount code {spec.code} already exists on the store and was not created by winback: "
                "remove it on the platform or change the rule's code prefix",
            ) from None
        except (errors.PlatformRejectedError, errors.NotSupportedError):
            await self._db(self.ledger.step_cleared, entry.id, Step.CREATE_DISCOUNT_CODE, self.now)
            raise
        ref = {"discount_id": code.id, "discount_code": code.code}
        await self._db(self.ledger.step_done, entry.id, Step.CREATE_DISCOUNT_CODE, self.now, ref)
        return ref

    async def _account(self, action: PlannedAction, entry: LedgerEntry, state: str | None) -> dict[str, Any]:
        connector = self._platform()
        spec = NewCustomer.model_validate({"email": action.email, **dict(action.payload.get("account") or {})})
        if state == STARTED:
            found = await connector.find_customer_by_email(spec.email)
            if found is not None:
                ref = {"customer_id": found.id, "adopted": True}
                await self._db(self.ledger.step_done, entry.id, Step.CREATE_ACCOUNT, self.now, ref)
                return ref
        await self._db(self.ledger.step_started, entry.id, Step.CREATE_ACCOUNT, self.now)
        try:
            customer = await connector.create_customer(spec)
        except errors.CustomerExistsError:
            await self._db(self.ledger.step_cleared, entry.id, Step.CREATE_ACCOUNT, self.now)
            raise _Stop(Outcome.SKIPPED, "already has an account on the store: nothing created") from None
        except (errors.PlatformRejectedError, errors.NotSupportedError):
            await self._db(self.ledger.step_cleared, entry.id, Step.CREATE_ACCOUNT, self.now)
            raise
        ref = {"customer_id": customer.id}
        await self._db(self.ledger.step_done, entry.id, Step.CREATE_ACCOUNT, self.now, ref)
        return ref

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
        customer_id = action.payload.get("customer_id") or refs.get("customer_id") or action.customer_id
        if not customer_id:
            raise _Stop(Outcome.FAILED, "no customer id to send the account invite to")
        await self._db(self.ledger.step_started, entry.id, Step.SEND_INVITE, self.now)
        try:
            await connector.send_account_invite(str(customer_id))
        except (errors.PlatformRejectedError, errors.NotSupportedError):
            await self._db(self.ledger.step_cleared, entry.id, Step.SEND_INVITE, self.now)
            raise
        ref = {"invite_customer_id": str(customer_id)}
        await self._db(self.ledger.step_done, entry.id, Step.SEND_INVITE, self.now, ref)
        return ref

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
