"""The discount-code step of an action: create its code, or adopt the one winback provably made.

A code's string is derived from the action's idempotency key (:mod:`winback.rules.codes`), so the
same intent always asks for the same string. When the platform already has that string, the
existing code is looked up and compared with what this action wants (:meth:`DiscountCode.matches`:
value, kind, usage limit, customer lock, validity):

* it matches: winback made it for this very intent (an earlier run, perhaps against a database
  that has since been replaced, or a run that crashed after creating it) and it is adopted; if it
  has expired meanwhile, the action is skipped, since the customer was served long ago;
* it does not: the string belongs to someone else (a merchant's own code, perhaps for everyone and
  worth more). It is never adopted; the next string derived from the same code is tried, up to
  :data:`MAX_ATTEMPTS`, and then the action is skipped with the reason. The attempt reached is
  recorded in the ledger, so no run repeats the collisions or fails on them again.

Before each create the exact code asked for is recorded with the step's ``started`` mark, so after
a crash the next run compares what it finds with what was really sent (including its start).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from winback import errors
from winback.connectors.base import Connector
from winback.model import DiscountCode, DiscountCodeSpec
from winback.rules.base import PlannedAction, Step
from winback.rules.codes import alternative_code
from winback.rules.ledger_entries import STARTED, LedgerEntry

MAX_ATTEMPTS = 3
"""Strings tried for one action before it is skipped: the first, then two alternatives."""
ATTEMPT = "discount_attempt"
"""Payload key of the attempt reached (0 for the planned string)."""


class CodeNotUsable(Exception):
    """No code can be created or adopted for this action: skip it with this reason."""


class _Runner(Protocol):
    now: datetime

    def _platform(self) -> Connector: ...

    async def _platform_write(
        self, step: Step, entry: LedgerEntry, write: Callable[[], Awaitable[dict[str, Any]]],
        intent: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    async def _adopt(self, step: Step, entry: LedgerEntry, ref: dict[str, Any]) -> dict[str, Any]: ...


async def create_or_adopt(
    runner: _Runner, action: PlannedAction, entry: LedgerEntry, state: str | None, *, customer_locked: bool
) -> dict[str, Any]:
    """Run the step; returns the ledger ref of the code the email will carry. Raises
    :class:`CodeNotUsable` when the action must be skipped."""
    connector = runner._platform()
    planned = DiscountCodeSpec.model_validate(action.payload["discount"])
    attempt = int(entry.payload.get(ATTEMPT) or 0)
    taken: list[str] = []
    if state == STARTED:
        recorded = entry.payload.get("discount")
        sent = DiscountCodeSpec.model_validate(recorded) if isinstance(recorded, Mapping) else _at(planned, attempt)
        found = await connector.find_discount_code(sent.code)
        if found is not None:
            if found.matches(sent, customer_locked=customer_locked):
                return await _take(runner, entry, found)
            taken.append(sent.code)
            attempt += 1
    while attempt < MAX_ATTEMPTS:
        spec = _at(planned, attempt)

        async def create(spec: DiscountCodeSpec = spec) -> dict[str, Any]:
            return _ref(await connector.create_discount_code(spec))

        intent = {"discount": spec.model_dump(mode="json"), ATTEMPT: attempt}
        try:
            return await runner._platform_write(Step.CREATE_DISCOUNT_CODE, entry, create, intent)
        except errors.DiscountCodeTakenError:
            found = await connector.find_discount_code(spec.code)
        if found is None:
            raise errors.UnexpectedResponseError(
                f"the platform refused the discount code {spec.code} as taken but finds no such code; "
                "it is tried again next run", store=connector.store_label,
            )
        if found.matches(spec, customer_locked=customer_locked, same_start=False):
            return await _take(runner, entry, found)
        taken.append(spec.code)
        attempt += 1
    raise CodeNotUsable(_all_taken(taken))


def _all_taken(codes: list[str]) -> str:
    if len(codes) == 1:
        return (
            f"the discount code {codes[0]} is taken on the store by a code winback did not make for this "
            "customer (another value, customer or validity): it was left alone, and nothing was created or sent"
        )
    return (
        f"the discount codes {', '.join(codes[:-1])} and {codes[-1]} are all taken on the store by codes winback "
        "did not make for this customer (another value, customer or validity): they were left alone, and nothing "
        "was created or sent"
    )


def _at(planned: DiscountCodeSpec, attempt: int) -> DiscountCodeSpec:
    """The planned spec with the string of ``attempt`` (its title names the string)."""
    if attempt == 0:
        return planned
    code = alternative_code(planned.code, attempt)
    title = planned.title.replace(planned.code, code) if planned.code in planned.title else planned.title
    return planned.model_copy(update={"code": code, "title": title})


def _ref(code: DiscountCode) -> dict[str, Any]:
    return {
        "discount_id": code.id,
        "discount_code": code.code,
        "discount_ends_at": code.ends_at.isoformat() if code.ends_at else None,
    }


async def _take(runner: _Runner, entry: LedgerEntry, found: DiscountCode) -> dict[str, Any]:
    """Adopt ``found`` (winback's own) unless it has expired."""
    if found.ends_at is not None and found.ends_at <= runner.now:
        raise CodeNotUsable(
            f"winback created the discount code {found.code} for this before (it is on the store) and it "
            f"expired on {found.ends_at.date().isoformat()}: nothing new was created or sent"
        )
    return await runner._adopt(Step.CREATE_DISCOUNT_CODE, entry, _ref(found))
