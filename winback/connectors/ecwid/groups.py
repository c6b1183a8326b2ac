"""A customer's tier on Ecwid: its customer group.

Ecwid has no customer tags; a customer belongs to exactly one customer group (``customerGroupId``,
0 being "General"), which the merchant can use for group prices and discounts, and which
``GET /customers?customerGroup=`` filters on. So a tier is a group of the same name:
``GET /customer_groups`` (scope read_customers) finds it, ``POST /customer_groups`` (documented with
scope create_customers) creates it the first time, and ``PUT /customers/{id}`` with
``customerGroupId`` (scopes read_customers, update_customers) moves the customer
(docs.ecwid.com/api-reference/rest-api/customers/customer-groups, .../update-customer).

A customer in a group that is not one of the tiers (a merchant's "Wholesale") is left alone: one
group per customer means a tier would silently take their wholesale prices away.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from winback import errors
from winback.connectors.base import TierWrite
from winback.connectors.http import create_at_most_once

GENERAL_GROUP = 0
"""Ecwid's built-in group of every customer not put in another."""
_PAGES = 20


class CustomerGroups:
    """Finds and creates groups by name for one connector (ids cached for its life)."""

    def __init__(
        self,
        get_json: Callable[..., Awaitable[Any]],
        post_json: Callable[[str, Mapping[str, Any]], Awaitable[Any]],
        put_json: Callable[[str, Mapping[str, Any]], Awaitable[Any]],
        noting_refusal: Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]],
        store_label: str,
    ) -> None:
        self._get = get_json
        self._post = post_json
        self._put = put_json
        self._noting_refusal = noting_refusal
        self._store_label = store_label
        self._ids: dict[str, int] = {}

    async def find(self, name: str) -> int | None:
        """The id of the group called ``name`` (case-insensitively), or ``None``."""
        wanted = name.casefold()
        if wanted in self._ids:
            return self._ids[wanted]
        offset = 0
        for _ in range(_PAGES):
            envelope = await self._get("/customer_groups", {"keyword": name, "offset": offset, "limit": 100})
            items = envelope.get("items") if isinstance(envelope, Mapping) else None
            if not isinstance(items, list):
                raise errors.UnexpectedResponseError(
                    f"{self._store_label} answered GET /customer_groups without an items list", store=self._store_label
                )
            for item in items:
                if isinstance(item, Mapping) and str(item.get("name", "")).casefold() == wanted and item.get("id") is not None:
                    self._ids[wanted] = int(item["id"])
                    return self._ids[wanted]
            offset += len(items)
            if not items or offset >= int(envelope.get("total", 0)):
                break
        return None

    async def find_or_create(self, name: str) -> int:
        found = await self.find(name)
        if found is not None:
            return found

        async def create() -> int:
            answer = await self._post("/customer_groups", {"name": name})
            if not isinstance(answer, Mapping) or answer.get("id") is None:
                raise errors.UnexpectedResponseError(
                    f"{self._store_label} created the customer group {name!r} but returned no id", store=self._store_label
                )
            self._ids[name.casefold()] = int(answer["id"])
            return int(answer["id"])

        return await self._noting_refusal(
            "create_customers", lambda: create_at_most_once(create=create, lookup=lambda: self.find(name)))

    async def set_tier(self, customer_id: str, tier: str | None, tiers: Sequence[str]) -> TierWrite:
        raw = await self._get(f"/customers/{customer_id}", missing_ok=True)
        if not isinstance(raw, Mapping):
            return TierWrite.NO_CUSTOMER
        current = int(raw.get("customerGroupId") or GENERAL_GROUP)
        current_name = str(raw.get("customerGroupName") or "").casefold()
        names = {name.casefold() for name in tiers}
        if current != GENERAL_GROUP and current_name not in names:
            return TierWrite.KEPT
        if tier is None:
            if current == GENERAL_GROUP:
                return TierWrite.ALREADY
            wanted = GENERAL_GROUP
        else:
            if current != GENERAL_GROUP and current_name == tier.casefold():
                return TierWrite.ALREADY
            wanted = await self.find_or_create(tier)
            if wanted == current:
                return TierWrite.ALREADY
        await self._noting_refusal(
            "update_customers", lambda: self._put(f"/customers/{customer_id}", {"customerGroupId": wanted}))
        return TierWrite.WRITTEN
