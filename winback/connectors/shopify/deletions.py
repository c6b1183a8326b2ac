"""Shopify deletions: ``destroy`` events of the Admin API's ``events`` connection.

Shopify removes a deleted record entirely; what is left is an event. ``deletionEvents`` (the old
deletion feed) is deprecated in favour of ``events`` and only ever listed products and
collections, while ``events`` names its subject (``EventSubjectType``: ``ORDER``, ``CUSTOMER``,
``PRODUCT``, …) and its ``action`` (``destroy``: "The item was destroyed", a general action of
``BasicEvent``). So one query per resource, ``action:destroy AND subject_type:ORDER AND
created_at:>='…'`` sorted by ``CREATED_AT``, gives the deletions oldest first; events are kept for
a year.

What this covers and what it does not (see the README): products and orders are deleted with a
``destroy`` event. Customers are read the same way, but Shopify does not document that deleting a
customer emits one; a customer can only be deleted while they have no orders, so a stale customer
row never counts a purchase or times a reminder, and the ``customers/delete`` webhook (subscribed
by ``winback webhooks register``, applied by ``winback serve``) is the guaranteed path.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timezone
from typing import Any

from winback.connectors.base import Deletion, DeletionPage, Resource
from winback.connectors.shopify import documents as docs
from winback.connectors.shopify.graphql import GraphQLClient
from winback.connectors.shopify.paging import page_size, paged
from winback.connectors.shopify.parse import parse_datetime

log = logging.getLogger("winback.connectors.shopify")

SUBJECT_TYPES = {Resource.ORDERS: "ORDER", Resource.CUSTOMERS: "CUSTOMER", Resource.PRODUCTS: "PRODUCT"}
_GID_KINDS = {Resource.ORDERS: "Order", Resource.CUSTOMERS: "Customer", Resource.PRODUCTS: "Product"}


def events_search(resource: Resource, since: datetime | None) -> str:
    """The ``query`` of :data:`~.documents.DELETION_EVENTS` for ``resource`` since ``since``."""
    search = f"action:destroy AND subject_type:{SUBJECT_TYPES[resource]}"
    if since is not None:
        stamp = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        search += f" AND created_at:>='{stamp}'"
    return search


def parse_deletion_event(node: Any, resource: Resource) -> Deletion | None:
    """The deletion one event node reports, or ``None`` when it is not a ``destroy`` of a
    ``resource`` record with a readable id and time (the search is trusted, not relied on)."""
    if not isinstance(node, Mapping) or node.get("action") != "destroy":
        return None
    if node.get("subjectType") != SUBJECT_TYPES[resource]:
        return None
    subject = node.get("subjectId")
    when = parse_datetime(node.get("createdAt"))
    if not isinstance(subject, str) or when is None:
        return None
    if not subject.startswith("gid://"):
        subject = f"gid://shopify/{_GID_KINDS[resource]}/{subject}"
    return Deletion(resource=resource, record_id=subject, deleted_at=when.astimezone(timezone.utc))


async def deletion_pages(
    gql: GraphQLClient, resource: Resource, since: datetime | None, *, wanted: int, store: str
) -> AsyncIterator[DeletionPage]:
    """``resource``'s deletions at or after ``since``, oldest first, one page per API page."""
    variables = {
        "first": page_size(docs.DELETION_EVENTS, {}, wanted=wanted),
        "query": events_search(resource, since),
    }
    async for nodes in paged(gql, docs.DELETION_EVENTS, variables, "events", store=store):
        found = [parse_deletion_event(node, resource) for node in nodes]
        deletions = [item for item in found if item is not None]
        skipped = len(found) - len(deletions)
        if skipped:
            log.warning("%s: %d events of deleted %s were not readable and were skipped", store, skipped, resource.value)
        yield DeletionPage(
            deletions=deletions,
            newest_deleted_at=max((item.deleted_at for item in deletions), default=None),
            skipped=skipped,
        )
