"""Plan and run the rules of many clients: the layer under ``winback plan``, ``run`` and ``preview``.

Per client, isolated like :mod:`winback.jobs` (one client's failure never stops the others):
take the store's run lock (:mod:`winback.rules.locks`), sync unless told not to, read the store's
facts and the connector's capabilities, plan (:mod:`winback.rules.planner`) and execute
(:mod:`winback.rules.executor`) with the client's email sender.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


from winback.config import ClientConfig, EmailSection
from winback.connectors.base import Capabilities
from winback.errors import ConfigError, WinbackError
from winback.jobs import StorePool, _naming_store, store_label, sync_clients
from winback.rules.base import Rule, StoreFacts
from winback.rules.executor import RunReport, run_actions, stored_facts
from winback.rules.guards import Limits
from winback.rules.locks import DEFAULT_WAIT_S, astore_lock
from winback.rules.planner import Plan, plan_client
from winback.rules.preflight import email_problems
from winback.rules.registry import rules_from_config
from winback.sync import LocalStore, store_key

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ClientRun:
    """What :func:`plan_clients` or :func:`run_clients` did for one client."""

    client: str
    path: Path
    store: str
    store_key: str | None = None
    ok: bool = False
    error: str | None = None
    plan: Plan | None = None
    report: RunReport | None = None
    outbox: Path | None = None
    """Where a dry run wrote its emails."""
    notes: list[str] = field(default_factory=list)


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


async def _facts(store: LocalStore, key: str) -> StoreFacts:
    return await asyncio.to_thread(stored_facts, store, key)


async def plan_one(
    config: ClientConfig,
    store: LocalStore,
    *,
    connect: bool = True,
    now: datetime | None = None,
    connector_options: dict[str, Any] | None = None,
) -> ClientRun:
    """Plan one client's rules without side effects; ``connect=False`` plans without capabilities."""
    now = now or datetime.now(UTC)
    result = ClientRun(client=config.name, path=config.path, store=store_label(config))
    try:
        rules = client_rules(config)
        limits = limits_of(config)
        capabilities: Capabilities | None = None
        async with config.build_connector(**(connector_options or {})) as connector:
            result.store_key = store_key(connector.platform, connector.store_id)
            result.store = connector.store_label
            if connect:
                capabilities = await connector.capabilities()
        facts = await _facts(store, result.store_key)
        result.plan = await asyncio.to_thread(plan_client, store, facts, rules, now, limits, capabilities)
        result.ok = not result.plan.rule_errors
        if result.plan.rule_errors:
            result.error = "; ".join(f"rule {name} failed: {why}" for name, why in result.plan.rule_errors.items())
    except ConfigError:
        raise
    except WinbackError as exc:
        result.error = _naming_store(str(exc), result.store)
    return result


async def plan_clients(
    configs: Sequence[ClientConfig],
    *,
    connect: bool = True,
    now: datetime | None = None,
    connector_options: dict[str, Any] | None = None,
) -> list[ClientRun]:
    pool = StorePool()
    try:
        results = []
        for config in configs:
            try:
                store = await pool.get(config.database.url, create=False)
                results.append(await plan_one(config, store, connect=connect, now=now, connector_options=connector_options))
            except WinbackError as exc:
                results.append(ClientRun(config.name, config.path, store_label(config), error=str(exc)))
        return results
    finally:
        await asyncio.to_thread(pool.close)


