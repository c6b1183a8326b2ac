"""Shopify order nodes → :class:`~winback.model.Order`, decoded by msgspec and built without validation.

Why
    Reading orders was most of a Shopify sync's CPU outside the store. pydantic-core validating
    each order field by field (the former ``decode_nodes``) still made ten model instances per order
    through its generic machinery. Here msgspec reads the answer's bytes into the plain structs of
    :mod:`.order_structs` (in C, every shape checked there), and one Python pass builds each model
    with :meth:`~winback.model._Frozen.from_checked`: every value is already what validation would
    make it, repeated ones (currencies, times, product ids of a page) are made once.

What the caller may rely on
    - A fast path, never a second opinion: what it accepts, :func:`.parse.parse_order` accepts
      too and translates into an equal record (``tests/unit/test_shopify_decode_orders.py`` builds
      both); anything else (one odd node, a page with ``errors``, a throttled answer, an order
      whose line items need another request) raises :class:`Refused` for the whole batch, and the
      caller reads it the ordinary way, which quarantines what is malformed as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import msgspec

from winback.connectors.shopify import parse
from winback.connectors.shopify.order_structs import (
    AddressNode,
    LineNode,
    MoneyNode,
    MoneySet,
    OrderNode,
    OrdersAnswer,
    Shipment,
)
from winback.model import Address, FinancialStatus, LineItem, Money, Order


class Refused(ValueError):
    """A batch the fast path does not read; the caller reads it the ordinary way."""


def decoded(decoder: msgspec.json.Decoder[Any], data: bytes) -> Any:
    """``data`` decoded into ``decoder``'s type, or :class:`Refused` when it is not JSON (cut off,
    say) or not of the usual shape."""
    try:
        return decoder.decode(data)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise Refused(str(exc)) from None


def page_info_of(info: Any) -> dict[str, Any] | None:
    """A connection's ``pageInfo`` struct as the plain dict the paging code reads."""
    return None if info is None else {"hasNextPage": info.hasNextPage, "endCursor": info.endCursor}


_UTC = timezone.utc
_from_iso = datetime.fromisoformat
_new_money = Money.from_checked
_new_address = Address.from_checked
_new_line = LineItem.from_checked
_new_order = Order.from_checked
_FINANCIAL = parse.FINANCIAL
_PLATFORM = parse.PLATFORM
_UNKNOWN = FinancialStatus.UNKNOWN

_AMOUNT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")
"""A decimal amount as Shopify writes it; ``Decimal`` and pydantic read such text alike."""
_CURRENCY = re.compile(r"[A-Z]{3}")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])")
"""The times :func:`.parse.parse_datetime`, :func:`datetime.fromisoformat` and pydantic read alike
(a fraction past microseconds truncated by all three)."""

_answer = msgspec.json.Decoder(OrdersAnswer)
_nodes = msgspec.json.Decoder(list[OrderNode])

_KEPT = 8192
"""Distinct times and amounts kept between batches (a dict each, emptied when full)."""
_times: dict[str, datetime] = {}
_money: dict[tuple[str, str], Money] = {}


def utc_time(text: str) -> datetime:
    """``text`` as a UTC time, made once per distinct text (a frozen value, safe to share)."""
    found = _times.get(text)
    if found is None:
        if _TIME.fullmatch(text) is None:
            raise Refused(f"not a time of the usual form: {text!r}")
        try:
            found = _from_iso(text)
            if found.tzinfo is not _UTC:
                found = found.astimezone(_UTC)
        except (ValueError, OverflowError):  # no such day; outside datetime's years once in UTC
            raise Refused(f"not a time: {text!r}") from None
        if len(_times) >= _KEPT:
            _times.clear()
        _times[text] = found
    return found


def _money_of(value: MoneySet | None) -> Money | None:
    """``{shopMoney {amount currencyCode}}`` → :class:`Money` (see :func:`money_of`)."""
    return None if value is None else money_of(value.shopMoney)


def money_of(node: MoneyNode | None) -> Money | None:
    """``{amount currencyCode}`` → :class:`Money`, one instance per distinct amount and currency
    (models are frozen: records may share one)."""
    if node is None:
        return None
    key = (node.amount, node.currencyCode)
    found = _money.get(key)
    if found is None:
        amount, currency = key
        if _AMOUNT.fullmatch(amount) is None or _CURRENCY.fullmatch(currency) is None:
            raise Refused(f"not an amount of the usual form: {amount!r} {currency!r}")
        found = _new_money({"amount": Decimal(amount), "currency": currency})
        if len(_money) >= _KEPT:
            _money.clear()
        _money[key] = found
    return found


def orders_answer(data: bytes, store_id: str) -> tuple[list[Order], Any, Any]:
    """An ``OrdersPage`` answer → its orders, its ``pageInfo`` (``{hasNextPage, endCursor}`` or
    ``None``) and its ``extensions`` (decoded as plain JSON)."""
    answer = decoded(_answer, data)
    connection = answer.data.orders
    return [_order(node, store_id) for node in connection.nodes], page_info_of(connection.pageInfo), answer.extensions


