"""The ``set_customer_tier`` step: make the platform show a customer's tier, at most once.

The write is idempotent on the platform itself (:meth:`~winback.connectors.base.Connector.set_customer_tier`
reads first and writes only what differs), so a step left ``started`` by a crash is simply run
again: the second call finds the tier already shown and writes nothing. The ledger records the
intent (``started`` with the label asked for) before the call and the result after, as every
platform write does. A platform that has no place for a tier skips the step with the reason; the
action's email (a "welcome to Gold") is then not sent either, since it would promise a tier the
merchant cannot see.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from winback import errors
from winback.connectors.base import Connector, TierWrite
from winback.rules.base import PlannedAction, Step
from winback.rules.ledger_entries import LedgerEntry


class TierNotSet(Exception):
    """The tier cannot be recorded for this action: skip it with this reason."""


class _Runner(Protocol):
    def _platform(self) -> Connector: ...

    async def _platform_write(
        self, step: Step, entry: LedgerEntry, write: Callable[[], Awaitable[dict[str, Any]]],
        intent: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...


async def set_tier(runner: _Runner, action: PlannedAction, entry: LedgerEntry) -> dict[str, Any]:
    """Run the step; returns the ledger ref (``tier``, ``tier_write``). Raises :class:`TierNotSet`
    when the action must be skipped."""
    spec = action.payload.get("tier")
    if not isinstance(spec, dict) or not action.customer_id:
        raise TierNotSet("no customer record to put the tier on (a guest buyer): nothing written")
    label = spec.get("label")
    labels = [str(value) for value in spec.get("labels") or ()]
    connector = runner._platform()
    customer_id = str(action.customer_id)

    async def write() -> dict[str, Any]:
        result = await connector.set_customer_tier(customer_id, label, labels)
        return {"tier": label, "tier_write": result.value}

    try:
        ref = await runner._platform_write(Step.SET_CUSTOMER_TIER, entry, write, {"tier": dict(spec)})
    except errors.NotSupportedError as exc:
        raise TierNotSet(f"not supported: {exc}") from None
    if ref.get("tier_write") == TierWrite.NO_CUSTOMER.value:
        raise TierNotSet("the customer is no longer on the store: nothing written or sent")
    if ref.get("tier_write") == TierWrite.KEPT.value:
        raise TierNotSet(
            "the customer is in a customer group the merchant chose (not a tier): it was left alone, "
            "and nothing was sent"
        )
    return ref
