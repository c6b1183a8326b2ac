"""A tiny scripted Shopify Admin GraphQL endpoint for pytest-httpx unit tests."""

from __future__ import annotations

import json
import re
from collections import defaultdict, deque
from typing import Any

import httpx

from winback.connectors.shopify import ShopifyConnector, ShopifySettings

SHOP = "acme.myshopify.com"
ENDPOINT = f"https://{SHOP}/admin/api/2026-07/graphql.json"
TOKEN = "shpat_unit_test_secret_0123456789"

_OPERATION = re.compile(r"\b(?:query|mutation)\s+(\w+)")


def cost(requested: int = 10, available: float = 1990.0, maximum: float = 2000.0, rate: float = 100.0) -> dict[str, Any]:
    return {
        "requestedQueryCost": requested,
        "actualQueryCost": None if available < requested else requested,
        "throttleStatus": {"maximumAvailable": maximum, "currentlyAvailable": available, "restoreRate": rate},
    }


def throttled_body(requested: int = 500, available: float = 100.0, rate: float = 100.0) -> dict[str, Any]:
    return {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/limits"}}],
        "extensions": {"cost": cost(requested=requested, available=available, rate=rate)},
    }


class FakeShopify:
    """Answers each operation (by name) from its own queue of scripted responses."""

    def __init__(self, httpx_mock: Any, url: str = ENDPOINT) -> None:
        self.queues: dict[str, deque[httpx.Response]] = defaultdict(deque)
        self.requests: list[tuple[str, dict[str, Any], httpx.Headers]] = []
        httpx_mock.add_callback(self, url=url, is_reusable=True)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        found = _OPERATION.search(body["query"])
        name = found.group(1) if found else "?"
        self.requests.append((name, body.get("variables") or {}, request.headers))
        queue = self.queues[name]
        if not queue:
            raise AssertionError(f"unexpected {name} request")
        return queue.popleft()

    def add(
        self,
        name: str,
        data: Any = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        status: int = 200,
        body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        query_cost: dict[str, Any] | None = None,
    ) -> None:
        if content is None:
            if body is None:
                body = {"extensions": {"cost": query_cost or cost()}}
                if data is not None:
                    body["data"] = data
                if errors is not None:
                    body["errors"] = errors
            content = json.dumps(body).encode()
        self.queues[name].append(
            httpx.Response(status, content=content, headers={"Content-Type": "application/json", **(headers or {})})
        )

    def names(self) -> list[str]:
        return [name for name, _, _ in self.requests]


class Sleeps(list):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def connector(sleep: Sleeps | None = None, **overrides: Any) -> ShopifyConnector:
    values: dict[str, Any] = {"shop": "acme", "access_token": TOKEN, "retry_base_delay_s": 0, "max_attempts": 3}
    values.update(overrides)
    return ShopifyConnector(ShopifySettings(**values), sleep=sleep if sleep is not None else Sleeps())


def page(connection: str, nodes: list[dict[str, Any]], *, next_cursor: str | None = None) -> dict[str, Any]:
    return {connection: {"nodes": nodes, "pageInfo": {"hasNextPage": next_cursor is not None, "endCursor": next_cursor}}}


def customer_node(n: int, updated: str = "2026-03-01T10:00:00Z", **extra: Any) -> dict[str, Any]:
    node = {
        "id": f"gid://shopify/Customer/{n}",
        "firstName": "Ada",
        "lastName": f"Buyer{n}",
        "createdAt": "2025-01-01T00:00:00Z",
        "updatedAt": updated,
        "state": "ENABLED",
        "numberOfOrders": "3",
        "tags": ["vip"],
        "amountSpent": {"amount": "120.50", "currencyCode": "EUR"},
        "defaultEmailAddress": {
            "emailAddress": f"buyer{n}@example.com",
            "marketingState": "SUBSCRIBED",
            "marketingUpdatedAt": "2025-02-01T00:00:00Z",
        },
        "defaultAddress": None,
    }
    node.update(extra)
    return node


def money(amount: str, currency: str = "EUR") -> dict[str, Any]:
    return {"shopMoney": {"amount": amount, "currencyCode": currency}}


def line_node(n: int, **extra: Any) -> dict[str, Any]:
    node = {
        "id": f"gid://shopify/LineItem/{n}",
        "title": f"Thing {n}",
        "quantity": 2,
        "currentQuantity": 1,
        "sku": f"SKU-{n}",
        "variant": {"id": f"gid://shopify/ProductVariant/{n}"},
        "product": {"id": f"gid://shopify/Product/{n}"},
        "originalUnitPriceSet": money("10.00"),
    }
    node.update(extra)
    return node


def order_node(n: int, updated: str = "2026-03-01T10:00:00Z", lines: list[dict[str, Any]] | None = None,
               more_lines_cursor: str | None = None, **extra: Any) -> dict[str, Any]:
    node = {
        "id": f"gid://shopify/Order/{n}",
        "name": f"#{1000 + n}",
        "email": f"buyer{n}@example.com",
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": updated,
        "processedAt": "2026-01-01T00:00:00Z",
        "cancelledAt": None,
        "test": False,
        "displayFinancialStatus": "PAID",
        "currencyCode": "EUR",
        "customer": {"id": f"gid://shopify/Customer/{n}"},
        "totalPriceSet": money("20.00"),
        "currentTotalPriceSet": money("10.00"),
        "totalRefundedSet": money("10.00"),
        "billingAddress": None,
        "lineItems": {
            "nodes": lines if lines is not None else [line_node(n)],
            "pageInfo": {"hasNextPage": more_lines_cursor is not None, "endCursor": more_lines_cursor},
        },
    }
    node.update(extra)
    return node
