"""Typed Ecwid records (:mod:`~winback.connectors.ecwid.records`) → :mod:`winback.model`, for less CPU.

What a caller may rely on: :func:`order` and :func:`customer` build, value for value, what
:func:`~winback.connectors.ecwid.parse.parse_order` and
:func:`~winback.connectors.ecwid.parse.parse_customer` (without a birth date field) build from the
same record decoded as dicts (``tests/unit/test_ecwid_typed.py`` checks it page by page), or
return ``None`` for a record whose values they do not read in line (an amount that is text,
refunds the hand-checked parser refuses, an empty ``billingPerson``, a date it cannot read...):
the caller then hands :meth:`~winback.connectors.ecwid.records.Record.source` to the parser, which
reads it, or raises the same :class:`~winback.connectors.ecwid.values.RecordError` as before.

Addresses repeat (a customer's on each of their orders) and models are frozen, so one
:class:`~winback.model.Address` is shared per distinct ``billingPerson``, as amounts share their
:class:`~winback.model.Money`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import msgspec
from msgspec import UNSET

from winback.connectors.ecwid import parse
from winback.connectors.ecwid.records import (  # noqa: F401 - re-exported: the connector's one door
    CustomerRecord,
    Item,
    OrderRecord,
    Person,
    Record,
    decode_customers,
    decode_orders,
)
from winback.connectors.ecwid.values import RecordError, amounts_in, parse_datetime
from winback.model import Address, Customer, FinancialStatus, LineItem, Order

_ZERO = Decimal("0")
_UTC = timezone.utc
_utc_from_seconds = datetime.fromtimestamp
_CANCELLED = "CANCELLED"
_new_address = Address.from_checked
_new_line = LineItem.from_checked
_new_order = Order.from_checked
_new_customer = Customer.from_checked


# --- values ------------------------------------------------------------------------------------


def _amount(value: Any) -> Decimal:
    """An amount read in line as :func:`~values.amount` reads it; anything else is not read here."""
    if type(value) is Decimal and value.is_finite():
        return value
    if type(value) is int:
        return Decimal(value)
    raise _NotHere


class _NotHere(Exception):
    """A value the typed path leaves to the hand-checked parser."""


_ADDRESSES: dict[tuple[Any, ...], Address] = {}
_ADDRESSES_KEPT = 4096
_astuple = msgspec.structs.astuple


def _address(person: Person) -> Address:
    """:func:`parse.address` of a ``billingPerson`` that has at least one field, shared: models are
    frozen, and a customer's address repeats on each of their orders."""
    key = _astuple(person)
    found = _ADDRESSES.get(key)
    if found is not None:
        return found
    if all(value is UNSET for value in key):
        raise _NotHere  # {} reads as no address, but so might be a person with only unknown fields
    first = (v.strip() or None) if type(v := person.firstName) is str else None
    last = (v.strip() or None) if type(v := person.lastName) is str else None
    if not (first or last):
        first, last = parse.split_name(None if person.name is UNSET else person.name)
    street = (v.strip() or None) if type(v := person.street) is str else None
    if not street:
        line1 = line2 = None
    elif "\n" not in street:
        line1, line2 = street, None
    else:
        head, _, tail = street.partition("\n")
        line1, line2 = head.strip() or None, tail.strip() or None
    found = _new_address({
        "first_name": first,
        "last_name": last,
        "company": (v.strip() or None) if type(v := person.companyName) is str else None,
        "address1": line1,
        "address2": line2,
        "city": (v.strip() or None) if type(v := person.city) is str else None,
        "province": (v.strip() or None) if type(v := person.stateOrProvinceName) is str else None,
        "province_code": (v.strip() or None) if type(v := person.stateOrProvinceCode) is str else None,
        "country": (v.strip() or None) if type(v := person.countryName) is str else None,
        "country_code": (v.strip() or None) if type(v := person.countryCode) is str else None,
        "zip": (v.strip() or None) if type(v := person.postalCode) is str else None,
        "phone": (v.strip() or None) if type(v := person.phone) is str else None,
    })
    if len(_ADDRESSES) >= _ADDRESSES_KEPT:
        _ADDRESSES.clear()
    _ADDRESSES[key] = found
    return found


def _id_or_none(value: int | str | None) -> str | None:
    """A ``customerId`` or ``productId``: 0, ``""`` and null mean none."""
    return (str(value) if value else None) if type(value) is int else (value or None)


# --- records -----------------------------------------------------------------------------------


def is_real_order(record: OrderRecord) -> bool:
    """:func:`parse.is_real_order` of a typed order."""
    status = record.paymentStatus
    return status is None or status.upper() != "INCOMPLETE"


def order(record: OrderRecord, *, store_id: str, currency: str) -> Order | None:
    """:func:`parse.parse_order` of a typed order, or ``None`` when the hand-checked parser must
    read it (see the module's docstring)."""
    try:
        return _order(record, store_id, currency)
    except _NotHere:
        return None


