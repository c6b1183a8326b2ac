"""Model → Shopify mutation inputs, and the small checks the writes need.

Pure functions, kept apart from the connector so the shape of what we send can be read (and tested)
without any transport around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from winback import errors
from winback.model import DiscountCodeSpec, DiscountKind, NewCustomer


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def discount_input(spec: DiscountCodeSpec, store_label: str) -> dict[str, Any]:
    """``DiscountCodeBasicInput`` for ``spec``; rejects what Shopify would refuse anyway."""
    if spec.kind == DiscountKind.PERCENTAGE:
        if spec.value > 100:
            raise errors.PlatformRejectedError(
                f"{store_label}: a percentage discount cannot exceed 100 % (got {spec.value})",
                store=store_label,
                field="value",
            )
        # Shopify wants a fraction 0..1 (GraphQL Float).
        value: dict[str, Any] = {"percentage": float(spec.value / Decimal(100))}
    else:
        value = {"discountAmount": {"amount": str(spec.value), "appliesOnEachItem": False}}
    body: dict[str, Any] = {
        "title": spec.title,
        "code": spec.code,
        "startsAt": iso(spec.starts_at),
        "appliesOncePerCustomer": spec.once_per_customer,
        "context": {"customers": {"add": [spec.customer_id]}} if spec.customer_id else {"all": "ALL"},
        "customerGets": {"value": value, "items": {"all": True}},
        # A win-back code replaces other order discounts but may ride along with free shipping.
        "combinesWith": {"orderDiscounts": False, "productDiscounts": False, "shippingDiscounts": True},
    }
    if spec.ends_at is not None:
        body["endsAt"] = iso(spec.ends_at)
    if spec.usage_limit is not None:
        body["usageLimit"] = spec.usage_limit
    return body


def customer_input(spec: NewCustomer, now: datetime) -> dict[str, Any]:
    """``CustomerInput`` for ``spec``; consent is only sent when the caller decided it."""
    body: dict[str, Any] = {"email": spec.email}
    if spec.first_name:
        body["firstName"] = spec.first_name
    if spec.last_name:
        body["lastName"] = spec.last_name
    if spec.phone:
        body["phone"] = spec.phone
    if spec.tags:
        body["tags"] = list(spec.tags)
    if spec.accepts_marketing is not None:
        consent: dict[str, Any] = {
            "marketingState": "SUBSCRIBED" if spec.accepts_marketing else "NOT_SUBSCRIBED",
            "consentUpdatedAt": iso(now),
        }
        if spec.accepts_marketing:
            consent["marketingOptInLevel"] = "SINGLE_OPT_IN"
        body["emailMarketingConsent"] = consent
    return body


def user_error_field(user_error: Mapping[str, Any]) -> str | None:
    field = user_error.get("field")
    if isinstance(field, list):
        return ".".join(str(f) for f in field) or None
    return str(field) if field else None