def orders_list(data: bytes, store_id: str) -> list[Order]:
    """A JSON array of order nodes (a bulk export's rows put together) → its orders."""
    return [_order(node, store_id) for node in decoded(_nodes, data)]


def _order(node: OrderNode, store_id: str) -> Order:
    kept = _times.get
    total = _money_of(node.totalPriceSet)
    if total is None:
        raise Refused("an order without totalPriceSet.shopMoney")
    lines: tuple[LineItem, ...] = ()
    connection = node.lineItems
    if connection is not None:
        info = connection.pageInfo
        if info is not None and info.hasNextPage:
            raise Refused("an order whose line items need another request")
        lines = tuple([_line(item) for item in connection.nodes])
    created, updated, processed, cancelled = node.createdAt, node.updatedAt, node.processedAt, node.cancelledAt
    customer = node.customer
    financial = node.displayFinancialStatus
    status = node.displayFulfillmentStatus
    codes = node.discountCodes
    fulfilled_at = delivered_at = None
    if status == "FULFILLED" and node.fulfillments:
        fulfilled_at, delivered_at = _shipped(node.fulfillments)
    return _new_order(
        {
            "platform": _PLATFORM,
            "store_id": store_id,
            "id": node.id,
            "name": node.name,
            "email": node.email,
            "customer_id": None if customer is None else customer.id,
            "created_at": kept(created) or utc_time(created),
            "updated_at": kept(updated) or utc_time(updated),
            "processed_at": None if processed is None else kept(processed) or utc_time(processed),
            "cancelled_at": None if cancelled is None else kept(cancelled) or utc_time(cancelled),
            "test": node.test,
            "financial_status": _FINANCIAL.get(financial, _UNKNOWN) if type(financial) is str else _UNKNOWN,
            "total": total,
            "current_total": _money_of(node.currentTotalPriceSet),
            "refunded": _money_of(node.totalRefundedSet),
            "line_items": lines,
            "billing_address": address_of(node.billingAddress),
            "accepts_marketing": node.customerAcceptsMarketing,
            "discount_codes": tuple([code for code in codes if code]) if codes else (),
            "fulfillment_status": status.lower() if status else None,
            "fulfilled_at": fulfilled_at,
            "delivered_at": delivered_at,
        }
    )


def _line(node: LineNode) -> LineItem:
    product, variant, quantity = node.product, node.variant, node.quantity
    current = node.currentQuantity
    return _new_line(
        {
            "id": node.id,
            "product_id": None if product is None else product.id,
            "variant_id": None if variant is None else variant.id,
            "sku": node.sku or None,
            "title": node.title,
            "quantity": quantity,
            "current_quantity": quantity if current is None else current,
            "unit_price": _money_of(node.originalUnitPriceSet),
        }
    )


def _shipped(shipments: Sequence[Shipment]) -> tuple[datetime | None, datetime | None]:
    """The fulfilment and delivery times of a fulfilled order, as :func:`.parse.fulfilment`."""
    if len(shipments) == 1:  # the common case, without the lists
        only = shipments[0]
        if only.status != "SUCCESS":
            return None, None
        created, delivered = only.createdAt, only.deliveredAt
        return (utc_time(created) if created else None), (utc_time(delivered) if delivered else None)
    done = [shipment for shipment in shipments if shipment.status == "SUCCESS"]
    if not done:
        return None, None
    times = [utc_time(s.createdAt) for s in done if s.createdAt]
    delivered_texts = [s.deliveredAt for s in done]
    fulfilled_at = max(times) if times else None
    if all(delivered_texts):
        return fulfilled_at, max(utc_time(text) for text in delivered_texts if text)
    return fulfilled_at, None


_astuple = msgspec.structs.astuple


_addresses: dict[tuple[Any, ...], Address] = {}
_ADDRESSES_KEPT = 4096
"""As many as :func:`winback.sync.rows.address_text` remembers texts of (its memo is by instance)."""


def address_of(node: AddressNode | None) -> Address | None:
    """The address, one instance per distinct one (models are frozen: a customer's address repeats
    on each of their orders, and the store writes an address's JSON once per instance, see
    :func:`winback.sync.rows.address_text`), as the Ecwid connector shares its addresses."""
    if node is None:
        return None
    values = _astuple(node)
    found = _addresses.get(values)
    if found is not None:
        return found
    if values.count(None) == len(values):
        raise Refused("an address without values")  # parse.address reads {} as none; msgspec cannot tell
    found = _new_address_of(values)
    if len(_addresses) >= _ADDRESSES_KEPT:
        _addresses.clear()
    _addresses[values] = found
    return found


def _new_address_of(values: tuple[Any, ...]) -> Address:
    first, last, company, address1, address2, city, province, province_code, country, country_code, zip_, phone = values
    return _new_address(
        {
            "first_name": first,
            "last_name": last,
            "company": company,
            "address1": address1,
            "address2": address2,
            "city": city,
            "province": province,
            "province_code": province_code,
            "country": country,
            "country_code": country_code or None,
            "zip": zip_,
            "phone": phone,
        }
    )
