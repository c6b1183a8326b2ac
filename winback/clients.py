"""One client run, and the one fan-out over many clients.

:func:`run_client` is *the* client run: one connector and one store for the whole of it, in the
order sync → plan → act, each stage optional. ``winback sync`` is a run that stops after the sync,
``winback plan`` one that plans without syncing or acting, ``winback run`` the whole of it; the
webhook receiver and the workers call the same function for one client.

:func:`for_each_client` runs any such per-client work over many clients, a bounded number at
once. Each client is isolated: its own connector, its own failure. A bad token, an unreachable
platform or a bug in a plugin never stops the others; it becomes that client's
:class:`ClientRun` with a message naming the store. Clients that share a database URL share one
:class:`~winback.sync.LocalStore`, opened (and migrated) once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from winback.config import ClientConfig
from winback.connectors.base import Connector, Resource
from winback.errors import LocalStoreMissingError, WinbackError
from winback.notify import OutboxSender, Sender, sender_from_config
from winback.rules.base import Rule
from winback.rules.engine import client_rules, dry_run_outbox, email_settings, limits_of
from winback.rules.executor import RunReport, run_actions, stored_facts
from winback.rules.locks import DEFAULT_WAIT_S, astore_lock
from winback.rules.planner import Plan, plan_client
from winback.rules.consent import ConsentQueue, PushReport, push_pending
from winback.rules.preflight import email_problems
from winback.sync.connections import disconnected_at
from winback.sync import LocalStore, SyncProgress, SyncReport, open_store, sync_store

log = logging.getLogger(__name__)

ClientProgress = Callable[[str, SyncProgress], None]
"""Called with the client's name after every committed page of that client's store."""


@dataclass(slots=True)
class ClientRun:
    """What one client's run did; ``error`` says why it stopped (naming the store)."""

    client: str
    path: Path
    store: str
    """The store's label, e.g. ``acme.myshopify.com``."""
    store_key: str
    ok: bool = False
    error: str | None = None
    sync: SyncReport | None = None
    plan: Plan | None = None
    report: RunReport | None = None
    outbox: Path | None = None
    """Where a dry run wrote its emails."""
    consent: PushReport | None = None
    """Unsubscribes pushed to the platform's consent this run (see :mod:`winback.rules.consent`)."""

    transient: bool = True
    """Whether the failure may go away by itself (an outage, a rate limit) rather than needing the
    merchant (a revoked token, a missing scope, an uninstalled app): workers retry only these."""

    def fail(self, message: str, *, transient: bool = True) -> ClientRun:
        self.ok = False
        self.transient = transient
        self.error = message if self.store in message else f"{self.store}: {message}"
        return self


class StorePool:
    """Opens each distinct database once and closes them all at the end."""

    def __init__(self) -> None:
        self._stores: dict[str | None, LocalStore] = {}
        self._locks: dict[str | None, asyncio.Lock] = {}

    async def get(self, url: str | None, *, create: bool = True) -> LocalStore:
        """The store at ``url``, opened once; ``create=False`` raises
        :class:`~winback.errors.LocalStoreMissingError` rather than create a new database."""
        lock = self._locks.setdefault(url, asyncio.Lock())
        async with lock:
            if url not in self._stores:
                self._stores[url] = await asyncio.to_thread(partial(open_store, url, create=create))
            return self._stores[url]

    def close(self) -> None:
        for store in self._stores.values():
            store.close()
        self._stores.clear()


# --- one client ----------------------------------------------------------------------------------


