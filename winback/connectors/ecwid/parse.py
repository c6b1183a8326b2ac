"""Ecwid REST v3 payloads → :mod:`winback.model`. Pure functions; no HTTP.

Decisions a caller may rely on:

* Values (dates, amounts, ids, text) are read by :mod:`~winback.connectors.ecwid.values`; JSON is
  decoded with ``parse_float=Decimal``, so ``0.1`` stays ``0.1``; amounts are in the store
  currency from the profile (Ecwid orders carry no currency code).
* ids become strings: an order's id is Ecwid's public order id (``"EBJFT"``; numeric on old
  stores), shown to buyers as ``#EBJFT``, else its ``internalId`` when Ecwid sends no ``id``
  (:func:`order_key`); customers, products and coupons use their integer ids.
* ``paymentStatus``: PAID → PAID; AWAITING_PAYMENT → PENDING; PARTIALLY_REFUNDED and REFUNDED
  map to themselves; CANCELLED → VOIDED with ``cancelled_at`` = the order's ``updateDate`` (Ecwid
  reports no cancel time), so ``Order.is_cancelled`` holds; custom statuses → UNKNOWN.
  INCOMPLETE orders are abandoned checkouts, not orders: :func:`is_real_order` is false and the
  connector drops them.
* Refunds: ``refundedAmount`` is filled only for Ecwid's own payment processor, so the refunded
  amount is the larger of it and the sum of ``refunds[].amount`` (which lists refunds made through
  any processor); ``None`` when the order has neither. Ecwid reports no per-line refunds:
  ``current_quantity`` equals ``quantity``, except on a fully refunded order where it is 0 so
  bestsellers do not count it. ``current_total`` is ``total`` minus the refunded amount (never
  below zero).
* Ecwid has no test-order flag: ``Order.test`` is always false.
* A customer listed by ``/customers`` has an account (``registered`` is its registration date):
  AccountState.ENABLED. Ecwid creates such a basic account for a guest buyer's email after the
  order, so guests are listed too; their orders still carry no ``customerId``. ``updated_at`` is
  ``updated``, else ``registered`` when Ecwid sends no ``updated``.
* ``acceptMarketing`` (customers and orders): ``false`` means must not be emailed promotions;
  ``true`` **and null** mean may be (Ecwid's documented meaning; a field Ecwid leaves out is null).
  So false → NOT_SUBSCRIBED / ``accepts_marketing=False``, anything else → SUBSCRIBED / ``True``.

Anything malformed raises :class:`RecordError` (a ``ValueError``) naming the field.

Orders and customers come by the thousand, so :func:`parse_order` and :func:`parse_customer` check
each value themselves and build the models with :meth:`~winback.model._Frozen.from_checked`
instead of validating them again field by field. They read the common shapes (text that is a
``str``, an amount that is a finite ``Decimal``, a count that is an ``int``, UNIX seconds in
:data:`~winback.connectors.ecwid.values.PLAIN_SECONDS`) in line and hand anything else to the
general readers of :mod:`~winback.connectors.ecwid.values`, so every value reads as those readers
read it and a malformed one raises the same error in the same order. Products, coupons and the
profile are few and are validated as usual (:mod:`~winback.connectors.ecwid.catalog`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from winback.model import (
    AccountState,
    Address,
    ConsentState,
    Customer,
    EmailConsent,
    FinancialStatus,
    LineItem,
    Money,
    Order,
    birth_date_of,
)

from winback.connectors.ecwid.catalog import parse_coupon, parse_product, parse_profile  # noqa: F401 - re-exported
from winback.connectors.ecwid.values import (  # noqa: F401 - re-exported: callers read values through parse
    PLAIN_SECONDS,
    RecordError,
    amount,
    amounts_in,
    decode_json,
    ecwid_date,
    id_text,
    money,
    parse_datetime,
    sort_key_seconds,
    text_or_none,
    timestamp_of,
)

_ZERO = Decimal("0")
_UTC = timezone.utc
_utc_from_seconds = datetime.fromtimestamp
_new_address = Address.from_checked
_new_line = LineItem.from_checked
_new_order = Order.from_checked
_new_customer = Customer.from_checked

PLATFORM = "ecwid"

FINANCIAL = {
    "PAID": FinancialStatus.PAID,
    "AWAITING_PAYMENT": FinancialStatus.PENDING,
    "PARTIALLY_REFUNDED": FinancialStatus.PARTIALLY_REFUNDED,
    "REFUNDED": FinancialStatus.REFUNDED,
    "CANCELLED": FinancialStatus.VOIDED,
}
"""``paymentStatus`` (upper case) → the model's status; any other reads as ``UNKNOWN``. This and the
other public values and helpers below are shared with the typed fast path (:mod:`.typed`), which
must read a record exactly as this parser does."""
_UNKNOWN = FinancialStatus.UNKNOWN
_REFUNDED = FinancialStatus.REFUNDED


def order_key(raw: Mapping[str, Any]) -> str:
    """An order's id: Ecwid's public ``id``, else its ``internalId`` (old stores, some bodies)."""
    if raw.get("id") in (None, "") and raw.get("internalId") not in (None, ""):
        return id_text(raw, "internalId")
    return id_text(raw)


def record_id(raw: Any) -> str | None:
    """The record's id if it has a readable one (for quarantine), else ``None``."""
    if type(raw) is dict or isinstance(raw, Mapping):
        order_id = raw.get("id")
        if type(order_id) is str and order_id:
            return order_id
        try:
            return order_key(raw)
        except RecordError:
            return None
    return None


