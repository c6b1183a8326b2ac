"""Shopify-shaped ids, cursors and scalar renderings.

Ids are GIDs with large numbers derived from the world's keys (one base per type, so ids of
different types never look alike); cursors are opaque base64 JSON like Shopify's.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

ID_BASE = {
    "Customer": 7_000_000_000_000,
    "Order": 5_000_000_000_000,
    "Product": 8_000_000_000_000,
    "ProductVariant": 44_000_000_000_000,
    "LineItem": 13_000_000_000_000,
    "MailingAddress": 9_000_000_000_000,
    "MediaImage": 30_000_000_000_000,
    "DiscountCodeNode": 1_200_000_000_000,
    "DiscountRedeemCode": 19_000_000_000_000,
    "BulkOperation": 4_000_000_000_000,
    "WebhookSubscription": 1_500_000_000_000,
    "BasicEvent": 98_000_000_000_000,
    "Fulfillment": 6_100_000_000_000,
}


def gid(kind: str, key: int) -> str:
    return f"gid://shopify/{kind}/{ID_BASE[kind] + key}"


def parse_gid(value: str, kind: str) -> int | None:
    """The world key behind ``gid://shopify/<kind>/<n>``, or ``None`` when it is not one of ours."""
    prefix = f"gid://shopify/{kind}/"
    if not isinstance(value, str) or not value.startswith(prefix):
        return None
    number = value[len(prefix) :].split("?", 1)[0]
    if not number.isdigit():
        return None
    key = int(number) - ID_BASE[kind]
    return key if key > 0 else None


def encode_cursor(last_id: int, last_value: Any) -> str:
    raw = json.dumps({"last_id": last_id, "last_value": last_value}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, Any] | None:
    try:
        payload = json.loads(base64.b64decode(cursor.encode(), validate=True))
        return int(payload["last_id"]), payload["last_value"]
    except (ValueError, KeyError, TypeError):
        return None


def iso(moment: datetime | None) -> str | None:
    """Shopify's DateTime rendering: UTC, second precision, ``Z``."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": str(amount.quantize(Decimal("0.01"))), "currencyCode": currency}


def money_bag(amount: Decimal, currency: str) -> dict[str, dict[str, str]]:
    value = money(amount, currency)
    return {"shopMoney": value, "presentmentMoney": dict(value)}
