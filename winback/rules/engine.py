"""What a client's config means for its rules: the rules, guard rails and email settings, a
preview of one customer's email, and the ledger as ``winback status`` shows it.

The client run itself (sync, plan, act) is :func:`winback.clients.run_client`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from winback.config import ClientConfig, EmailSection
from winback.errors import RuleError
from winback.model import normalize_email
from winback.notify import RenderedEmail
from winback.rules.base import Rule, RuleContext, StoreFacts
from winback.rules.compose import render_for_preview
from winback.rules.executor import stored_facts
from winback.rules.guards import HoldReason, Limits
from winback.rules.ledger import Ledger
from winback.rules.ledger_entries import RecordedAction
from winback.rules.planner import plan_client
from winback.rules.registry import available_rules, load_rule, rules_from_config
from winback.sync import LocalStore, open_store


def limits_of(config: ClientConfig) -> Limits:
    """The client's guard rails from its ``[limits]`` table (defaults when absent)."""
    return Limits.from_section(config.limits)


def client_rules(config: ClientConfig) -> list[Rule]:
    """The client's enabled rules; :class:`ConfigError` naming ``rules.<name>.<key>`` if invalid."""
    return rules_from_config(config.rules, path=config.path)


_COMMENTED_RULE = re.compile(r"^\s*#\s*\[rules\.([A-Za-z0-9_-]+)\]", re.MULTILINE)


def no_rule_enabled(config: ClientConfig) -> str | None:
    """What to tell the merchant when the client's config enables no rule (``winback init``
    writes every rule commented out): which file, and how to enable one. ``None`` when a rule is
    enabled."""
    if client_rules(config):
        return None
    where = str(config.path)
    disabled = [name for name, options in config.rules.items() if options.get("enabled") is False]
    if disabled:
        tables = ", ".join(f"[rules.{name}]" for name in disabled)
        return (f"no rule is enabled in {where}: {tables} {'has' if len(disabled) == 1 else 'have'} "
                "enabled = false; remove that line or set it to true to enable the rule")
    installed = available_rules()
    try:
        commented = [name for name in _COMMENTED_RULE.findall(config.path.read_text(encoding="utf-8"))
                     if name in installed]
    except OSError:
        commented = []
    if commented:
        how = f"uncomment [rules.{commented[0]}] and its options"
    else:
        example = "back_to_bestsellers" if "back_to_bestsellers" in installed else (installed or ["<name>"])[0]
        how = f"add a table such as [rules.{example}]"
    return (f"no rule is enabled in {where}, so winback only syncs: to enable one, {how} "
            f"(installed rules: {', '.join(installed) or 'none'})")


def email_settings(config: ClientConfig) -> EmailSection:
    """The client's ``[email]``; with ``public_url`` set it knows the client and directory its
    one-click unsubscribe links are made for (see :mod:`winback.notify.oneclick`)."""
    section = config.email or EmailSection()
    postal = getattr(config.store.settings, "postal_address", None)
    return section.with_oneclick(config.path.stem, config.path.parent, postal)


def dry_run_outbox(config: ClientConfig) -> Path:
    """``<outbox>/dry-run`` next to the client's real outbox (``<config dir>/outbox`` by default)."""
    section = email_settings(config)
    base = section.outbox_dir if section.outbox_dir is not None else Path("outbox")
    if not base.is_absolute():
        base = config.path.parent / base
    return base / "dry-run" / config.path.stem


@dataclass(slots=True)
class Preview:
    """The email a rule would send (or sent) one customer, whether the guard rails would hold it
    now, and, for a customer already acted on, what the ledger records."""

    rendered: RenderedEmail
    reason: str
    held: str | None = None
    recorded: str | None = None
    """For an action in the ledger: its status and dates; the email was rendered from the payload
    recorded then (with the discount code actually created), through today's templates."""


