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
instead of validating them again field by field; products, coupons and the profile are few and
are validated as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from winback.model import (
    AccountState,
    Address,
    ConsentState,
    Customer,
    DiscountCode,
    DiscountKind,
    EmailConsent,
    FinancialStatus,
    LineItem,
    Money,
    Order,
    Product,
    ProductStatus,
    Store,
    birth_date_of,
)

from winback.connectors.ecwid.values import (  # noqa: F401 - re-exported: callers read values through parse
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
_new_address = Address.from_checked
_new_line = LineItem.from_checked
_new_order = Order.from_checked
_new_customer = Customer.from_checked

PLATFORM = "ecwid"

_FINANCIAL = {
    "PAID": FinancialStatus.PAID,
    "AWAITING_PAYMENT": FinancialStatus.PENDING,
    "PARTIALLY_REFUNDED": FinancialStatus.PARTIALLY_REFUNDED,
    "REFUNDED": FinancialStatus.REFUNDED,
    "CANCELLED": FinancialStatus.VOIDED,
}
_DISCOUNT_KINDS = {"PERCENT": DiscountKind.PERCENTAGE, "ABS": DiscountKind.FIXED_AMOUNT}


def order_key(raw: Mapping[str, Any]) -> str:
    """An order's id: Ecwid's public ``id``, else its ``internalId`` (old stores, some bodies)."""
    if raw.get("id") in (None, "") and raw.get("internalId") not in (None, ""):
        return id_text(raw, "internalId")
    return id_text(raw)


def record_id(raw: Any) -> str | None:
    """The record's id if it has a readable one (for quarantine), else ``None``."""
    if isinstance(raw, Mapping):
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
    first, last = text_or_none(person.get("firstName")), text_or_none(person.get("lastName"))
    if first or last:
        return first, last
    name = text_or_none(person.get("name"))
    if not name:
        return None, None
    head, _, tail = name.partition(" ")
    return head, (tail.strip() or None)


def address(person: Any) -> Address | None:
    if (type(person) is not dict and not isinstance(person, Mapping)) or not person:
        return None
    first, last = _names(person)
    get = person.get
    street = text_or_none(get("street"))
    line1, line2 = (street.split("\n", 1) + [None])[:2] if street else (None, None)
    return _new_address({
        "first_name": first,
        "last_name": last,
        "company": text_or_none(get("companyName")),
        "address1": text_or_none(line1),
        "address2": text_or_none(line2),
        "city": text_or_none(get("city")),
        "province": text_or_none(get("stateOrProvinceName")),
        "province_code": text_or_none(get("stateOrProvinceCode")),
        "country": text_or_none(get("countryName")),
        "country_code": text_or_none(get("countryCode")),
        "zip": text_or_none(get("postalCode")),
        "phone": text_or_none(get("phone")),
    })


# --- records -----------------------------------------------------------------------------------


def is_real_order(raw: Mapping[str, Any]) -> bool:
    """False for INCOMPLETE orders (abandoned checkouts Ecwid lists only when asked)."""
    return str(raw.get("paymentStatus", "")).upper() != "INCOMPLETE"


def parse_order(raw: Any, *, store_id: str, currency: str) -> Order:
    if type(raw) is not dict and not isinstance(raw, Mapping):  # the ABC check alone is slow
        raise RecordError("order is not an object")
    get = raw.get
    order_id = order_key(raw)
    created = timestamp_of(raw, "createTimestamp", "createDate")
    updated = timestamp_of(raw, "updateTimestamp", "updateDate")
    status_text = str(get("paymentStatus") or "").upper()
    status = _FINANCIAL.get(status_text, FinancialStatus.UNKNOWN)
    total_amount = amount(get("total"), "total")
    amounts = amounts_in(currency)
    total = amounts[str(total_amount)]
    refunded_value = refunded_amount(raw)
    refunded = None if refunded_value is None else amounts[str(refunded_value)]
    fully_refunded = status is FinancialStatus.REFUNDED
    current = total_amount - (_ZERO if refunded_value is None else refunded_value)
    items_raw = get("items") or []
    if not isinstance(items_raw, list):
        raise RecordError("items is not a list")
    lines = []
    for index, item in enumerate(items_raw):
        if type(item) is not dict and not isinstance(item, Mapping):
            raise RecordError(f"items[{index}] is not an object")
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            raise RecordError(f"items[{index}].quantity is not a count: {quantity!r}")
        if type(quantity) is not int:
            quantity = int(quantity)  # as validation turns an int subclass into an int
        price = item.get("price")
        product_id = item.get("productId")
        line_id = item.get("id")
        lines.append(_new_line({
            "id": str(line_id) if line_id is not None else f"{order_id}-{index}",
            "product_id": str(product_id) if product_id not in (None, 0, "") else None,
            "variant_id": None,
            "sku": text_or_none(item.get("sku")),
            "title": text_or_none(item.get("name")) or "",
            "quantity": quantity,
            "current_quantity": 0 if fully_refunded else quantity,
            "unit_price": amounts[str(amount(price, f"items[{index}].price"))] if price is not None else None,
        }))
    customer = get("customerId")
    fulfillment = str(get("fulfillmentStatus") or "").upper()
    return _new_order({
        "platform": PLATFORM,
        "store_id": store_id,
        "id": order_id,
        "name": f"#{order_id}",
        "email": text_or_none(get("email")),
        "customer_id": str(customer) if customer not in (None, 0, "") else None,
        "created_at": created,
        "updated_at": updated,
        "processed_at": created,
        "cancelled_at": updated if status_text == "CANCELLED" else None,
        "test": False,
        "financial_status": status,
        "total": total,
        "current_total": amounts[str(_ZERO if current < _ZERO else current)],
        "refunded": refunded,
        "line_items": tuple(lines),
        "billing_address": address(get("billingPerson")),
        "accepts_marketing": may_email(get("acceptMarketing")),
        "discount_codes": _coupon_codes(get("discountCoupon")),
        "fulfillment_status": fulfillment.lower() or None,
        "fulfilled_at": updated if fulfillment in _HANDED_OVER else None,
        "delivered_at": updated if fulfillment == "DELIVERED" else None,
    })


_HANDED_OVER = frozenset({"SHIPPED", "OUT_FOR_DELIVERY", "DELIVERED", "READY_FOR_PICKUP"})
"""``fulfillmentStatus`` values meaning the goods have left the merchant (or wait at pickup).

Ecwid keeps no timestamp per status: the order's ``updateDate`` stands in for ``fulfilled_at`` and
``delivered_at`` (status ``DELIVERED``), and the local store keeps the earliest one seen
(:func:`winback.sync.writes.write_orders`), so a later edit of an order shipped long ago does not
move it. ``WILL_NOT_DELIVER`` and ``RETURNED`` are neither."""


def _coupon_codes(coupon: Any) -> tuple[str, ...]:
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


_CONSENT = {True: EmailConsent(state=ConsentState.SUBSCRIBED), False: EmailConsent(state=ConsentState.NOT_SUBSCRIBED)}
"""The two consents a customer can have on Ecwid, shared: models are frozen."""


def parse_customer(raw: Any, *, store_id: str, currency: str, birth_date_field: str | None = None) -> Customer:
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise RecordError("customer is not an object")
    get = raw.get
    customer_id = id_text(raw)
    billing = get("billingPerson")
    if type(billing) is not dict and not isinstance(billing, Mapping):
        billing = {}
    first, last = _names(billing) if billing else (None, None)
    if not (first or last):
        first, last = _names({"name": get("name")})
    registered = get("registered")
    created = parse_datetime(registered, "registered") if isinstance(registered, (str, int)) and registered else None
    updated = customer_updated(raw)
    stats = get("stats")
    if type(stats) is not dict and not isinstance(stats, Mapping):
        stats = {}
    count = stats.get("numberOfOrders", get("totalOrderCount"))
    spent = stats.get("salesValue")
    if spent is not None:
        spent_amount = amount(spent, "stats.salesValue")
        amount_spent: Money | None = amounts_in(currency)[str(spent_amount)]
    else:
        amount_spent = None
    return _new_customer({
        "platform": PLATFORM,
        "store_id": store_id,
        "id": customer_id,
        "email": text_or_none(get("email")),
        "first_name": first,
        "last_name": last,
        "phone": text_or_none(billing.get("phone")) if billing else None,
        "created_at": created,
        "updated_at": updated,
        "account": AccountState.ENABLED if registered not in (None, False, "") else AccountState.GUEST,
        "consent": _CONSENT[may_email(get("acceptMarketing"))],
        "orders_count": int(count) if isinstance(count, int) and not isinstance(count, bool) else None,
        "amount_spent": amount_spent,
        "tags": (),
        "default_address": address(billing),
        "birth_date": birth_date_of(extra_field(raw, birth_date_field)) if birth_date_field else None,
    })


def parse_product(raw: Any, *, store_id: str, currency: str) -> Product:
    if not isinstance(raw, Mapping):
        raise RecordError("product is not an object")
    price = raw.get("price")
    enabled = raw.get("enabled", True)
    handle = text_or_none(raw.get("customSlug")) or text_or_none(raw.get("autogeneratedSlug"))
    return Product(
        platform=PLATFORM,
        store_id=store_id,
        id=id_text(raw),
        title=text_or_none(raw.get("name")) or "",
        handle=handle,
        url=text_or_none(raw.get("url")),
        image_url=text_or_none(raw.get("imageUrl")) or text_or_none(raw.get("thumbnailUrl")),
        status=ProductStatus.ACTIVE if enabled is not False else ProductStatus.DRAFT,
        price=money(price, currency, "price") if price is not None else None,
        created_at=timestamp_of(raw, "createTimestamp", "created") if raw.get("created") or raw.get("createTimestamp") else None,
        updated_at=timestamp_of(raw, "updateTimestamp", "updated") if raw.get("updated") or raw.get("updateTimestamp") else None,
    )


def parse_coupon(raw: Any, *, store_id: str) -> DiscountCode:
    if not isinstance(raw, Mapping):
        raise RecordError("coupon is not an object")
    uses = raw.get("usesLimit")
    discount = raw.get("discount")
    launch, expires = raw.get("launchDate"), raw.get("expirationDate")
    return DiscountCode(
        platform=PLATFORM,
        store_id=store_id,
        id=id_text(raw),
        code=str(raw.get("code") or ""),
        title=text_or_none(raw.get("name")),
        kind=_DISCOUNT_KINDS.get(str(raw.get("discountType"))),
        value=amount(discount, "discount") if discount is not None else None,
        starts_at=parse_datetime(launch, "launchDate") if launch else None,
        ends_at=parse_datetime(expires, "expirationDate") if expires else None,
        once_per_customer=(uses == "ONCEPERCUSTOMER") if uses else None,
        usage_limit=1 if uses == "SINGLE" else None,
    )


def parse_profile(raw: Any, *, store_id: str) -> Store:
    if not isinstance(raw, Mapping):
        raise RecordError("profile is not an object")

    def section(name: str) -> Mapping[str, Any]:
        value = raw.get(name)
        return value if isinstance(value, Mapping) else {}

    general, settings, account = section("generalInfo"), section("settings"), section("account")
    company, formats = section("company"), section("formatsAndUnits")
    currency = text_or_none(formats.get("currency"))
    if not currency or len(currency) != 3:
        raise RecordError(f"formatsAndUnits.currency is not a currency code: {currency!r}")
    starter = general.get("starterSite") if isinstance(general.get("starterSite"), Mapping) else {}
    return Store(
        platform=PLATFORM,
        store_id=store_id,
        name=text_or_none(settings.get("storeName")) or text_or_none(account.get("accountName")) or f"Ecwid store {store_id}",
        currency=currency.upper(),
        url=text_or_none(general.get("storeUrl")),
        email=text_or_none(company.get("email")) or text_or_none(account.get("accountEmail")),
        timezone=text_or_none(formats.get("timezone")),
        logo_url=text_or_none(starter.get("storeLogoUrl")) or text_or_none(settings.get("emailLogoUrl")),
        postal_address=_company_address(company),
    )


def _company_address(company: Mapping[str, Any]) -> str | None:
    """The store's company address (``company`` of the profile) as one line, if it has a street."""
    street = text_or_none(company.get("street"))
    if not street:
        return None
    area = " ".join(p for p in (text_or_none(company.get("city")), text_or_none(company.get("stateOrProvinceCode")),
                                text_or_none(company.get("postalCode"))) if p)
    parts = [text_or_none(company.get("companyName")), street.replace("\n", ", "), area,
             text_or_none(company.get("countryCode"))]
    return ", ".join(p for p in parts if p) or None
