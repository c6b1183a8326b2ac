"""Ecwid's deletion lists: ``GET /orders/deleted``, ``/customers/deleted``, ``/products/deleted``.

Each takes ``from_date``/``to_date`` (UNIX seconds) with ``offset``/``limit`` paging and answers
the usual envelope whose items are ``{id, orderId, date}`` (orders: ``id`` is the ``internalId``,
``orderId`` the public id) or ``{id, date}`` (customers, products) [Ecwid Java client:
DeletedOrdersSearchRequest, DeletedOrder, DeletedCustomer, DeletedProduct].
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from winback.connectors.base import Deletion, DeletionPage, Resource
from winback.connectors.ecwid.parse import RecordError, parse_datetime

log = logging.getLogger("winback.connectors.ecwid")

Search = Callable[[str, Mapping[str, Any]], Awaitable[Mapping[str, Any]]]
"""GET a list endpoint with these params; returns the envelope (``items`` checked to be a list)."""

ID_FIELDS = {"orders": ("orderId", "id"), "customers": ("id",), "products": ("id",)}
"""Where an entry carries the record's id. An order's entry names both its public ``orderId``
(what winback stores) and its ``internalId`` (what an order without a public id is stored by)."""

LIMIT = 100


def parse_deleted(raw: Any, resource: str) -> tuple[list[str], datetime]:
    """The ids one entry names and when the record was deleted; :class:`RecordError` when it
    names no id or has no readable ``date``."""
    if not isinstance(raw, Mapping):
        raise RecordError(f"a deleted {resource} entry is not an object: {raw!r}")
    ids: list[str] = []
    for name in ID_FIELDS[resource]:
        value = raw.get(name)
        if isinstance(value, (int, str)) and not isinstance(value, bool) and str(value).strip():
            if str(value).strip() not in ids:
                ids.append(str(value).strip())
    if not ids:
        raise RecordError(f"a deleted {resource} entry has no id: {raw!r}")
    return ids, parse_datetime(raw.get("date"), "date")


async def deletion_pages(
    search: Search, resource: Resource, since: datetime | None, *, page_size: int, store_label: str
) -> AsyncIterator[DeletionPage]:
    """Every deletion of ``resource`` at or after ``since`` (all Ecwid lists when ``None``), oldest
    first, in pages of ``page_size``.

    Ecwid documents no order for these lists, so the whole list since ``since`` is read first (ids
    and dates only: small) and sorted; a cursor taken from any committed page then never skips an
    earlier deletion. An entry without an id or a date is logged and skipped.
    """
    path = f"/{resource.value}/deleted"
    base: dict[str, Any] = {}
    if since is not None:
        base["from_date"] = int(since.astimezone(timezone.utc).timestamp())
    found: list[Deletion] = []
    skipped = 0
    offset = 0
    while True:
        envelope = await search(path, {**base, "offset": offset, "limit": LIMIT})
        items = list(envelope["items"])
        for raw in items:
            try:
                ids, when = parse_deleted(raw, resource.value)
            except RecordError as exc:
                skipped += 1
                log.warning("%s: an entry of %s was skipped: %s", store_label, path, exc)
                continue
            found.extend(Deletion(resource=resource, record_id=record_id, deleted_at=when) for record_id in ids)
        offset += len(items)
        total = envelope.get("total")
        if not items or (isinstance(total, int) and offset >= total):
            break
    found.sort(key=lambda item: (item.deleted_at, item.record_id))
    for start in range(0, max(len(found), 1 if skipped else 0), page_size):
        chunk = found[start : start + page_size]
        yield DeletionPage(
            deletions=chunk,
            newest_deleted_at=max((item.deleted_at for item in chunk), default=None),
            skipped=skipped if start == 0 else 0,
        )
