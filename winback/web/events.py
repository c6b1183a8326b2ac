"""What each webhook topic does, run by :class:`winback.web.hub.Hub` after the answer was sent.

Order and customer changes start a debounced incremental sync of that store (the sync engine
already knows how to read, translate and commit a change; a webhook only says *when*).
``app/uninstalled`` marks the store disconnected; ``customers/delete`` and ``orders/delete``
remove the record from the local store. The privacy topics answer for the local copy:
``customers/data_request`` writes a JSON file for the merchant, ``customers/redact`` forgets the
customer, ``shop/redact`` erases the store.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from winback.config import ClientConfig
from winback.connectors.base import Deletion, Resource
from winback.model import normalize_email
from winback.sync import LocalStore, privacy
from winback.sync.connections import mark_disconnected

log = logging.getLogger("winback.web")


class EventHost(Protocol):
    """What a webhook's work needs of the process that received it (the :class:`~winback.web.hub.Hub`);
    a protocol so this module does not import the hub that imports it."""

    config_dir: Path

    def schedule_sync(self, config: ClientConfig) -> bool: ...

SYNC_TOPICS = {
    "shopify": {"orders/create", "orders/updated", "customers/update", "customers/create"},
    "ecwid": {"order.created", "order.updated", "customer.created", "customer.updated"},
}
UNINSTALL_TOPICS = {"shopify": {"app/uninstalled"}, "ecwid": {"application.uninstalled"}}
DELETE_TOPICS = {"shopify": {"customers/delete": (Resource.CUSTOMERS, "Customer"),
                             "orders/delete": (Resource.ORDERS, "Order")}}
"""Deletions the platform announces by webhook: the record leaves the local store at once (a
deleted Shopify customer emits no documented ``destroy`` event, so this is the path for them)."""
DATA_REQUESTS_DIR = "data_requests"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


async def handle_event(hub: EventHost, config: ClientConfig, store: LocalStore, source: str, topic: str,
                       payload: Mapping[str, Any], event_id: str) -> None:
    if topic in SYNC_TOPICS.get(source, ()):
        hub.schedule_sync(config)
    elif topic in UNINSTALL_TOPICS.get(source, ()):
        await asyncio.to_thread(mark_disconnected, store, config.store_key, datetime.now(UTC), topic)
        log.warning("%s: the app was uninstalled from %s; runs stop until it is reinstalled",
                    config.name, config.store_label)
    elif topic in DELETE_TOPICS.get(source, ()):
        resource, kind = DELETE_TOPICS[source][topic]
        record_id = _gid(kind, payload.get("id"))
        if record_id is None:
            raise ValueError(f"{topic} webhook without an id")
        deletion = Deletion(resource=resource, record_id=record_id, deleted_at=datetime.now(UTC))
        removed = await asyncio.to_thread(store.apply_deletions, config.store_key, [deletion])
        log.info("%s: %s: %d stored %s removed", config.name, topic, removed, resource.value)
    elif source == "shopify" and topic == "customers/data_request":
        path = await asyncio.to_thread(write_data_request, hub.config_dir, config, store, payload, event_id)
        log.info("%s: customer data request answered in %s", config.name, path.name)
    elif source == "shopify" and topic == "customers/redact":
        customer_id, email = _customer_of(payload)
        await asyncio.to_thread(store.redact_customer, config.store_key, customer_id, email=email)
        if email:
            await asyncio.to_thread(privacy.erase_consent_history, store, config.store_key, email)
        files = await asyncio.to_thread(remove_data_requests, hub.config_dir, config, customer_id, email)
        log.info("%s: a customer's personal data was erased (customers/redact; %d data request file(s))",
                 config.name, files)
    elif source == "shopify" and topic == "shop/redact":
        counts = await asyncio.to_thread(privacy.erase_store, store, config.store_key)
        files = await asyncio.to_thread(remove_data_requests, hub.config_dir, config,
                                        everything=True)
        log.info("%s: the store's data was erased (shop/redact): %d rows, %d data request file(s)",
                 config.name, sum(counts.values()), files)
    else:
        log.info("%s: webhook topic %s needs nothing from winback", config.name, topic)


def _gid(kind: str, raw_id: Any) -> str | None:
    """Webhook payloads carry the numeric (REST) id; the local store keeps the GraphQL gid."""
    if raw_id in (None, ""):
        return None
    return str(raw_id) if str(raw_id).startswith("gid://") else f"gid://shopify/{kind}/{raw_id}"


def _customer_of(payload: Mapping[str, Any]) -> tuple[str | None, str | None]:
    customer = payload.get("customer") if isinstance(payload.get("customer"), Mapping) else {}
    customer_id = _gid("Customer", customer.get("id"))
    email = customer.get("email") or None
    return customer_id, (str(email) if email else None)


def _data_request_files(config_dir: Path, config: ClientConfig) -> list[Path]:
    folder = config_dir / DATA_REQUESTS_DIR
    return sorted(folder.glob(f"{_SAFE.sub('-', config.path.stem)}-*.json")) if folder.is_dir() else []


def remove_data_requests(config_dir: Path, config: ClientConfig, customer_id: str | None = None,
                         email: str | None = None, *, everything: bool = False) -> int:
    """Unlink the client's data request files (each a full dump of one customer): those of the
    customer (by id or email, read from each file) on ``customers/redact``, all of them with
    ``everything`` on ``shop/redact``. Returns how many were removed."""
    if not everything and customer_id is None and email is None:
        return 0
    wanted_email = normalize_email(email)
    removed = 0
    for path in _data_request_files(config_dir, config):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            whose, client = document.get("customer") or {}, document.get("client")
        except (OSError, ValueError, AttributeError):
            whose, client = None, config.name  # unreadable: only erasing everything removes it
        if client != config.name:  # another client whose file name starts alike ("acme-eu")
            continue
        if not everything:
            same_id = whose is not None and customer_id is not None and whose.get("id") == customer_id
            same_email = whose is not None and wanted_email is not None and \
                normalize_email(whose.get("email")) == wanted_email
            if not (same_id or same_email):
                continue
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def write_data_request(config_dir: Path, config: ClientConfig, store: LocalStore,
                       payload: Mapping[str, Any], event_id: str) -> Path:
    """``<config dir>/data_requests/<client>-<request>.json`` (0600): what winback holds on the
    customer, for the merchant to hand over. Named by the request, so a redelivery rewrites it."""
    customer_id, email = _customer_of(payload)
    request = payload.get("data_request") if isinstance(payload.get("data_request"), Mapping) else {}
    request_id = _SAFE.sub("-", str(request.get("id") or event_id))[:80]
    data = privacy.customer_data(store, config.store_key, customer_id, email)
    document = {
        "client": config.name, "store": config.store_label, "request_id": request.get("id"),
        "customer": {"id": customer_id, "email": email}, "orders_requested": payload.get("orders_requested"),
        "created_at": datetime.now(UTC).isoformat(), "held_by_winback": data,
    }
    folder = config_dir / DATA_REQUESTS_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{_SAFE.sub('-', config.path.stem)}-{request_id}.json"
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, ensure_ascii=False, default=str)
    os.replace(temp, path)
    return path