async def run_client(
    config: ClientConfig,
    store: LocalStore,
    *,
    sync: bool = True,
    plan: bool = True,
    act: bool = True,
    connect: bool = True,
    full: bool = False,
    resources: Iterable[Resource | str] | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    lock_wait: float = DEFAULT_WAIT_S,
    progress: ClientProgress | None = None,
    connector_options: dict[str, Any] | None = None,
    locked: bool = False,
) -> ClientRun:
    """Sync, plan and act for one client with one connector on ``store``.

    ``sync=False`` works on the store as it is; ``plan=False`` stops after the sync; ``act=False``
    stops after planning (nothing is sent, created or recorded). ``connect=False`` plans with the
    platform's usual capabilities instead of asking it (``winback plan --no-connect``). Acting
    takes the store's run lock first, so two overlapping runs never act twice. Errors of winback's
    tree end the run as the client's one-line error; anything else propagates to
    :func:`for_each_client`, which isolates it. ``locked=True``: the caller already holds the
    store's run lock (a worker takes it first, to tell "already running" from a failure).
    """
    result = ClientRun(config.name, config.path, config.store_label, config.store_key)
    act = act and plan
    try:
        gone = await asyncio.to_thread(disconnected_at, store, result.store_key)
        if gone is not None and (sync or act):
            return result.fail(
                f"disconnected: the app was uninstalled from the store on {gone:%Y-%m-%d %H:%M} UTC; reinstall it, "
                f"then run `winback webhooks reconnect --config {config.path}`",
                transient=False,
            )
        rules = client_rules(config) if plan else []
        lock = astore_lock(store, result.store_key, wait=lock_wait) if act and not locked else nullcontext()
        async with config.build_connector(**(connector_options or {})) as connector, lock:
            if sync:
                try:
                    result.sync = await _sync(config, store, connector, full, resources, progress)
                except WinbackError as exc:  # sync_store has logged it
                    return result.fail(("sync failed, no actions taken: " if plan else "") + str(exc),
                                       transient=exc.transient)
            if act and not dry_run and connect:
                result.consent = await push_pending(store, result.store_key, connector)
            if plan:
                await _plan_and_act(result, config, store, connector, rules, act=act, connect=connect,
                                    dry_run=dry_run, now=now or datetime.now(UTC))
            else:
                result.ok = True
    except WinbackError as exc:
        result.fail(str(exc), transient=exc.transient)
        log.error("%s: %s", config.name, result.error, extra={"client": config.name})
    return result


async def _sync(
    config: ClientConfig, store: LocalStore, connector: Connector, full: bool,
    resources: Iterable[Resource | str] | None, progress: ClientProgress | None,
) -> SyncReport:
    def forward(event: SyncProgress) -> None:
        if progress is not None:
            progress(config.name, event)

    wanted = tuple(Resource(r) for r in resources) if resources is not None else config.sync.resources
    return await sync_store(
        connector, store, resources=wanted, full=full, overlap=config.sync.overlap, progress=forward,
        batch_records=config.sync.batch_records,
    )


async def _plan_and_act(
    result: ClientRun, config: ClientConfig, store: LocalStore, connector: Connector, rules: list[Rule], *,
    act: bool, connect: bool, dry_run: bool, now: datetime,
) -> None:
    facts = await asyncio.to_thread(stored_facts, store, result.store_key)
    settings = email_settings(config)
    if act:
        unrenderable, _ = await asyncio.to_thread(email_problems, rules, facts, settings, now)
        if unrenderable:
            result.fail("no actions taken: " + "; ".join(unrenderable), transient=False)
            return
    capabilities = await connector.capabilities() if connect else connector.offline_capabilities()
    result.plan = await asyncio.to_thread(plan_client, store, facts, rules, now, limits_of(config), capabilities)
    problems = [f"rule {name} failed: {why}" for name, why in result.plan.rule_errors.items()]
    if act:
        result.outbox = dry_run_outbox(config) if dry_run else None
        sender: Sender = (
            OutboxSender(result.outbox) if result.outbox else sender_from_config(settings, base_dir=config.path.parent)
        )
        try:
            result.report = await run_actions(
                result.plan, store=store, connector=None if dry_run else connector, sender=sender,
                email_settings=settings, now=now, facts=facts, capabilities=capabilities, dry_run=dry_run,
            )
        finally:
            await sender.aclose()
        if result.report.stopped:
            problems.append(f"stopped early: {result.report.stopped}")
    result.ok = not problems
    result.error = "; ".join(problems) or None


# --- many clients --------------------------------------------------------------------------------


ClientWork = Callable[[ClientConfig, LocalStore], Awaitable[ClientRun]]


