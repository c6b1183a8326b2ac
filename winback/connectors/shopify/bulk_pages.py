"""A page of a bulk export's reassembled orders → :class:`Page`.

The orders are decoded in Rust from their rows' bytes (:func:`.decode.bulk_orders`) when the
decoder takes them all; otherwise each is decoded to a dict and translated node by node, which
quarantines what is malformed with its reason. Apart from :mod:`.bulk`, which runs, polls and
downloads the export, because what becomes of a page is the same whatever the download did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from winback.connectors.base import Page, RejectedRecord, Resource
from winback.connectors.shopify import decode
from winback.connectors.shopify.paging import Records, to_page
from winback.model import Order

if TYPE_CHECKING:
    from winback.connectors.shopify.bulk import BulkOrder


def decoded(orders: Sequence[BulkOrder], store_id: str) -> Records | None:
    """The orders decoded from their rows' bytes, or None when the decoder refuses them."""
    if any(b'"lineItems"' in order.row.line for order in orders):
        return None  # a row of its own with that key: the ordinary path decides which one wins
    groups = [(order.row.line, [child.line for child in order.children]) for order in orders]
    try:
        return Records(decode.bulk_orders(store_id, groups))
    except ValidationError:
        return None


def order_page(
    orders: Sequence[BulkOrder],
    orphans: list[RejectedRecord],
    parser: Callable[[Mapping[str, Any]], Order],
    updated_since: datetime | None,
    *,
    store_id: str,
    store: str,
) -> Page[Order] | None:
    """The page of ``orders`` not older than ``updated_since``, with ``orphans`` (line items that
    arrived away from their order) among its rejected records; None when nothing is left."""
    nodes: list[Any] | None = decoded(orders, store_id) if orders else []
    if nodes is None:
        nodes = [order.node() for order in orders]
    page = to_page(nodes, Resource.ORDERS, parser, updated_since, store=store)
    if not orphans:
        return page
    if page is None:
        return Page(records=[], rejected=orphans)
    return Page(records=page.records, rejected=page.rejected + orphans, newest_updated_at=page.newest_updated_at)
