"""What ``winback serve`` holds while it runs: the clients of the folder, their stores, and the
background work (webhook events, debounced syncs, consent pushes).

Requests only record: a webhook becomes a ``webhook_events`` row and an unsubscribe a
``consent_changes`` row, both committed before the answer. The work happens here, in tasks the
answer never waits for, and the rows make it survive a restart: on start every event still
``received`` and every change still pending is picked up again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from winback.clients import StorePool, run_client
from winback.config import ClientConfig, load_config_dir
from winback.errors import ConfigError, WinbackError
from winback.notify.oneclick import install_secret
from winback.rules.consent import ConsentQueue, push_pending
from winback.sync import LocalStore, tables
from winback.web.events import handle_event

log = logging.getLogger("winback.web")
_events = tables.webhook_events
PRIVACY_TOPICS = {"shopify": {"customers/redact", "shop/redact", "customers/data_request"}}
"""Topics whose payload is never dropped before they succeed: the platform does not send them again."""


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Knobs of one server; the defaults suit production."""

    public_url: str | None = None
    body_limit: int = 256 * 1024
    """Largest webhook or form body accepted (413 above it). Shopify orders are well under it."""
    debounce_s: float = 5.0
    """A burst of order webhooks for one store becomes one incremental sync after this wait."""
    retry_interval_s: float = 60.0
    """How often pending consent changes are tried again; also the first wait before a failed
    webhook event is tried again (doubling after each failure)."""
    event_attempts: int = 5
    """Tries of a webhook event in one server life before it is given up (privacy topics keep
    their payload even then, so the next start tries them again)."""


class Hub:
    """The clients of one config folder and the server's background work."""

    def __init__(self, config_dir: Path, options: ServeOptions | None = None) -> None:
        self.config_dir = Path(config_dir)
        self.options = options or ServeOptions()
        self.secret = install_secret(self.config_dir)
        self.clients: dict[str, ClientConfig] = {}
        self.shopify: dict[str, ClientConfig] = {}
        self.ecwid: dict[str, ClientConfig] = {}
        self.problems: list[ConfigError] = []
        self.pool = StorePool()
        self._events: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
        self._consent_wake = asyncio.Event()
        self._syncs: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._retries: set[asyncio.Task[None]] = set()
        self._attempts: dict[tuple[str, str], int] = {}
        self.handled = 0
        """Webhook events handled since start (the load bench reads it through /healthz)."""
        self.load()

    # --- clients -------------------------------------------------------------------------------

    def load(self) -> None:
        for result in load_config_dir(self.config_dir):
            if isinstance(result, ConfigError):
                self.problems.append(result)
                log.error("skipping a client: %s", result)
                continue
            self.add(result)

    def add(self, config: ClientConfig) -> None:
        """Serve ``config`` (also a client connected while the server runs)."""
        self.clients[config.path.stem] = config
        settings = config.store.settings
        if config.platform == "shopify":
            self.shopify[str(getattr(settings, "shop", "")).lower()] = config
        elif config.platform == "ecwid":
            self.ecwid[str(getattr(settings, "store_id", ""))] = config

    @staticmethod
    def webhook_secret(config: ClientConfig) -> bytes | None:
        """``[store] webhook_secret``, else ``[store] client_secret``: the app's signing key."""
        for name in ("webhook_secret", "client_secret"):
            value = getattr(config.store.settings, name, None)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if value:
                return str(value).encode("utf-8")
        return None

    async def store(self, config: ClientConfig) -> LocalStore:
        return await self.pool.get(config.database.url)

    # --- webhook events ------------------------------------------------------------------------

    async def record_event(self, config: ClientConfig, source: str, event_id: str, topic: str,
                           payload: Mapping[str, Any]) -> bool:
        """Keep the event (committed) and queue its work; False if its id was seen before."""
        store = await self.store(config)

        def insert() -> bool:
            try:
                with store.writing() as conn:
                    conn.execute(_events.insert().values(
                        source=source, event_id=event_id, store_key=config.store_key, topic=topic,
                        payload=dict(payload), status="received", received_at=datetime.now(UTC),
                    ))
            except IntegrityError:
                return False
            except WinbackError as exc:  # db_errors wraps it on some paths
                if "UNIQUE" in str(exc).upper() or "duplicate" in str(exc).lower():
                    return False
                raise
            return True

        fresh = await asyncio.to_thread(insert)
        if fresh:
            self._events.put_nowait((config.path.stem, source, event_id))
        return fresh

    async def _event_worker(self) -> None:
        while True:
            stem, source, event_id = await self._events.get()
            config = self.clients.get(stem)
            if config is None:
                continue
            store = await self.store(config)
            row = await asyncio.to_thread(_load_event, store, source, event_id)
            if row is None or not (row["status"] == "received" or (row["status"] == "failed" and row["payload"])):
                continue
            try:
                await handle_event(self, config, store, source, row["topic"], row["payload"] or {}, event_id)
            except Exception as exc:  # one bad event must not stop the worker
                await self._failed(config, store, (stem, source, event_id), row["topic"], exc)
            else:
                self._attempts.pop((source, event_id), None)
                await asyncio.to_thread(_finish_event, store, source, event_id, "done", None)
            self.handled += 1

    async def _failed(self, config: ClientConfig, store: LocalStore, item: tuple[str, str, str], topic: str,
                      exc: Exception) -> None:
        """The platform already got its 200 and will not send the event again, so a failure keeps
        the payload and the event ``received`` and tries it later (waits double). After
        ``event_attempts`` tries it is ``failed``; a privacy topic keeps its payload even then, so
        the next start tries it again (an erasure must not be dropped)."""
        _, source, event_id = item
        attempts = self._attempts.get((source, event_id), 0) + 1
        self._attempts[(source, event_id)] = attempts
        error = f"attempt {attempts}: {type(exc).__name__}: {exc}"[:500]
        if attempts < self.options.event_attempts:
            log.error("%s: webhook %s %s failed (attempt %d, will retry): %s", config.name, source, topic,
                      attempts, type(exc).__name__)
            await asyncio.to_thread(_note_failure, store, source, event_id, error)
            wait = self.options.retry_interval_s * 2 ** (attempts - 1)
            task = asyncio.create_task(self._requeue_later(item, wait))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)
            return
        self._attempts.pop((source, event_id), None)
        keep = topic in PRIVACY_TOPICS.get(source, ())
        log.error("%s: webhook %s %s failed %d times, given up%s: %s", config.name, source, topic, attempts,
                  " until the next start" if keep else "", type(exc).__name__)
        await asyncio.to_thread(_finish_event, store, source, event_id, "failed", error, keep_payload=keep)

    async def _requeue_later(self, item: tuple[str, str, str], wait: float) -> None:
        await asyncio.sleep(wait)
        self._events.put_nowait(item)

    async def _requeue_received(self) -> None:
        for stem, config in self.clients.items():
            try:
                store = await self.store(config)
                rows = await asyncio.to_thread(_received_events, store, config.store_key)
            except WinbackError as exc:
                log.error("%s: cannot read its webhook events: %s", config.name, exc)
                continue
            for source, event_id in rows:
                self._events.put_nowait((stem, source, event_id))

    # --- debounced syncs -----------------------------------------------------------------------

    def schedule_sync(self, config: ClientConfig) -> bool:
        """An incremental sync of the store after the debounce wait; False if one is already waiting."""
        stem = config.path.stem
        running = self._syncs.get(stem)
        if running is not None and not running.done():
            return False
        self._syncs[stem] = asyncio.create_task(self._sync_later(config))
        return True

    async def _sync_later(self, config: ClientConfig) -> None:
        await asyncio.sleep(self.options.debounce_s)
        store = await self.store(config)
        result = await run_client(config, store, plan=False, act=False)
        if not result.ok:
            log.warning("%s: webhook sync did not finish: %s", config.name, result.error)

    # --- consent pushes ------------------------------------------------------------------------

    def wake_consent(self) -> None:
        self._consent_wake.set()

    async def push_consent_once(self) -> None:
        from winback.sync.connections import disconnected_at

        for config in list(self.clients.values()):
            try:
                store = await self.store(config)
                queue = ConsentQueue(store)
                if not await asyncio.to_thread(queue.due, config.store_key):
                    continue
                if await asyncio.to_thread(disconnected_at, store, config.store_key) is not None:
                    continue
                async with config.build_connector() as connector:
                    report = await push_pending(store, config.store_key, connector,
                                                base_wait=timedelta(seconds=self.options.retry_interval_s))
                if report.failed:
                    log.info("%s: %d consent change(s) wait for the platform", config.name, report.failed)
            except WinbackError as exc:
                log.warning("%s: consent push failed: %s", config.name, exc)

    async def _consent_loop(self) -> None:
        while True:
            await self.push_consent_once()
            try:
                await asyncio.wait_for(self._consent_wake.wait(), self.options.retry_interval_s)
            except TimeoutError:
                pass
            self._consent_wake.clear()

    # --- life ----------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._requeue_received()
        self._tasks = [asyncio.create_task(self._event_worker()), asyncio.create_task(self._consent_loop())]

    async def stop(self) -> None:
        pending = [*self._tasks, *self._syncs.values(), *self._retries]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self.pool.close()


