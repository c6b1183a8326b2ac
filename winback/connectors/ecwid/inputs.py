"""Model → Ecwid request bodies, and the small pure checks the writes need.

Pure functions, kept apart from the connector so the shape of what we send (and how a found coupon
or customer is recognised as ours) can be read and tested without any transport around it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from winback import errors
from winback.connectors.ecwid import parse
from winback.model import DiscountCode, DiscountCodeSpec, DiscountKind, NewCustomer


def encode(body: Mapping[str, Any]) -> bytes:
    """JSON bytes for a request body; ``Decimal`` becomes a JSON number (an int when it is whole)."""
    def default(value: object) -> object:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        raise TypeError(f"cannot encode {type(value).__name__}")

    return json.dumps(body, default=default, ensure_ascii=False).encode()


def coupon_body(spec: DiscountCodeSpec, store_label: str) -> dict[str, Any]:
    """The ``POST /discount_coupons`` body; refuses usage limits Ecwid cannot express."""
    if spec.usage_limit == 1:
        uses = "SINGLE"
    elif spec.once_per_customer:
        uses = "ONCEPERCUSTOMER"
    elif spec.usage_limit is None:
        uses = "UNLIMITED"
    else:
        raise errors.NotSupportedError(
            f"{store_label}: Ecwid coupons can be limited to one use overall or once per customer, "
            f"not to {spec.usage_limit} uses",
            store=store_label,
        )
    body: dict[str, Any] = {
        "name": spec.title,
        "code": spec.code,
        "discountType": "PERCENT" if spec.kind == DiscountKind.PERCENTAGE else "ABS",
        "status": "ACTIVE",
        "discount": spec.value,
        "launchDate": parse.ecwid_date(spec.starts_at),
        "usesLimit": uses,
    }
    if spec.ends_at is not None:
        body["expirationDate"] = parse.ecwid_date(spec.ends_at)
    return body


def created_coupon(coupon_id: str, spec: DiscountCodeSpec, body: Mapping[str, Any], store_id: str) -> DiscountCode:
    """The :class:`DiscountCode` Ecwid now holds after accepting ``body`` (built from ``spec``)."""
    return DiscountCode(
        platform=parse.PLATFORM,
        store_id=store_id,
        id=coupon_id,
        code=spec.code,
        title=spec.title,
        kind=spec.kind,
        value=spec.value,
        starts_at=spec.starts_at.replace(microsecond=0),
        ends_at=spec.ends_at.replace(microsecond=0) if spec.ends_at else None,
        once_per_customer=body["usesLimit"] == "ONCEPERCUSTOMER",
        usage_limit=1 if body["usesLimit"] == "SINGLE" else None,
    )


def customer_body(spec: NewCustomer) -> dict[str, Any]:
    """The ``POST /customers`` body; Ecwid has no customer tags, so ``spec.tags`` is not sent."""
    name = " ".join(p for p in (spec.first_name, spec.last_name) if p)
    person: dict[str, Any] = {"name": name}
    if spec.first_name:
        person["firstName"] = spec.first_name
    if spec.last_name:
        person["lastName"] = spec.last_name
    if spec.phone:
        person["phone"] = spec.phone
    body: dict[str, Any] = {"email": spec.email, "billingPerson": person}
    if spec.accepts_marketing is not None:
        body["acceptMarketing"] = spec.accepts_marketing
    return body


def has_code(raw: Any, code: str) -> bool:
    """Whether a listed coupon's code equals ``code`` case-insensitively (Ecwid's search is partial)."""
    return isinstance(raw, Mapping) and str(raw.get("code", "")).casefold() == code.casefold()


def has_email(raw: Any, email: str) -> bool:
    """Whether a listed customer's email equals ``email``, ignoring case and surrounding blanks."""
    return isinstance(raw, Mapping) and str(raw.get("email", "")).strip().casefold() == email.strip().casefold()