async def preview_email(
    config: ClientConfig, rule_name: str, email: str, *, now: datetime | None = None, step: int | None = None
) -> Preview:
    """Render what ``rule_name`` (with the client's options for it) would send to ``email``, or
    what it sent them.

    Offline: plans from the local store with the platform's usual capabilities and creates
    nothing; a discount code is shown as it would be created. A customer already acted on (the
    rule's audience leaves them out, or the plan holds them as already done or waiting for
    review) is rendered from the ledger's record of that action: the payload planned then and
    the code created then, through the current templates and settings. :class:`RuleError` when
    the rule has nothing for that address, now or in the ledger.
    """
    now = now or datetime.now(UTC)
    rule = load_rule(rule_name, {**config.rules.get(rule_name, {}), "enabled": True}, path=config.path)
    store = await asyncio.to_thread(open_store, config.database.url, create=False)
    try:
        facts = await asyncio.to_thread(stored_facts, store, config.store_key)
        if step is not None:
            return await asyncio.to_thread(_preview_step, config, rule, store, facts, email, step, now)
        capabilities = config.connector_class().offline_capabilities()
        plan = await asyncio.to_thread(plan_client, store, facts, [rule], now, limits_of(config), capabilities)
        if plan.rule_errors:
            raise RuleError(f"rule {rule_name} failed while planning: {plan.rule_errors[rule_name]}")
        wanted = normalize_email(email)
        match = next((a for a in plan.actions if normalize_email(a.email) == wanted), None)
        held = next((h for h in plan.held if normalize_email(h.action.email) == wanted), None)
        if match is None and (held is None or held.reason in (HoldReason.ALREADY_DONE, HoldReason.NEEDS_REVIEW)):
            key = None if held is None else held.action.idempotency_key
            recorded = await asyncio.to_thread(
                Ledger(store).recorded, config.store_key, rule_name, email, idempotency_key=key
            )
            if recorded is not None:
                rendered = render_for_preview(recorded.action, facts, email_settings(config), recorded.entry.created_ref)
                return Preview(rendered=rendered, reason=recorded.action.reason, recorded=_describe_record(recorded))
    finally:
        await asyncio.to_thread(store.close)
    if match is None and held is not None:
        match = held.action
    if match is None:
        raise RuleError(
            f"rule {rule_name} would send nothing to {email} in {config.name}'s store now and has no record "
            "of acting for it (not in its audience: check the rule's options, or sync first)"
        )
    discount = match.payload.get("discount")
    refs = {"discount_code": discount["code"]} if isinstance(discount, dict) and discount.get("code") else {}
    rendered = render_for_preview(match, facts, email_settings(config), refs)
    why = None if held is None or match is not held.action else f"{held.reason.value}: {held.detail}"
    return Preview(rendered=rendered, reason=match.reason, held=why)


def _preview_step(
    config: ClientConfig, rule: Rule, store: LocalStore, facts: StoreFacts, email: str, step: int, now: datetime
) -> Preview:
    """Step ``step`` (1-based) of ``rule``'s sequence for ``email``'s current lapse: from the ledger
    when it was acted on, else as it would be sent now (whatever its timing says)."""
    build = getattr(rule, "step_action", None)
    if build is None:
        raise RuleError(f"rule {rule.name} has no steps to preview: leave out --step")
    context = RuleContext(store=store, facts=facts, now=now,
                          capabilities=config.connector_class().offline_capabilities())
    try:
        action = build(context, email, step - 1)
    except ValueError as exc:
        raise RuleError(f"rule {rule.name}: {exc}") from None
    if action is None:
        raise RuleError(f"rule {rule.name} has no step {step} for {email} in {config.name}'s store "
                        "(no order with that address, or no bestseller: sync first)")
    recorded = Ledger(store).recorded(config.store_key, rule.name, email, idempotency_key=action.idempotency_key)
    if recorded is not None:
        rendered = render_for_preview(recorded.action, facts, email_settings(config), recorded.entry.created_ref)
        return Preview(rendered=rendered, reason=recorded.action.reason, recorded=_describe_record(recorded))
    discount = action.payload.get("discount")
    refs = {"discount_code": discount["code"]} if isinstance(discount, dict) and discount.get("code") else {}
    rendered = render_for_preview(action, facts, email_settings(config), refs)
    return Preview(rendered=rendered, reason=action.reason)


def _describe_record(recorded: RecordedAction) -> str:
    entry = recorded.entry
    when = f"{recorded.updated_at:%Y-%m-%d %H:%M} UTC"
    text = f"the ledger records this action as {entry.status} ({when})"
    if entry.email_started_at is not None:
        text += f"; its email was handed over {entry.email_started_at:%Y-%m-%d %H:%M} UTC"
    if entry.needs_review:
        text += "; it waits for review (`winback review`)"
    return text + ". Rendered from the recorded action with today's templates and settings"


def action_status(store: LocalStore, key: str) -> dict[str, Any]:
    """The ledger for ``winback status``: counts per rule and status, and the rows needing review."""
    ledger = Ledger(store)
    counts: dict[str, dict[str, int]] = {}
    for row in ledger.counts(key):
        counts.setdefault(row["rule"], {})[row["status"]] = row["count"]
    review = [
        {
            "rule": row["rule"],
            "email": row["email"],
            "idempotency_key": row["idempotency_key"],
            "status": row["status"],
            "needs_review": True,
            "why": row["error"],
            "email_started_at": None if row["email_started_at"] is None else row["email_started_at"].isoformat(),
        }
        for row in ledger.needing_review(key)
    ]
    failure = ledger.last_failure(key)
    if failure is not None:
        failure["updated_at"] = failure["updated_at"].isoformat()
    return {"counts": counts, "needs_review": review, "last_failure": failure}