def _load_event(store: LocalStore, source: str, event_id: str) -> dict[str, Any] | None:
    with store.reading() as conn:
        row = conn.execute(select(_events).where(_events.c.source == source, _events.c.event_id == event_id)).mappings().first()
    return dict(row) if row else None


def _finish_event(store: LocalStore, source: str, event_id: str, status: str, error: str | None, *,
                  keep_payload: bool = False) -> None:
    values: dict[str, Any] = {"status": status, "error": error, "finished_at": datetime.now(UTC)}
    if not keep_payload:
        values["payload"] = None
    with store.writing() as conn:
        conn.execute(update(_events).where(_events.c.source == source, _events.c.event_id == event_id).values(**values))


def _note_failure(store: LocalStore, source: str, event_id: str, error: str) -> None:
    with store.writing() as conn:
        conn.execute(update(_events).where(_events.c.source == source, _events.c.event_id == event_id)
                     .values(error=error))


def _received_events(store: LocalStore, store_key: str) -> list[tuple[str, str]]:
    """Events to (re)try on start: every ``received`` one, and privacy events given up by an
    earlier server life (they still hold their payload)."""
    privacy = [topic for topics in PRIVACY_TOPICS.values() for topic in topics]
    retry = or_(_events.c.status == "received", and_(_events.c.status == "failed", _events.c.topic.in_(privacy)))
    with store.reading() as conn:
        rows = conn.execute(select(_events.c.source, _events.c.event_id, _events.c.status, _events.c.payload).where(
            _events.c.store_key == store_key, retry).order_by(_events.c.received_at))
        return [(r[0], r[1]) for r in rows if r[2] == "received" or r[3]]
