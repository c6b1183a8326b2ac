"""What a client's config means for its rules: the rules, guard rails and email settings, a
preview of one customer's email, and the ledger as ``winback status`` shows it.

The client run itself (sync, plan, act) is :func:`winback.clients.run_client`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from winback.config import ClientConfig, EmailSection
from winback.errors import RuleError
from winback.model import normalize_email
from winback.notify import RenderedEmail
from winback.rules.base import Rule
from winback.rules.compose import render_for_preview
from winback.rules.executor import stored_facts
from winback.rules.guards import Limits
from winback.rules.ledger import Ledger
from winback.rules.planner import plan_client
from winback.rules.registry import load_rule, rules_from_config
from winback.sync import LocalStore, open_store


def limits_of(config: ClientConfig) -> Limits:
    """The client's guard rails from its ``[limits]`` table (defaults when absent)."""
    return Limits.from_section(config.limits)


def client_rules(config: ClientConfig) -> list[Rule]:
    """The client's enabled rules; :class:`ConfigError` naming ``rules.<name>.<key>`` if invalid."""
    return rules_from_config(config.rules, path=config.path)


def email_settings(config: ClientConfig) -> EmailSection:
    return config.email or EmailSection()


def dry_run_outbox(config: ClientConfig) -> Path:
    """``<outbox>/dry-run`` next to the client's real outbox (``<config dir>/outbox`` by default)."""
    section = email_settings(config)
    base = section.outbox_dir if section.outbox_dir is not None else Path("outbox")
    if not base.is_absolute():
        base = config.path.parent / base
    return base / "dry-run" / config.path.stem


@dataclass(slots=True)
class Preview:
    """The email a rule would send one customer, and whether the guard rails would hold it now."""

    rendered: RenderedEmail
    reason: str
    held: str | None = None


async def preview_email(config: ClientConfig, rule_name: str, email: str, *, now: datetime | None = None) -> Preview:
    """Render what ``rule_name`` (with the client's options for it) would send to ``email``.

    Offline: plans from the local store with the platform's usual capabilities and creates nothing; a discount code
    is shown as it would be created. :class:`RuleError` when the rule has nothing for that address.
    """
    now = now or datetime.now(UTC)
    rule = load_rule(rule_name, {**config.rules.get(rule_name, {}), "enabled": True}, path=config.path)
    store = await asyncio.to_thread(open_store, config.database.url, create=False)
    try:
        facts = await asyncio.to_thread(stored_facts, store, config.store_key)
        capabilities = config.connector_class().offline_capabilities()
        plan = await asyncio.to_thread(plan_client, store, facts, [rule], now, limits_of(config), capabilities)
    finally:
        await asyncio.to_thread(store.close)
    if plan.rule_errors:
        raise RuleError(f"rule {rule_name} failed while planning: {plan.rule_errors[rule_name]}")
    wanted = normalize_email(email)
    candidates = [(a, None) for a in plan.actions] + [(h.action, f"{h.reason.value}: {h.detail}") for h in plan.held]
    for action, held in candidates:
        if normalize_email(action.email) == wanted:
            discount = action.payload.get("discount")
            refs = {"discount_code": discount["code"]} if isinstance(discount, dict) and discount.get("code") else {}
            rendered = render_for_preview(action, facts, email_settings(config), refs)
            return Preview(rendered=rendered, reason=action.reason, held=held)
    raise RuleError(
        f"rule {rule_name} would send nothing to {email} in {config.name}'s store now "
        "(not in its audience: check the rule's options, or sync first)"
    )


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