def may_email(value: Any) -> bool:
    """Ecwid's ``acceptMarketing``: only ``false`` forbids promotions; ``true`` and null allow them."""
    return value is not False


def customer_updated(raw: Mapping[str, Any]) -> datetime:
    """A customer's ``updated``, else ``registered`` (Ecwid does not always send ``updated``)."""
    if raw.get("updated") in (None, "") and raw.get("registered") not in (None, ""):
        return parse_datetime(raw.get("registered"), "registered")
    return parse_datetime(raw.get("updated"), "updated")


def refunded_amount(raw: Mapping[str, Any]) -> Decimal | None:
    """The larger of ``refundedAmount`` (Ecwid's own processor only) and the sum of ``refunds[]``;
    ``None`` when the order has neither."""
    value = raw.get("refundedAmount")
    found = None if value is None else amount(value, "refundedAmount")
    refunds = raw.get("refunds")
    if refunds is None:
        return found
    if not isinstance(refunds, list):
        raise RecordError("refunds is not a list")
    total = Decimal("0")
    for index, refund in enumerate(refunds):
        if type(refund) is not dict and not isinstance(refund, Mapping):
            raise RecordError(f"refunds[{index}] is not an object")
        total += abs(amount(refund.get("amount"), f"refunds[{index}].amount"))
    return total if found is None or total > found else found  # max() keeps the first of equals


def _names(person: Mapping[str, Any]) -> tuple[str | None, str | None]:
    get = person.get
    first = (v.strip() or None) if type(v := get("firstName")) is str else text_or_none(v)
    last = (v.strip() or None) if type(v := get("lastName")) is str else text_or_none(v)
    if first or last:
        return first, last
    return split_name(get("name"))


def split_name(value: Any) -> tuple[str | None, str | None]:
    """``name`` as first name and the rest, for a person without ``firstName`` and ``lastName``."""
    name = text_or_none(value)
    if not name:
        return None, None
    head, _, tail = name.partition(" ")
    return head, (tail.strip() or None)


def address(person: Any, names: tuple[str | None, str | None] | None = None) -> Address | None:
    """``person`` (a ``billingPerson``) as an address; ``names`` are its :func:`_names` when the
    caller has read them already."""
    if (type(person) is not dict and not isinstance(person, Mapping)) or not person:
        return None
    first, last = names or _names(person)
    get = person.get
    street = (v.strip() or None) if type(v := get("street")) is str else text_or_none(v)
    if not street:
        line1 = line2 = None
    elif "\n" not in street:
        line1, line2 = street, None  # already stripped and not empty
    else:
        head, _, tail = street.partition("\n")
        line1, line2 = head.strip() or None, tail.strip() or None
    return _new_address({
        "first_name": first,
        "last_name": last,
        "company": (v.strip() or None) if type(v := get("companyName")) is str else text_or_none(v),
        "address1": line1,
        "address2": line2,
        "city": (v.strip() or None) if type(v := get("city")) is str else text_or_none(v),
        "province": (v.strip() or None) if type(v := get("stateOrProvinceName")) is str else text_or_none(v),
        "province_code": (v.strip() or None) if type(v := get("stateOrProvinceCode")) is str else text_or_none(v),
        "country": (v.strip() or None) if type(v := get("countryName")) is str else text_or_none(v),
        "country_code": (v.strip() or None) if type(v := get("countryCode")) is str else text_or_none(v),
        "zip": (v.strip() or None) if type(v := get("postalCode")) is str else text_or_none(v),
        "phone": (v.strip() or None) if type(v := get("phone")) is str else text_or_none(v),
    })


