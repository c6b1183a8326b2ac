"""Shopify bulk export of orders: run, poll, stream the JSONL and reassemble orders with their lines.

Flow (see Shopify's bulk operations guide): ``bulkOperationRunQuery`` → poll ``bulkOperation(id:)``
with back-off until ``COMPLETED`` → download ``url``. We ask for ``groupObjects: true`` so every
line item (a row with ``__parentId``) directly follows its order; an order is complete when the
next top-level row arrives, so memory holds one order at a time whatever the file size.

Rows are kept as the bytes of their line, read only for their ``id`` and ``__parentId``; a page of
orders is then decoded from those bytes (:mod:`.bulk_pages`), and only a page the decoder refuses
is decoded to dicts and translated node by node (which quarantines what is malformed).

The download URL is a signed URL on another host (Google Cloud Storage in production): it gets a
plain client without the access token, and its query string (the signature) is never logged.
A download that breaks off, or that comes back short of the operation's ``objectCount``, is
resumed by downloading again and skipping the rows already consumed (the file does not change).

:func:`bulk_wanted` says whether a full read is worth an export; :meth:`BulkExporter.order_pages`
runs one end to end and yields the same :class:`Page` s as the paged read, so the connector only
chooses between the two.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from winback import errors
from winback.connectors.base import Page, RejectedRecord, Resource

from winback.connectors.shopify import decode, parse
from winback.connectors.shopify import documents as docs
from winback.connectors.shopify.bulk_pages import order_page
from winback.connectors.shopify.graphql import GraphQLClient
from winback.connectors.shopify.order_structs import BulkRowKeys
from winback.connectors.shopify.settings import ShopifySettings
from winback.model import Order

log = logging.getLogger("winback.connectors.shopify")

Sleep = Callable[[float], Awaitable[None]]
FAILED_STATUSES = frozenset({"FAILED", "CANCELED", "CANCELING", "EXPIRED"})
LOG_EVERY_S = 10.0
POLL_GROWTH = 1.2
"""Each wait for an export's status is this much longer than the one before (up to
``bulk_poll_max_interval_s``). The export is seen finished at most one wait late, so a growth of
1.2 wastes at most a fifth of the time it took (1.5 wasted up to half: a 5-second export read at
the 4.75 s check was next seen at 8.1 s); the checks are cheap queries (a few cost points)."""
"""While polling, at most one INFO line per this many seconds."""


@dataclass(slots=True)
class BulkResult:
    id: str
    status: str
    url: str | None
    object_count: int
    error_code: str | None = None


@dataclass(slots=True)
class Row:
    """One JSONL row: its line as downloaded, and the keys that place it (``id``, ``__parentId``)."""

    line: bytes
    keys: BulkRowKeys

    @property
    def id(self) -> Any:
        return self.keys.id

    @property
    def parent(self) -> Any:
        return self.keys.parent

    def decoded(self) -> dict[str, Any]:
        row: dict[str, Any] = json.loads(self.line)
        return row


@dataclass(slots=True)
class BulkOrder:
    """One reassembled top-level row and the child rows that followed it."""

    row: Row
    children: list[Row] = field(default_factory=list)

    def node(self) -> dict[str, Any]:
        """The order as a page's node: its row with the children as ``lineItems.nodes``."""
        children = [child.decoded() for child in self.children]
        for child in children:
            child.pop("__parentId", None)
        return {**self.row.decoded(), "lineItems": {"nodes": children}}


@dataclass(slots=True)
class Orphan:
    """A child row whose parent is not the row before it (only if the file is not grouped)."""

    row: Row


async def bulk_wanted(gql: GraphQLClient, search: str | None, threshold: int | None) -> bool:
    """Whether a full orders read should be a bulk export (see ``ShopifySettings.bulk_threshold``).

    Between "never" and "always" it costs one ``ordersCount`` query, capped at ``threshold``.
    """
    if threshold is None or threshold < 0:
        return False
    if threshold == 0:
        return True
    data = await gql.execute(docs.ORDERS_COUNT, {"query": search, "limit": threshold})
    count = parse._obj(data, "ordersCount", "count")
    return isinstance(count, int) and count >= threshold


def download_client(settings: ShopifySettings, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    """A client for the signed download URL, apart from the API's.

    The URL is on another host and must never receive the access token, which the API client
    adds to every request. The caller owns the client and closes it.
    """
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
        follow_redirects=True,
    )


