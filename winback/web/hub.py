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
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from winback.clients import StorePool, run_client
from winback.config import ClientConfig, load_config_dir
from winback.errors import ConfigError, WinbackError
from winback.notify.oneclick import install_secret
from winback.rules.consent import ConsentQueue, push_pending
from winback.sync import LocalStore, tables

log = logging.getLogger("winback.web")
_events = tables.webhook_events


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Knobs of one server; the defaults suit production."""

    public_url: str | None = None
    body_limit: int = 256 * 1024
    """Largest webhook or form body accepted (413 above it). Shopify orders are well under it."""
    debounce_s: float = 5.0
    """A burst of order webhooks for one store becomes one incremental sync after this wait."""
    retry_interval_s: float = 60.0
    """How often pending consent changes are tried again."""


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
        from winback.web.events import handle_event

        while True:
            stem, source, event_id = await self._events.get()
            config = self.clients.get(stem)
            if config is None:
                continue
            store = await self.store(config)
            row = await asyncio.to_thread(_load_event, store, source, event_id)
            if row is None or row["status"] != "received":
                continue
            try:
                await handle_event(self, config, store, source, row["topic"], row["payload"] or {}, event_id)
            except Exception as exc:  # one bad event must not stop the worker
                log.error("%s: webhook %s %s failed: %s", config.name, source, row["topic"], type(exc).__name__)
                await asyncio.to_thread(_finish_event, store, source, event_id, "failed", str(exc)[:500])
            else:
                await asyncio.to_thread(_finish_event, store, source, event_id, "done", None)
            self.handled += 1

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
        for task in [*self._tasks, *self._syncs.values()]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._syncs.values(), return_exceptions=True)
        self.pool.close()


def _load_event(store: LocalStore, source: str, event_id: str) -> dict[str, Any] | None:
    with store.reading() as conn:
        row = conn.execute(select(_events).where(_events.c.source == source, _events.c.event_id == event_id)).mappings().first()
    return dict(row) if row else None


def _finish_event(store: LocalStore, source: str, event_id: str, status: str, error: str | None) -> None:
    with store.writing() as conn:
        conn.execute(update(_events).where(_events.c.source == source, _events.c.event_id == event_id).values(
            status=status, error=error, payload=None, finished_at=datetime.now(UTC)))


def _received_events(store: LocalStore, store_key: str) -> list[tuple[str, str]]:
    with store.reading() as conn:
        rows = conn.execute(select(_events.c.source, _events.c.event_id).where(
            _events.c.store_key == store_key, _events.c.status == "received").order_by(_events.c.received_at))
        return [(r[0], r[1]) for r in rows]