async def for_each_client(
    configs: Sequence[ClientConfig],
    work: ClientWork,
    *,
    concurrency: int = 4,
    create_store: bool = True,
) -> list[ClientRun]:
    """``work(config, store)`` for every client, at most ``concurrency`` at once; results in the
    order of ``configs``. A failure of one client (of winback's tree or a bug anywhere) becomes
    that client's result; the others go on. ``create_store=False`` never creates a database
    (read-only commands): a client without one gets "run `winback sync` first"."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    gate = asyncio.Semaphore(concurrency)
    pool = StorePool()

    async def one(config: ClientConfig) -> ClientRun:
        async with gate:
            try:
                store = await pool.get(config.database.url, create=create_store)
                return await work(config, store)
            except LocalStoreMissingError as exc:
                return _failed(config, str(exc))
            except WinbackError as exc:
                log.error("%s: %s", config.name, exc, extra={"client": config.name})
                return _failed(config, str(exc))
            except Exception as exc:  # one client's bug must not stop the others
                log.exception("unexpected failure for %s", config.name, extra={"client": config.name})
                return _failed(config, f"unexpected {type(exc).__name__}: {exc}")

    try:
        return list(await asyncio.gather(*(one(config) for config in configs)))
    finally:
        await asyncio.to_thread(pool.close)


def _failed(config: ClientConfig, message: str) -> ClientRun:
    try:
        label, key = config.store_label, config.store_key
    except WinbackError:
        label, key = config.platform, config.platform
    return ClientRun(config.name, config.path, label, key).fail(message)


async def sync_clients(
    configs: Sequence[ClientConfig],
    *,
    full: bool = False,
    concurrency: int = 4,
    resources: Iterable[Resource | str] | None = None,
    progress: ClientProgress | None = None,
    connector_options: dict[str, Any] | None = None,
) -> list[ClientRun]:
    """``winback sync``: a run of every client that stops after the sync."""
    work = partial(run_client, plan=False, act=False, full=full, resources=resources, progress=progress,
                   connector_options=connector_options)
    return await for_each_client(configs, work, concurrency=concurrency)


async def plan_clients(
    configs: Sequence[ClientConfig],
    *,
    connect: bool = True,
    concurrency: int = 4,
    now: datetime | None = None,
    connector_options: dict[str, Any] | None = None,
) -> list[ClientRun]:
    """``winback plan``: plan every client from its local store; no sync, no side effects."""
    work = partial(run_client, sync=False, act=False, connect=connect, now=now, connector_options=connector_options)
    return await for_each_client(configs, work, concurrency=concurrency, create_store=False)


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
    """``winback run``: sync (unless ``sync=False``), plan and act for every client."""
    work = partial(run_client, sync=sync, dry_run=dry_run, now=now, lock_wait=lock_wait,
                   connector_options=connector_options)
    return await for_each_client(configs, work, concurrency=concurrency)


# --- what the local store knows ------------------------------------------------------------------

COUNTED = ("customers", "orders", "products", "buyers")


def client_status(config: ClientConfig, store: LocalStore | None) -> dict[str, Any]:
    """What the local store knows about the client's store, as plain JSON-able data
    (``store=None``: there is no local store yet, so nothing is known)."""
    key = config.store_key
    info = None if store is None else store.get_store(key)
    status: dict[str, Any] = {
        "client": config.name,
        "config": str(config.path),
        "platform": config.platform,
        "store_key": key,
        "store": config.store_label,
        "synced": info is not None,
        "store_name": None,
        "last_sync_started": None,
        "last_sync_finished": None,
        "last_error": None,
        "cursors": {},
        "deletion_cursors": {},
        "counts": dict.fromkeys((*COUNTED, "quarantined"), 0),
    }
    if store is not None:
        gone = disconnected_at(store, key)
        status["disconnected_at"] = _iso(gone)
        status["consent_pending"] = ConsentQueue(store).pending_count(key)
    if info is None or store is None:
        return status
    status.update(
        store_name=info["name"],
        last_sync_started=_iso(info["last_sync_started"]),
        last_sync_finished=_iso(info["last_sync_finished"]),
        last_error=info["last_error"],
        cursors=_cursors(store, key, deletions=False),
        deletion_cursors=_cursors(store, key, deletions=True),
        counts={**{name: store.count(key, name) for name in COUNTED}, "quarantined": store.count(key, "quarantine")},
    )
    return status


def _cursors(store: LocalStore, key: str, *, deletions: bool) -> dict[str, Any]:
    """Record cursors by resource, or (``deletions``) the deletion feeds' cursors by resource
    (kept as ``{resource}.deleted``; their ``cursor`` is the newest deletion time applied)."""
    found: dict[str, Any] = {}
    for row in store.cursors(key):
        resource, _, kind = str(row["resource"]).partition(".")
        if (kind == "deleted") != deletions:
            continue
        found[resource] = {
            "cursor": _iso(row["cursor_updated_at"]),
            "last_run_at": _iso(row["last_run_at"]),
            "records_seen": row["records_seen"],
        }
    return found


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