# --- records -----------------------------------------------------------------------------------


def is_real_order(raw: Mapping[str, Any]) -> bool:
    """False for INCOMPLETE orders (abandoned checkouts Ecwid lists only when asked)."""
    return str(raw.get("paymentStatus", "")).upper() != "INCOMPLETE"


def _line_items(items: Any, order_id: str, fully_refunded: bool, amounts: dict[str, Money]) -> tuple[LineItem, ...]:
    if not items:
        return ()
    if not isinstance(items, list):
        raise RecordError("items is not a list")
    lines = []
    for index, item in enumerate(items):
        if type(item) is not dict and not isinstance(item, Mapping):
            raise RecordError(f"items[{index}] is not an object")
        get = item.get
        quantity = get("quantity")
        if type(quantity) is not int or quantity < 0:
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
                raise RecordError(f"items[{index}].quantity is not a count: {quantity!r}")
            quantity = int(quantity)  # as validation turns an int subclass into an int
        price = get("price")
        if price is None:
            unit_price = None
        elif type(price) is Decimal and price.is_finite():
            unit_price = amounts[str(price)]
        else:
            unit_price = amounts[str(amount(price, f"items[{index}].price"))]
        line_id = get("id")
        product_id = get("productId")
        name = get("name")
        lines.append(_new_line({
            "id": str(line_id) if line_id is not None else f"{order_id}-{index}",
            "product_id": ((str(product_id) if product_id else None) if type(product_id) is int
                           else str(product_id) if product_id not in (None, 0, "") else None),
            "variant_id": None,
            "sku": (v.strip() or None) if type(v := get("sku")) is str else text_or_none(v),
            "title": name.strip() if type(name) is str else (text_or_none(name) or ""),
            "quantity": quantity,
            "current_quantity": 0 if fully_refunded else quantity,
            "unit_price": unit_price,
        }))
    return tuple(lines)


def parse_order(raw: Any, *, store_id: str, currency: str) -> Order:
    if type(raw) is not dict and not isinstance(raw, Mapping):  # the ABC check alone is slow
        raise RecordError("order is not an object")
    get = raw.get
    order_id = get("id")
    if type(order_id) is not str or not order_id:
        order_id = order_key(raw)
    seconds = get("createTimestamp")
    if type(seconds) is int and seconds in PLAIN_SECONDS:
        created = _utc_from_seconds(seconds, _UTC)
    else:
        created = timestamp_of(raw, "createTimestamp", "createDate")
    seconds = get("updateTimestamp")
    if type(seconds) is int and seconds in PLAIN_SECONDS:
        updated = _utc_from_seconds(seconds, _UTC)
    else:
        updated = timestamp_of(raw, "updateTimestamp", "updateDate")
    status_text = v.upper() if type(v := get("paymentStatus")) is str else str(v or "").upper()
    status = FINANCIAL.get(status_text, _UNKNOWN)
    total_amount = v if type(v := get("total")) is Decimal and v.is_finite() else amount(v, "total")
    amounts = amounts_in(currency)
    total = amounts[str(total_amount)]
    if get("refunds") is None:
        v = get("refundedAmount")
        refunded_value = None if v is None else v if type(v) is Decimal and v.is_finite() else amount(v, "refundedAmount")
    else:
        refunded_value = refunded_amount(raw)
    current = total_amount - (_ZERO if refunded_value is None else refunded_value)
    lines = _line_items(get("items"), order_id, status is _REFUNDED, amounts)
    customer = get("customerId")
    fulfillment = v.upper() if type(v := get("fulfillmentStatus")) is str else str(v or "").upper()
    coupon = get("discountCoupon")
    return _new_order({
        "platform": PLATFORM,
        "store_id": store_id,
        "id": order_id,
        "name": f"#{order_id}",
        "email": (v.strip() or None) if type(v := get("email")) is str else text_or_none(v),
        "customer_id": ((str(customer) if customer else None) if type(customer) is int
                        else str(customer) if customer not in (None, 0, "") else None),
        "created_at": created,
        "updated_at": updated,
        "processed_at": created,
        "cancelled_at": updated if status_text == "CANCELLED" else None,
        "test": False,
        "financial_status": status,
        "total": total,
        "current_total": amounts[str(_ZERO if current < _ZERO else current)],
        "refunded": None if refunded_value is None else amounts[str(refunded_value)],
        "line_items": lines,
        "billing_address": address(get("billingPerson")),
        "accepts_marketing": get("acceptMarketing") is not False,
        "discount_codes": () if coupon is None else coupon_codes(coupon),
        "fulfillment_status": fulfillment.lower() or None,
        "fulfilled_at": updated if fulfillment in HANDED_OVER else None,
        "delivered_at": updated if fulfillment == "DELIVERED" else None,
    })