async def run_clients(
    configs: Sequence[ClientConfig],
    *,
    sync: bool = True,
    dry_run: bool = False,
    concurrency: int = 4,
    now: datetime | None = None,
    lock_wait: float = DEFAULT_WAIT_S,
    connector_options: dict[str, Any] | None = None,
) -> list[ClientRun]:
    """Sync (unless ``sync=False``), plan and execute every client; results in ``configs`` order."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    gate = asyncio.Semaphore(concurrency)
    pool = StorePool()

    async def one(config: ClientConfig) -> ClientRun:
        async with gate:
            return await _run_client(
                config, pool, sync=sync, dry_run=dry_run, now=now, lock_wait=lock_wait,
                connector_options=connector_options or {},
            )

    try:
        return list(await asyncio.gather(*(one(config) for config in configs)))
    finally:
        await asyncio.to_thread(pool.close)


async def _run_client(
    config: ClientConfig,
    pool: StorePool,
    *,
    sync: bool,
    dry_run: bool,
    now: datetime | None,
    lock_wait: float,
    connector_options: dict[str, Any],
) -> ClientRun:
    from winback.notify import OutboxSender, sender_from_config

    result = ClientRun(client=config.name, path=config.path, store=store_label(config))
    try:
        rules = client_rules(config)
        limits = limits_of(config)
        store = await pool.get(config.database.url)
        async with config.build_connector(**connector_options) as connector:
            key = store_key(connector.platform, connector.store_id)
            result.store_key, result.store = key, connector.store_label
        async with astore_lock(store, key, wait=lock_wait):
            if sync:
                synced = (await sync_clients([config], concurrency=1, connector_options=connector_options))[0]
                if not synced.ok:
                    result.error = f"sync failed, no actions taken: {synced.error}"
                    return result
            settings = email_settings(config)
            if dry_run:
                result.outbox = dry_run_outbox(config)
                sender: Any = OutboxSender(result.outbox)
            else:
                sender = sender_from_config(settings, base_dir=config.path.parent)
            try:
                at = now or datetime.now(UTC)
                facts = await _facts(store, key)
                unrenderable, _ = await asyncio.to_thread(email_problems, rules, facts, settings, at)
                if unrenderable:
                    result.error = "no actions taken: " + "; ".join(unrenderable)
                    log.error("%s: %s", config.name, result.error, extra={"client": config.name})
                    return result
                async with config.build_connector(**connector_options) as connector:
                    capabilities = await connector.capabilities()
                    plan = await asyncio.to_thread(plan_client, store, facts, rules, at, limits, capabilities)
                    result.plan = plan
                    result.report = await run_actions(
                        plan, store=store, connector=None if dry_run else connector, sender=sender,
                        email_settings=settings, now=at, facts=facts, capabilities=capabilities, dry_run=dry_run,
                    )
            finally:
                await sender.aclose()
        problems = [f"rule {name} failed: {why}" for name, why in plan.rule_errors.items()]
        if result.report.stopped:
            problems.append(f"stopped early: {result.report.stopped}")
        result.ok = not problems
        result.error = "; ".join(problems) or None
    except WinbackError as exc:
        result.error = _naming_store(str(exc), result.store)
        log.error("%s: %s", config.name, result.error, extra={"client": config.name})
    except Exception as exc:  # one client's bug must not stop the others
        log.exception("unexpected failure while running %s", config.name, extra={"client": config.name})
        result.error = _naming_store(f"unexpected {type(exc).__name__}: {exc}", result.store)
    return result


@dataclass(slots=True)
class Preview:
    """The email a rule would send one customer, and whether the guard rails would hold it now."""

    rendered: Any
    """:class:`winback.notify.RenderedEmail`."""
    reason: str
    held: str | None = None


async def preview_email(config: ClientConfig, rule_name: str, email: str, *, now: datetime | None = None) -> Preview:
    """Render what ``rule_name`` (with the client's options for it) would send to ``email``.

    Offline: plans from the local store without capabilities and creates nothing; a discount code
    is shown as it would be created. :class:`RuleError` when the rule has nothing for that address.
    """
    from winback.errors import RuleError
    from winback.rules.compose import render_for_preview
    from winback.rules.registry import load_rule

    now = now or datetime.now(UTC)
    rule = load_rule(rule_name, {**config.rules.get(rule_name, {}), "enabled": True}, path=config.path)
    store = await asyncio.to_thread(_open, config)
    try:
        async with config.build_connector() as connector:
            key = store_key(connector.platform, connector.store_id)
        facts = await _facts(store, key)
        plan = await asyncio.to_thread(plan_client, store, facts, [rule], now, limits_of(config), None)
    finally:
        await asyncio.to_thread(store.close)
    if plan.rule_errors:
        raise RuleError(f"rule {rule_name} failed while planning: {plan.rule_errors[rule_name]}")
    wanted = email.strip().lower()
    candidates = [(a, None) for a in plan.actions] + [(h.action, f"{h.reason.value}: {h.detail}") for h in plan.held]
    for action, held in candidates:
        if action.email.strip().lower() == wanted:
            discount = action.payload.get("discount")
            refs = {"discount_code": discount["code"]} if isinstance(discount, dict) and discount.get("code") else {}
            rendered = render_for_preview(action, facts, email_settings(config), refs)
            return Preview(rendered=rendered, reason=action.reason, held=held)
    raise RuleError(
        f"rule {rule_name} would send nothing to {email} in {config.name}'s store now "
        "(not in its audience: check the rule's options, or sync first)"
    )


def _open(config: ClientConfig) -> LocalStore:
    from winback.sync import open_store

    return open_store(config.database.url)


def action_status(store: LocalStore, key: str) -> dict[str, Any]:
    """The ledger for ``winback status``: counts per rule and status, and the rows needing review."""
    from winback.rules.ledger import Ledger

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
