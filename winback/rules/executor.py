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
:class:`~winback.rules.runner.ActionRunner` carries out one action; this module runs a plan's
actions in order and reports what happened.

Dry run (``dry_run=True``) touches neither the platform nor the ledger: codes are shown as they
would be created and emails go to the given sender (``winback run --dry-run`` passes an outbox in
a separate folder). Nothing recorded means the next real run does everything for real. Its log
lines name the full addresses, as ``winback plan`` shows them, so the merchant can check who would
get what; a real run's log lines mask them (``a***@example.com``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from winback import errors
from winback.config import EmailSection
from winback.connectors.base import Capabilities, Connector
from winback.rules.base import Step, StoreFacts
from winback.rules.ledger import Ledger
from winback.rules.planner import Plan
from winback.rules.runner import STORE_WIDE, ActionResult, ActionRunner, Outcome, mask_email
from winback.sync import LocalStore

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RunReport:
    """What :func:`run_actions` did for one store."""

    store_key: str
    results: list[ActionResult] = field(default_factory=list)
    stopped: str | None = None
    """The store-wide error that stopped the run early, if any."""

    def counts(self) -> Counter[str]:
        return Counter(result.outcome.value for result in self.results)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.outcome is Outcome.FAILED)


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
    runner = ActionRunner(
        ledger=Ledger(store), connector=connector, sender=sender, settings=email_settings or EmailSection(),
        now=now, facts=facts, capabilities=capabilities, dry_run=dry_run,
    )
    report = RunReport(store_key=plan.store_key)
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
        postal_address=info.get("postal_address"),
    )


def _log(result: ActionResult, dry_run: bool) -> None:
    action = result.action
    who = action.email if dry_run else mask_email(action.email)
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