class BulkExporter:
    """One store's orders bulk export: :meth:`order_pages` runs it end to end; the steps are public."""

    def __init__(
        self,
        gql: GraphQLClient,
        settings: ShopifySettings,
        *,
        download: httpx.AsyncClient,
        store: str,
        sleep: Sleep,
        in_progress_retries: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``download`` is the :func:`download_client`; the poll, timeout and attempt limits come from ``settings``."""
        self.gql = gql
        self.download = download
        self.store = store
        self._sleep = sleep
        self.poll_interval_s = settings.bulk_poll_interval_s
        self.poll_max_interval_s = settings.bulk_poll_max_interval_s
        self.timeout_s = settings.bulk_timeout_s
        self.in_progress_retries = in_progress_retries
        self.download_attempts = settings.max_attempts
        self._clock = clock

    async def order_pages(
        self, search: str | None, updated_since: datetime | None, *, store_id: str, page_size: int
    ) -> AsyncIterator[Page[Order]]:
        """Export the orders matching ``search`` and yield them as pages of ``page_size`` orders.

        A line item that arrives away from its order is quarantined as a rejected record of the page
        it arrives in, not dropped.
        """
        operation = await self.start(docs.bulk_orders_query(search))
        log.info("%s: orders bulk export %s started; waiting for Shopify to write the file", self.store, operation)
        result = await self.wait(operation)
        log.info("%s: orders bulk export %s completed; downloading %d rows", self.store, operation, result.object_count)
        parser = functools.partial(parse.parse_order, store_id=store_id)
        orders: list[BulkOrder] = []
        orphans: list[RejectedRecord] = []
        async for item in self.orders(result):
            if isinstance(item, BulkOrder):
                orders.append(item)
            else:
                orphans.append(self._orphan(item))
            if len(orders) >= page_size:
                page = order_page(orders, orphans, parser, updated_since, store_id=store_id, store=self.store)
                orders, orphans = [], []
                if page is not None:
                    yield page
        page = order_page(orders, orphans, parser, updated_since, store_id=store_id, store=self.store)
        if page is not None:
            yield page

    def _orphan(self, item: Orphan) -> RejectedRecord:
        parent = item.row.parent
        log.warning("%s: bulk row %s arrived away from its order %s", self.store, item.row.id, parent)
        return RejectedRecord(
            resource=Resource.ORDERS,
            record_id=str(parent) if parent else None,
            reason="a line item arrived away from its order in the bulk export",
            raw=item.row.decoded(),
        )

    # --- run and poll ----------------------------------------------------------------------

    async def start(self, query: str) -> str:
        """Start a bulk query; waits and retries while Shopify says another one is running."""
        for attempt in range(self.in_progress_retries + 1):
            data = await self.gql.execute(docs.BULK_RUN_QUERY, {"query": query}, idempotent=True)
            # A duplicate export after an ambiguous failure is harmless (read-only, expires in a
            # week), so this mutation may be retried like a read.
            payload = data.get("bulkOperationRunQuery") or {}
            user_errors = payload.get("userErrors") or []
            if not user_errors:
                operation = payload.get("bulkOperation") or {}
                if not operation.get("id"):
                    raise errors.UnexpectedResponseError(
                        f"{self.store} started no bulk operation and reported no error", store=self.store
                    )
                return str(operation["id"])
            first = user_errors[0]
            if first.get("code") == "OPERATION_IN_PROGRESS" and attempt < self.in_progress_retries:
                delay = min(self.poll_max_interval_s, self.poll_interval_s * (2**attempt))
                log.info("%s: another bulk operation is running; retrying in %.1f s", self.store, delay)
                await self._sleep(delay)
                continue
            raise errors.PlatformRejectedError(
                f"{self.store} refused the bulk export ({first.get('code') or 'error'}): {first.get('message')}",
                store=self.store,
                code=first.get("code"),
                field=".".join(first.get("field") or []) or None,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    async def wait(self, operation_id: str) -> BulkResult:
        """Poll until the operation is COMPLETED; a failed, cancelled or expired one raises."""
        started = self._clock()
        interval = self.poll_interval_s
        logged_at: float | None = None
        while True:
            data = await self.gql.execute(docs.BULK_OPERATION, {"id": operation_id})
            operation = data.get("bulkOperation")
            if not isinstance(operation, Mapping):
                raise errors.UnexpectedResponseError(
                    f"{self.store} does not know bulk operation {operation_id}", store=self.store
                )
            status = str(operation.get("status"))
            if status == "COMPLETED":
                return BulkResult(
                    id=operation_id,
                    status=status,
                    url=operation.get("url"),
                    object_count=int(str(operation.get("objectCount") or 0)),
                )
            if status in FAILED_STATUSES:
                code = operation.get("errorCode")
                message = f"{self.store}: the orders bulk export ended {status}" + (f" ({code})" if code else "")
                if code == "ACCESS_DENIED":
                    raise errors.MissingScopeError(
                        message + ": the app lacks a scope the export needs (read_orders and "
                        "read_all_orders); release a new app version whose access scopes include it (Dev Dashboard → "
                        "the app → Versions) and have the merchant approve the updated scopes (authorization code: "
                        "run `winback connect` again).",
                        store=self.store,
                        scope="read_all_orders",
                    )
                raise errors.QueryError(message + "; try again later.", store=self.store, code=code or status)
            if self._clock() - started > self.timeout_s:
                raise errors.PlatformUnavailableError(
                    f"{self.store}: the orders bulk export did not finish within {self.timeout_s:.0f} s "
                    f"(status {status}); try again later.",
                    store=self.store,
                )
            now = self._clock()
            if logged_at is None or now - logged_at >= LOG_EVERY_S:
                logged_at = now
                log.info(
                    "%s: orders bulk export %s, %s objects so far, %.0f s elapsed; next check in %.1f s",
                    self.store, status, operation.get("objectCount") or 0, now - started, interval,
                )
            await self._sleep(interval)
            interval = min(self.poll_max_interval_s, interval * POLL_GROWTH)

    # --- download and reassembly -----------------------------------------------------------

    async def rows(self, result: BulkResult) -> AsyncIterator[Row]:
        """Every JSONL row of a completed operation, once each, resuming broken downloads."""
        if not result.url:
            if result.object_count == 0:
                return
            raise errors.UnexpectedResponseError(
                f"{self.store}: bulk operation {result.id} completed with {result.object_count} objects "
                f"but no download URL",
                store=self.store,
            )
        consumed = 0
        failures = 0
        reason = ""
        while True:
            try:
                async for row in self._download(result.url, skip=consumed):
                    consumed += 1
                    yield row
            except (httpx.TransportError, _Truncated, _BadStatus) as exc:
                reason = str(exc) or type(exc).__name__
            else:
                if consumed >= result.object_count:
                    return
                reason = f"{consumed} of {result.object_count} rows"
            failures += 1
            if failures >= self.download_attempts:
                raise errors.PlatformUnavailableError(
                    f"{self.store}: could not download the orders bulk export after {failures} attempts "
                    f"({reason}); try again later.",
                    store=self.store,
                )
            log.info("%s: bulk download broke off (%s); resuming after row %d", self.store, reason, consumed)
            await self._sleep(min(self.poll_max_interval_s, self.poll_interval_s * failures))

    async def _download(self, url: str, *, skip: int) -> AsyncIterator[Row]:
        where = httpx.URL(url).copy_with(query=None)
        async with self.download.stream("GET", url) as response:
            if response.status_code != 200:
                raise _BadStatus(f"HTTP {response.status_code} from {where}")
            index = 0
            async for line in _lines(response):
                if not line.strip():
                    continue
                if index < skip:
                    index += 1
                    continue
                keys = decode.row_keys(line)
                if keys is None:
                    raise _Truncated(_why_unreadable(line, index))
                index += 1
                yield Row(line, keys)

    async def orders(self, result: BulkResult) -> AsyncIterator[BulkOrder | Orphan]:
        """Top-level rows with their children, one at a time."""
        current: BulkOrder | None = None
        async for row in self.rows(result):
            parent = row.parent
            if parent is None:
                if current is not None:
                    yield current
                current = BulkOrder(row=row)
            elif current is not None and parent == current.row.id:
                current.children.append(row)
            else:
                yield Orphan(row=row)
        if current is not None:
            yield current


async def _lines(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body's lines as bytes (JSONL is UTF-8, split on ``\n``; a last line without one too)."""
    pending = b""
    async for chunk in response.aiter_bytes():
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        for line in lines:
            yield line
    if pending:
        yield pending


def _why_unreadable(line: bytes, index: int) -> str:
    try:
        json.loads(line)
    except ValueError:
        return f"undecodable row {index + 1}"
    return f"row {index + 1} is not an object"


class _Truncated(Exception):
    pass


class _BadStatus(Exception):
    pass
