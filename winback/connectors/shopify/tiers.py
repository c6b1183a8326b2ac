"""A customer's tier on Shopify: a customer tag.

Tags are what Shopify merchants segment on (customer segments ``customer_tags CONTAINS 'VIP Gold'``,
discounts for a segment, Flow, their email app). ``tagsAdd`` and ``tagsRemove`` change only the
tags named, so the merchant's own tags stay; the customer's tags are read first
(``customer(id:) { tags }``) and only what differs is written, which makes a repeat after a crash
write nothing. Shopify compares tags case-insensitively, so do we. Scope: write_customers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from winback import errors
from winback.connectors.base import TierWrite
from winback.connectors.shopify import documents as docs
from winback.connectors.shopify import write_documents as write_docs

if TYPE_CHECKING:
    from winback.connectors.shopify.connector import ShopifyConnector


def customer_gid(customer_id: str) -> str:
    return customer_id if customer_id.startswith("gid://") else f"gid://shopify/Customer/{customer_id}"


async def set_customer_tier(
    connector: ShopifyConnector, customer_id: str, tier: str | None, tiers: Sequence[str]
) -> TierWrite:
    gid = customer_gid(customer_id)
    data = await connector.gql.execute(write_docs.CUSTOMER_TAGS, {"id": gid})
    node = data.get("customer")
    if not isinstance(node, Mapping):
        return TierWrite.NO_CUSTOMER
    present = {str(tag).casefold(): str(tag) for tag in node.get("tags") or ()}
    wanted = tier.casefold() if tier else None
    stale = [present[name.casefold()] for name in tiers if name.casefold() in present and name.casefold() != wanted]
    missing = [tier] if tier and wanted not in present else []
    if not stale and not missing:
        return TierWrite.ALREADY
    # Add before removing: a run cut short in between leaves the new tier shown (and the next run
    # removes the old), never a customer with no tier at all.
    if missing:
        await _mutate(connector, write_docs.TAGS_ADD, "tagsAdd", gid, missing)
    if stale:
        await _mutate(connector, write_docs.TAGS_REMOVE, "tagsRemove", gid, stale)
    return TierWrite.WRITTEN


async def _mutate(connector: ShopifyConnector, document: docs.Document, field: str, gid: str, tags: list[str]) -> None:
    data = await connector.gql.execute(document, {"id": gid, "tags": tags})
    payload: Any = data.get(field) or {}
    user_errors = payload.get("userErrors") or []
    if user_errors:
        first = user_errors[0]
        raise errors.PlatformRejectedError(
            f"{connector.store_label} refused to change the tags of customer {gid} ({', '.join(tags)}): "
            f"{first.get('message')}", store=connector.store_label,
        )