def _order(record: OrderRecord, store_id: str, currency: str) -> Order:
    order_id = record.id
    created = _utc_from_seconds(record.createTimestamp, _UTC)
    updated = _utc_from_seconds(record.updateTimestamp, _UTC)
    status_text = "" if (v := record.paymentStatus) is None else v.upper()
    status = parse.FINANCIAL.get(status_text, FinancialStatus.UNKNOWN)
    total_amount = _amount(record.total)
    amounts = amounts_in(currency)
    if record.refunds is None:
        refunded_value = None if (v := record.refundedAmount) is None else _amount(v)
    else:
        try:
            refunded_value = parse.refunded_amount({"refundedAmount": record.refundedAmount, "refunds": record.refunds})
        except RecordError:
            raise _NotHere from None
    current = total_amount - (_ZERO if refunded_value is None else refunded_value)
    fulfillment = "" if (v := record.fulfillmentStatus) is None else v.upper()
    coupon = record.discountCoupon
    person = record.billingPerson
    return _new_order({
        "platform": parse.PLATFORM,
        "store_id": store_id,
        "id": order_id,
        "name": f"#{order_id}",
        "email": None if (v := record.email) is None else (v.strip() or None),
        "customer_id": _id_or_none(record.customerId),
        "created_at": created,
        "updated_at": updated,
        "processed_at": created,
        "cancelled_at": updated if status_text == _CANCELLED else None,
        "test": False,
        "financial_status": status,
        "total": amounts[str(total_amount)],
        "current_total": amounts[str(_ZERO if current < _ZERO else current)],
        "refunded": None if refunded_value is None else amounts[str(refunded_value)],
        "line_items": _lines(record.items, order_id, status is FinancialStatus.REFUNDED, amounts) if record.items else (),
        "billing_address": None if person is None else _address(person),
        "accepts_marketing": record.acceptMarketing is not False,
        "discount_codes": () if coupon is None else parse.coupon_codes(coupon),
        "fulfillment_status": fulfillment.lower() or None,
        "fulfilled_at": updated if fulfillment in parse.HANDED_OVER else None,
        "delivered_at": updated if fulfillment == "DELIVERED" else None,
    })


def _lines(items: list[Item], order_id: str, fully_refunded: bool, amounts: Any) -> tuple[Any, ...]:
    new_line = _new_line
    lines = []
    for index, item in enumerate(items):
        quantity = item.quantity
        price = item.price
        line_id = item.id
        name = item.name
        lines.append(new_line({
            "id": str(line_id) if line_id is not None else f"{order_id}-{index}",
            "product_id": _id_or_none(item.productId),
            "variant_id": None,
            "sku": None if (v := item.sku) is None else (v.strip() or None),
            "title": "" if name is None else name.strip(),
            "quantity": quantity,
            "current_quantity": 0 if fully_refunded else quantity,
            "unit_price": None if price is None else amounts[str(_amount(price))],
        }))
    return tuple(lines)


def customer_updated(record: CustomerRecord) -> datetime:
    """:func:`parse.customer_updated` of a typed customer, read once: the reader sorts by it and
    the parser reads it again."""
    found = record.updated_
    if type(found) is not datetime:  # never what a body decodes to
        updated, registered = record.updated, record.registered
        if updated in (None, "") and registered not in (None, ""):
            found = parse_datetime(registered, "registered")
        else:
            found = parse_datetime(updated, "updated")
        record.updated_ = found
    return found


def customer(record: CustomerRecord, *, store_id: str, currency: str) -> Customer | None:
    """:func:`parse.parse_customer` (no birth date field) of a typed customer, or ``None`` when the
    hand-checked parser must read it."""
    try:
        return _customer(record, store_id, currency)
    except (_NotHere, RecordError):
        return None


def _customer(record: CustomerRecord, store_id: str, currency: str) -> Customer:
    person = record.billingPerson
    default_address = None if person is None else _address(person)
    if default_address is None:
        first = last = phone = None
    else:
        first, last, phone = default_address.first_name, default_address.last_name, default_address.phone
    if not (first or last):
        first, last = parse.split_name(record.name)
    registered = record.registered
    created = parse_datetime(registered, "registered") if isinstance(registered, (str, int)) and registered else None
    updated = customer_updated(record)
    stats = record.stats
    if type(stats) is not dict:
        stats = {}
    count = stats.get("numberOfOrders", record.totalOrderCount)
    spent = stats.get("salesValue")
    amount_spent = None if spent is None else amounts_in(currency)[str(_amount(spent))]
    return _new_customer({
        "platform": parse.PLATFORM,
        "store_id": store_id,
        "id": str(record.id),
        "email": None if (v := record.email) is None else (v.strip() or None),
        "first_name": first,
        "last_name": last,
        "phone": phone,
        "created_at": created,
        "updated_at": updated,
        "account": parse.AccountState.ENABLED if registered not in (None, False, "") else parse.AccountState.GUEST,
        "consent": parse.CONSENT[record.acceptMarketing is not False],
        "orders_count": (count if type(count) is int
                         else int(count) if isinstance(count, int) and not isinstance(count, bool) else None),
        "amount_spent": amount_spent,
        "tags": (),
        "default_address": default_address,
        "birth_date": None,
    })
