"""Translation between common-model records and table rows, both ways.

Writing: one function per record type returns the row dict (derived per-record columns such as
``counts_as_purchase`` included). Reading for export: rows become dicts keyed by the common
model's field names (nested ``Money``, ``EmailConsent`` and ``Address`` as dicts), plus the
derived facts under their column names, so ``Customer.model_validate`` accepts the dict once the
extra keys are dropped (see :data:`DERIVED_FIELDS`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from typing import Any

from winback.model import Address, Customer, LineItem, Order, Product, normalize_email

DERIVED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "customers": (
        "redacted", "deleted_at", "is_guest", "first_order_at", "last_order_at",
        "real_orders_count", "real_amount_spent",
    ),
    "orders": ("ordered_at", "net_total", "counts_as_purchase"),
    "products": (),
}


def email_hash(store_key: str, lower_email: str) -> str:
    return hashlib.sha256(f"{store_key}\n{lower_email}".encode()).hexdigest()


def _address_json(address: Address | None) -> dict[str, Any] | None:
    """``address.model_dump(mode="json", exclude_none=True)``, read straight from the instance:
    every field of :class:`Address` is ``str | None`` (a test holds the model to that), so the
    dump is its set fields in declaration order, and pydantic's serializer cost more per record
    than writing the whole row."""
    if address is None:
        return None
    return {name: value for name, value in address.__dict__.items() if value is not None}


_TEXTS: dict[int, tuple[Address, str]] = {}
_TEXTS_SIZE = 4096
"""As many as the Ecwid connector keeps shared addresses; about 1 MB when full. Larger memos (20,000
of each) saved little more CPU and held about 40 MB at 60k orders: memory must stay flat."""


def address_text(address: Address) -> str:
    """``json.dumps(_address_json(address))``, written out directly: the dump is a flat object of
    strings, and ``json.dumps`` writes one as ``{"name": "value", ...}`` with ``, `` and ``: ``
    between the pieces and each string escaped by ``encode_basestring_ascii`` (its default
    ``ensure_ascii``), in the dump's order. Half the cost of building the dict and running the
    encoder on it, for the one JSON value of most orders and customers that is not empty
    (``tests/unit/test_sync_rows.py`` compares both).

    Remembered per instance: a connector shares one frozen :class:`Address` between a buyer's
    orders (Ecwid's typed pages do), so the text is written once per buyer and batch. The memo
    holds the instance itself beside its text, so an ``id`` reused by a newer object never
    matches; it is bounded and cleared when full, like the amounts' memo."""
    key = id(address)
    found = _TEXTS.get(key)
    if found is not None and found[0] is address:
        return found[1]
    text = "{" + ", ".join([
        f'"{name}": {encode_basestring_ascii(value)}' for name, value in address.__dict__.items() if value is not None
    ]) + "}"
    if len(_TEXTS) >= _TEXTS_SIZE:
        _TEXTS.clear()
    _TEXTS[key] = (address, text)
    return text


def plain_json(raw: Any) -> Any:
    """Make a raw payload storable as JSON (Decimals and datetimes become text)."""
    return json.loads(json.dumps(raw, default=str))


def raw_key(raw: Any) -> str:
    canonical = json.dumps(raw, default=str, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


# --- model -> row ------------------------------------------------------------------------------


def customer_row(store_key: str, customer: Customer) -> dict[str, Any]:
    return {
        "store_key": store_key,
        "id": customer.id,
        "email": customer.email,
        "lower_email": normalize_email(customer.email),
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": customer.phone,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        "account_state": customer.account.value,
        "consent_state": customer.consent.state.value,
        "consent_updated_at": customer.consent.updated_at,
        "orders_count": customer.orders_count,
        "amount_spent": None if customer.amount_spent is None else customer.amount_spent.amount,
        "amount_spent_currency": None if customer.amount_spent is None else customer.amount_spent.currency,
        "tags": list(customer.tags),
        "default_address": _address_json(customer.default_address),
        "redacted": False,
        "deleted_at": None,
        "is_guest": customer.account.value == "guest",
        "birth_date": customer.birth_date,
        "birth_md": None if customer.birth_date is None else customer.birth_date.month * 100 + customer.birth_date.day,
    }


def net_total(order: Order) -> Decimal:
    """What the order is worth now: its current total where the platform gives one, else its
    total less what was refunded."""
    if order.current_total is not None:
        return order.current_total.amount
    return order.total.amount - (order.refunded.amount if order.refunded is not None else Decimal(0))


def order_row(store_key: str, order: Order) -> dict[str, Any]:
    return {
        "store_key": store_key,
        "id": order.id,
        "customer_id": order.customer_id,
        "email": order.email,
        "lower_email": normalize_email(order.email),
        "name": order.name,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "processed_at": order.processed_at,
        "cancelled_at": order.cancelled_at,
        "test": order.test,
        "financial_status": order.financial_status.value,
        "currency": order.total.currency,
        "total": order.total.amount,
        "current_total": None if order.current_total is None else order.current_total.amount,
        "refunded": None if order.refunded is None else order.refunded.amount,
        "accepts_marketing": order.accepts_marketing,
        "billing_address": _address_json(order.billing_address),
        "ordered_at": order.processed_at or order.created_at,
        "net_total": net_total(order),
        "counts_as_purchase": order.counts_as_purchase,
        "discount_codes": list(order.discount_codes),
        "fulfillment_status": order.fulfillment_status,
        "fulfilled_at": order.fulfilled_at,
        "delivered_at": order.delivered_at,
    }


def line_rows(store_key: str, order: Order) -> list[dict[str, Any]]:
    return [
        {
            "store_key": store_key,
            "order_id": order.id,
            "id": line.id,
            "position": position,
            "product_id": line.product_id,
            "variant_id": line.variant_id,
            "sku": line.sku,
            "title": line.title,
            "quantity": line.quantity,
            "current_quantity": line.current_quantity,
            "unit_price": None if line.unit_price is None else line.unit_price.amount,
            "currency": None if line.unit_price is None else line.unit_price.currency,
        }
        for position, line in enumerate(_unique_lines(order.line_items))
    ]


def _unique_lines(lines: Sequence[LineItem]) -> list[LineItem]:
    seen: dict[str, LineItem] = {}
    for line in lines:
        seen.setdefault(line.id, line)
    return list(seen.values())


def product_row(store_key: str, product: Product) -> dict[str, Any]:
    return {
        "store_key": store_key,
        "id": product.id,
        "title": product.title,
        "handle": product.handle,
        "url": product.url,
        "image_url": product.image_url,
        "status": product.status.value,
        "price": None if product.price is None else product.price.amount,
        "currency": None if product.price is None else product.price.currency,
        "created_at": product.created_at,
        "updated_at": product.updated_at,
    }


# --- row -> model-like dict --------------------------------------------------------------------


def _money(amount: Decimal | None, currency: str | None) -> dict[str, Any] | None:
    if amount is None or currency is None:
        return None
    return {"amount": amount, "currency": currency}


def customer_dict(row: Mapping[str, Any], *, platform: str, store_id: str, currency: str) -> dict[str, Any]:
    return {
        "platform": platform,
        "store_id": store_id,
        "id": row["id"],
        "email": row["email"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "phone": row["phone"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "account": row["account_state"],
        "consent": {"state": row["consent_state"], "updated_at": row["consent_updated_at"]},
        "orders_count": row["orders_count"],
        "amount_spent": _money(row["amount_spent"], row["amount_spent_currency"]),
        "tags": list(row["tags"] or ()),
        "default_address": row["default_address"],
        "redacted": row["redacted"],
        "deleted_at": row["deleted_at"],
        "is_guest": row["is_guest"],
        "first_order_at": row["first_order_at"],
        "last_order_at": row["last_order_at"],
        "real_orders_count": row["real_orders_count"],
        "real_amount_spent": _money(row["real_amount_spent"], currency),
        "birth_date": None if row.get("birth_date") is None else row["birth_date"].isoformat(),
    }


def line_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "product_id": row["product_id"],
        "variant_id": row["variant_id"],
        "sku": row["sku"],
        "title": row["title"],
        "quantity": row["quantity"],
        "current_quantity": row["current_quantity"],
        "unit_price": _money(row["unit_price"], row["currency"]),
    }


def order_dict(
    row: Mapping[str, Any], lines: list[dict[str, Any]], *, platform: str, store_id: str
) -> dict[str, Any]:
    currency = row["currency"]
    return {
        "platform": platform,
        "store_id": store_id,
        "id": row["id"],
        "name": row["name"],
        "email": row["email"],
        "customer_id": row["customer_id"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "processed_at": row["processed_at"],
        "cancelled_at": row["cancelled_at"],
        "test": row["test"],
        "financial_status": row["financial_status"],
        "total": _money(row["total"], currency),
        "current_total": _money(row["current_total"], currency),
        "refunded": _money(row["refunded"], currency),
        "line_items": lines,
        "billing_address": row["billing_address"],
        "accepts_marketing": row["accepts_marketing"],
        "ordered_at": row["ordered_at"],
        "net_total": _money(row["net_total"], currency),
        "counts_as_purchase": row["counts_as_purchase"],
        "discount_codes": list(row["discount_codes"] or ()),
        "fulfillment_status": row.get("fulfillment_status"),
        "fulfilled_at": row.get("fulfilled_at"),
        "delivered_at": row.get("delivered_at"),
    }


def product_dict(row: Mapping[str, Any], *, platform: str, store_id: str) -> dict[str, Any]:
    return {
        "platform": platform,
        "store_id": store_id,
        "id": row["id"],
        "title": row["title"],
        "handle": row["handle"],
        "url": row["url"],
        "image_url": row["image_url"],
        "status": row["status"],
        "price": _money(row["price"], row["currency"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def buyer_dict(row: Mapping[str, Any], *, currency: str) -> dict[str, Any]:
    result = {key: value for key, value in row.items() if key != "store_key"}
    result["real_amount_spent"] = _money(row["real_amount_spent"], currency)
    return result
