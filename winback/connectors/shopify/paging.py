"""Cursor paging of Admin GraphQL connections, and a page of nodes → :class:`Page`.

Every list in the Admin API is a connection: ``nodes`` plus ``pageInfo { hasNextPage endCursor }``,
and the next page is asked for with ``after: <endCursor>``. :class:`CursorPaginator` holds that
cursor and nothing else (no I/O, no store), shaped like meltano's ``BaseAPIPaginator``, so the same
object pages a top-level connection (:func:`paged`) and a nested one (:func:`complete_line_items`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

from winback import errors
from winback.connectors.base import Page, Resource
from winback.connectors.shopify import documents as docs
from winback.connectors.shopify import parse
from winback.connectors.shopify.graphql import Decoded, Decoder, GraphQLClient
from winback.connectors.shopify.settings import MAX_PAGE_SIZE
from winback.connectors.shopify.throttle import largest_page

T = TypeVar("T")


def search_since(updated_since: datetime | None) -> str | None:
    """``updated_at:>='2026-01-01T00:00:00Z'`` (Shopify search syntax wants dates quoted); None for None."""
    if updated_since is None:
        return None
    if updated_since.tzinfo is None:
        raise ValueError("updated_since must be timezone-aware")
    stamp = updated_since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"updated_at:>='{stamp}'"


def page_size(document: docs.Document, variables: Mapping[str, Any], *, wanted: int = MAX_PAGE_SIZE) -> int:
    """The ``first`` to ask for: ``wanted``, lowered until one page's estimated cost fits the limit.

    ``variables`` are those that change the estimate (the line items per order, say); a page the
    API would refuse as too costly is never sent.
    """
    return min(wanted, largest_page(document.text, variables, ceiling=MAX_PAGE_SIZE))


class CursorPaginator:
    """The ``after`` cursor of one connection.

    ``has_more`` and ``get_next`` read a connection as the API answered it; ``advance`` moves to its
    ``endCursor`` or marks the paginator ``finished``; ``variables`` are what the next request sends.
    Paging stops when ``hasNextPage`` is false or no ``endCursor`` came with it.
    """

    def __init__(self, start_value: str | None = None, *, cursor_variable: str = "after") -> None:
        self.current_value = start_value
        self.finished = False
        self.cursor_variable = cursor_variable

    def get_next(self, connection: Mapping[str, Any]) -> str | None:
        info = connection.get("pageInfo") or {}
        return info.get("endCursor")

    def has_more(self, connection: Mapping[str, Any]) -> bool:
        info = connection.get("pageInfo") or {}
        return bool(info.get("hasNextPage")) and bool(self.get_next(connection))

    def advance(self, connection: Mapping[str, Any]) -> None:
        if self.has_more(connection):
            self.current_value = self.get_next(connection)
        else:
            self.finished = True

    def variables(self, base: Mapping[str, Any]) -> dict[str, Any]:
        return {**base, self.cursor_variable: self.current_value}


class Records(list[Any]):
    """A page's nodes that a decoder already translated into records (see :mod:`.decode`)."""


async def paged(
    gql: GraphQLClient,
    document: docs.Document,
    variables: Mapping[str, Any],
    connection: str,
    *,
    store: str,
    decoder: Decoder | None = None,
) -> AsyncIterator[list[Any]]:
    """The ``nodes`` of the top-level ``connection`` of ``document``, a page at a time, first page first.

    With a ``decoder``, a page it read is yielded as :class:`Records`, any other as raw nodes.
    """
    paginator = CursorPaginator()
    while not paginator.finished:
        data = await gql.execute(document, paginator.variables(variables), decoder=decoder)
        page = data.get(connection)
        if not isinstance(page, Mapping):
            raise errors.UnexpectedResponseError(
                f"{store} answered {document.name} without {connection}", store=store
            )
        nodes = page.get("nodes") or []
        yield Records(nodes) if isinstance(data, Decoded) else list(nodes)
        paginator.advance(page)


async def complete_line_items(gql: GraphQLClient, node: Any) -> Any:
    """The order ``node`` with all its line items, when more exist than fit in the page query."""
    if not isinstance(node, Mapping):
        return node
    connection = node.get("lineItems")
    info = parse._obj(connection, "pageInfo") or {}
    if not info.get("hasNextPage"):
        return node
    items = list(parse.line_item_nodes(node))
    paginator = CursorPaginator()
    paginator.advance(connection)
    first = page_size(docs.ORDER_LINE_ITEMS, {})
    while not paginator.finished:
        data = await gql.execute(docs.ORDER_LINE_ITEMS, paginator.variables({"id": node["id"], "first": first}))
        more = parse._obj(data, "order", "lineItems")
        if not isinstance(more, Mapping):
            break  # the order vanished meanwhile; keep what we have, the next sync sees it again
        items.extend(more.get("nodes") or [])
        paginator.advance(more)
    return {**node, "lineItems": {"nodes": items, "pageInfo": {"hasNextPage": False, "endCursor": None}}}


def to_page(
    nodes: list[Any],
    resource: Resource,
    parser: Callable[[Mapping[str, Any]], T],
    updated_since: datetime | None,
    *,
    store: str,
) -> Page[T] | None:
    """Translate ``nodes`` not older than ``updated_since``; None when nothing is left to commit.

    :class:`Records` are already translated (and none was rejected): they are only filtered."""
    if isinstance(nodes, Records):
        return _records_page(nodes, updated_since)
    if updated_since is not None:
        nodes = [n for n in nodes if not _older(n, updated_since)]
    records, rejected, newest = parse.translate(nodes, resource, parser, store=store)
    if not records and not rejected:
        return None
    return Page(records=records, rejected=rejected, newest_updated_at=newest)


def _records_page(records: Records, updated_since: datetime | None) -> Page[Any] | None:
    if updated_since is not None:
        records = Records(r for r in records if r.updated_at >= updated_since)
    if not records:
        return None
    return Page(records=list(records), rejected=[], newest_updated_at=max(r.updated_at for r in records))


def _older(node: Any, since: datetime) -> bool:
    """True when the node's updatedAt is known and before ``since`` (Shopify search is per day)."""
    if not isinstance(node, Mapping):
        return False
    updated = parse.parse_datetime(node.get("updatedAt"))
    return updated is not None and updated < since
