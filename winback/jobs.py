"""Run one job over many clients: sync every client's store, a bounded number at once.

Each client is isolated: its own connector, its own failure. One client's bad token, unreachable
platform or even a bug in a plugin never stops the others; it becomes that client's
:class:`ClientResult` with a message naming the store. Clients that share a database URL share
one :class:`~winback.sync.LocalStore` (opened and migrated once).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from winback.config import ClientConfig
from winback.connectors.base import Resource
from winback.errors import WinbackError
from winback.sync import LocalStore, SyncProgress, SyncReport, open_store, store_key, sync_store

log = logging.getLogger(__name__)

ClientProgress = Callable[[str, SyncProgress], None]
"""Called with the client's name after every committed page of that client's store."""

COUNTED = ("customers", "orders", "products", "buyers")


@dataclass(slots=True)
class ClientResult:
    """What happened to one client in :func:`sync_clients`."""

    client: str
    path: Path
    store: str
    """The store's label, e.g. ``acme.myshopify.com``."""
    ok: bool
    error: str | None = None
    report: SyncReport | None = None


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


def store_label(config: ClientConfig) -> str:
    """A human name for the client's store, built without any network call."""
    settings = config.store.settings
    for name in ("shop", "store_id", "store", "domain"):
        value = getattr(settings, name, None)
        if isinstance(value, str) and value:
            return value if name == "shop" else f"{config.platform} store {value}"
    return f"{config.platform} store"


async def sync_clients(
    configs: Sequence[ClientConfig],
    *,
    full: bool = False,
    concurrency: int = 4,
    resources: Iterable[Resource | str] | None = None,
    progress: ClientProgress | None = None,
    connector_options: dict[str, Any] | None = None,
) -> list[ClientResult]:
    """Sync every client's store; results come back in the order of ``configs``.

    ``resources`` overrides each config's ``[sync] resources``. ``connector_options`` are passed
    to every ``from_settings`` call (tests use it for a transport).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    wanted = None if resources is None else tuple(Resource(r) for r in resources)
    gate = asyncio.Semaphore(concurrency)
    pool = StorePool()

    async def one(config: ClientConfig) -> ClientResult:
        async with gate:
            return await _sync_client(config, pool, full=full, resources=wanted, progress=progress,
                                      connector_options=connector_options or {})

    try:
        return list(await asyncio.gather(*(one(config) for config in configs)))
    finally:
        await asyncio.to_thread(pool.close)


async def _sync_client(
    config: ClientConfig,
    pool: StorePool,
    *,
    full: bool,
    resources: tuple[Resource, ...] | None,
    progress: ClientProgress | None,
    connector_options: dict[str, Any],
) -> ClientResult:
    label = store_label(config)
    result = ClientResult(client=config.name, path=config.path, store=label, ok=False)
    log.info("syncing %s (%s)", config.name, label, extra={"client": config.name})

    def forward(event: SyncProgress) -> None:
        if progress is not None:
            progress(config.name, event)

    logged = False  # sync_store logs its own failures
    try:
        store = await pool.get(config.database.url)
        async with config.build_connector(**connector_options) as connector:
            result.store = connector.store_label
            logged = True
            result.report = await sync_store(
                connector,
                store,
                resources=resources or config.sync.resources,
                full=full,
                overlap=config.sync.overlap,
                progress=forward,
            )
        result.ok = True
    except WinbackError as exc:
        result.error = _naming_store(str(exc), result.store)
        if not logged:
            log.error("%s: %s", config.name, result.error, extra={"client": config.name})
    except Exception as exc:  # one client's bug must not stop the others
        log.exception("unexpected failure while syncing %s", config.name, extra={"client": config.name})
        result.error = _naming_store(f"unexpected {type(exc).__name__}: {exc}", result.store)
    return result


def _naming_store(message: str, label: str) -> str:
    return message if label in message else f"{label}: {message}"


# --- status ------------------------------------------------------------------------------------


async def client_store_key(config: ClientConfig) -> str:
    """The key of the client's store in the local database (builds the connector, no request)."""
    async with config.build_connector() as connector:
        return store_key(connector.platform, connector.store_id)


async def client_status(config: ClientConfig, store: LocalStore | None) -> dict[str, Any]:
    """What the local store knows about the client's store, as plain JSON-able data
    (``store=None``: there is no local store yet, so nothing is known)."""
    key = await client_store_key(config)
    return await asyncio.to_thread(_status, config, store, key)


def _status(config: ClientConfig, store: LocalStore | None, key: str) -> dict[str, Any]:
    info = None if store is None else store.get_store(key)
    status: dict[str, Any] = {
        "client": config.name,
        "config": str(config.path),
        "platform": config.platform,
        "store_key": key,
        "store": store_label(config),
        "synced": info is not None,
        "store_name": None,
        "last_sync_started": None,
        "last_sync_finished": None,
        "last_error": None,
        "cursors": {},
        "counts": dict.fromkeys((*COUNTED, "quarantined"), 0),
    }
    if info is None or store is None:
        return status
    status.update(
        store_name=info["name"],
        last_sync_started=_iso(info["last_sync_started"]),
        last_sync_finished=_iso(info["last_sync_finished"]),
        last_error=info["last_error"],
        cursors={
            row["resource"]: {
                "cursor": _iso(row["cursor_updated_at"]),
                "last_run_at": _iso(row["last_run_at"]),
                "records_seen": row["records_seen"],
            }
            for row in store.cursors(key)
        },
        counts={**{name: store.count(key, name) for name in COUNTED}, "quarantined": store.count(key, "quarantine")},
    )
    return status


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