HANDED_OVER = frozenset({"SHIPPED", "OUT_FOR_DELIVERY", "DELIVERED", "READY_FOR_PICKUP"})
"""``fulfillmentStatus`` values meaning the goods have left the merchant (or wait at pickup).

Ecwid keeps no timestamp per status: the order's ``updateDate`` stands in for ``fulfilled_at`` and
``delivered_at`` (status ``DELIVERED``), and the local store keeps the earliest one seen
(:func:`winback.sync.writes.write_orders`), so a later edit of an order shipped long ago does not
move it. ``WILL_NOT_DELIVER`` and ``RETURNED`` are neither."""


def coupon_codes(coupon: Any) -> tuple[str, ...]:
    """Ecwid carries at most one coupon per order (``discountCoupon{code, ...}``)."""
    code = coupon.get("code") if type(coupon) is dict or isinstance(coupon, Mapping) else None
    return (str(code),) if isinstance(code, str | int) and str(code) else ()


def extra_field(raw: Mapping[str, Any], key: str) -> Any:
    """The value of the customer extra field ``key``, as far as Ecwid shows one on a customer.

    Ecwid documents customer extra fields as store settings (``GET /store_extrafields/customers``:
    ``key``, ``title``, type ``text`` or ``datetime``; scope read_customers_extrafields) but shows no
    customer example carrying their values; orders carry checkout extra fields as an
    ``extraFields`` object of key to value. So both shapes are read: ``extraFields`` as such an
    object, or as a list of ``{key, value}``; anything else reads as no value.
    """
    fields = raw.get("extraFields")
    if isinstance(fields, Mapping):
        return fields.get(key)
    if isinstance(fields, list):
        for item in fields:
            if isinstance(item, Mapping) and item.get("key") == key:
                return item.get("value")
    return None


CONSENT = {True: EmailConsent(state=ConsentState.SUBSCRIBED), False: EmailConsent(state=ConsentState.NOT_SUBSCRIBED)}
"""The two consents a customer can have on Ecwid, shared: models are frozen."""


def parse_customer(raw: Any, *, store_id: str, currency: str, birth_date_field: str | None = None) -> Customer:
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise RecordError("customer is not an object")
    get = raw.get
    customer_id = str(v) if type(v := get("id")) is int or (type(v) is str and v) else id_text(raw)
    billing = get("billingPerson")
    if type(billing) is not dict and not isinstance(billing, Mapping):
        billing = {}
    names = _names(billing) if billing else None
    first, last = names or (None, None)
    if not (first or last):
        first, last = split_name(get("name"))
    registered = get("registered")
    created = parse_datetime(registered, "registered") if isinstance(registered, (str, int)) and registered else None
    updated = customer_updated(raw)
    stats = get("stats")
    if type(stats) is not dict and not isinstance(stats, Mapping):
        stats = {}
    count = stats.get("numberOfOrders", get("totalOrderCount"))
    spent = stats.get("salesValue")
    if spent is None:
        amount_spent: Money | None = None
    else:
        spent_amount = spent if type(spent) is Decimal and spent.is_finite() else amount(spent, "stats.salesValue")
        amount_spent = amounts_in(currency)[str(spent_amount)]
    return _new_customer({
        "platform": PLATFORM,
        "store_id": store_id,
        "id": customer_id,
        "email": (v.strip() or None) if type(v := get("email")) is str else text_or_none(v),
        "first_name": first,
        "last_name": last,
        "phone": text_or_none(billing.get("phone")) if billing else None,
        "created_at": created,
        "updated_at": updated,
        "account": AccountState.ENABLED if registered not in (None, False, "") else AccountState.GUEST,
        "consent": CONSENT[get("acceptMarketing") is not False],
        "orders_count": count if type(count) is int else int(count) if isinstance(count, int) and not isinstance(count, bool) else None,
        "amount_spent": amount_spent,
        "tags": (),
        "default_address": address(billing, names),
        "birth_date": birth_date_of(extra_field(raw, birth_date_field)) if birth_date_field else None,
    })
