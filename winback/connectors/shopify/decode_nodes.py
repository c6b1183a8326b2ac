"""Shopify's order and customer nodes as pydantic-core schemas building :mod:`winback.model` instances.

Each schema reads one GraphQL node (``OrderFields``, ``CustomerFields``) with the models' own field
validators, under Shopify's field names; one Python call per record (:func:`_finish`,
:func:`_finish_customer`) then translates what Shopify's shape needs (enum words, fulfilment times,
fallbacks) into what :func:`.parse.parse_order` and :func:`.parse.parse_customer` give. A node
these parsers would read differently is refused (:func:`_refuse`), so that the whole page takes
the ordinary path. :mod:`.decode` wraps the schemas into validators of whole answers.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic_core import PydanticCustomError
from pydantic_core import core_schema as cs

from winback.connectors.shopify import parse
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

MODELS = (Money, Address, LineItem, Order, EmailConsent, Customer)
"""The models these schemas build (see :func:`.decode._own_schemas`)."""

_UNSET = "__winback_not_in_the_answer__"
"""A validation alias no answer carries: the field always takes its default (platform, store id)."""


def _fields(model: type) -> dict[str, Any]:
    schema = model.__pydantic_core_schema__  # type: ignore[attr-defined]
    if schema["type"] == "definitions":
        schema = schema["schema"]
    return schema["schema"]["fields"]


def _own(model: type, name: str) -> Any:
    """The model's own validator of field ``name`` (defaults, nullability and after-validators included)."""
    return _fields(model)[name]["schema"]


def _field(schema: Any, alias: str | list[Any]) -> Any:
    return cs.model_field(schema, validation_alias=alias)


def _model(model: type, fields: dict[str, Any], *, extra: str = "ignore") -> Any:
    """A ``model`` schema building ``model`` itself from ``fields``, which must name every field of
    it: an instance built without one would lack the attribute (a field added to the model needs
    its line here)."""
    missing = set(model.model_fields) ^ set(fields)  # type: ignore[attr-defined]
    if missing:
        raise RuntimeError(f"winback.connectors.shopify.decode_nodes does not match {model.__name__}: {sorted(missing)}")
    return cs.model_schema(
        model,
        cs.model_fields_schema(fields, model_name=model.__name__, extra_behavior=extra),  # type: ignore[arg-type]
        config=cs.CoreConfig(title=model.__name__),
    )


def _optional(schema: Any, default: Any = None) -> Any:
    return cs.with_default_schema(cs.nullable_schema(schema), default=default)


_STR = cs.str_schema(strict=True)
_BOOL = cs.bool_schema(strict=True)
_INT = cs.int_schema(strict=True)

MONEY = _model(
    Money,
    {"amount": _field(_own(Money, "amount"), "amount"), "currency": _field(_own(Money, "currency"), "currencyCode")},
)
"""``MoneyV2`` → :class:`Money`, as :func:`.parse.money` (floats through their text, like the model)."""


ADDRESS = _model(
    Address,
    {
        name: _field(_optional(_STR), alias)
        for name, alias in (
            ("first_name", "firstName"), ("last_name", "lastName"), ("company", "company"),
            ("address1", "address1"), ("address2", "address2"), ("city", "city"),
            ("province", "province"), ("province_code", "provinceCode"), ("country", "country"),
            ("country_code", "countryCodeV2"), ("zip", "zip"), ("phone", "phone"),
        )
    },
    extra="forbid",  # ``countryCode`` (the fallback of :func:`.parse.address`) goes the ordinary way
)

LINE_ITEM = _model(
    LineItem,
    {
        "id": _field(_STR, "id"),
        "product_id": _field(_optional(_STR), ["product", "id"]),
        "variant_id": _field(_optional(_STR), ["variant", "id"]),
        "sku": _field(_optional(_STR), "sku"),  # "" becomes None in _finish
        "title": _field(_STR, "title"),
        "quantity": _field(_INT, "quantity"),
        # present and null fails (the ordinary path falls back to quantity); absent takes quantity
        "current_quantity": _field(_INT, [["currentQuantity"], ["quantity"]]),
        "unit_price": _field(_optional(MONEY), ["originalUnitPriceSet", "shopMoney"]),
    },
)

LINE_ITEMS = cs.typed_dict_schema(
    {
        "nodes": cs.typed_dict_field(cs.tuple_variable_schema(LINE_ITEM)),
        "pageInfo": cs.typed_dict_field(
            cs.nullable_schema(
                cs.typed_dict_schema(
                    # a connection cut off is completed by another request: the ordinary path
                    {"hasNextPage": cs.typed_dict_field(cs.literal_schema([False, None]), required=False)}
                )
            ),
            required=False,
        ),
    }
)
"""``lineItems { nodes pageInfo }``; :func:`_finish` keeps the nodes."""

_TIMES = ("created_at", "updated_at", "processed_at", "cancelled_at")


def _refuse(why: str) -> PydanticCustomError:
    return PydanticCustomError("ordinary_path", why)


def _finish(order: Order) -> Order:
    """Shopify's words → the model's, in one pass over the fields read raw (one Python call per order).

    Until here the order holds ``lineItems`` as read, the raw enum words, the raw ``fulfillments``
    (in ``fulfilled_at``) and times in pydantic's own UTC; each becomes what :func:`.parse.parse_order`
    gives, with :func:`.parse.fulfilment` itself for the fulfilment fields.
    """
    fields = order.__dict__
    for name in _TIMES:
        when = fields[name]
        if when is not None:
            if when.tzinfo is None:
                raise _refuse("a time without its zone")
            fields[name] = when.astimezone(timezone.utc)  # what the model's UtcDatetime does
    status = fields["financial_status"]
    fields["financial_status"] = parse.FINANCIAL.get(status, FinancialStatus.UNKNOWN) if status else FinancialStatus.UNKNOWN
    codes = fields["discount_codes"]
    fields["discount_codes"] = tuple(code for code in codes if code) if codes else ()
    lines = fields["line_items"]
    fields["line_items"] = lines = lines["nodes"] if lines is not None else ()
    for line in lines:
        if line.sku == "":
            line.__dict__["sku"] = None
    address = fields["billing_address"]
    if address is not None and not address.model_fields_set:
        raise _refuse("an address without fields")  # parse.address reads {} as no address
    status = fields["fulfillment_status"]
    if status == "FULFILLED":  # the only status with times (see parse.fulfilment)
        shipped = parse.fulfilment({"displayFulfillmentStatus": status, "fulfillments": fields["fulfilled_at"]})
        for name in ("fulfilled_at", "delivered_at"):
            shipped[name] = _utc(shipped[name])
        fields.update(shipped)
    else:
        fields["fulfillment_status"] = str(status).lower() if status else None
        fields["fulfilled_at"] = None
    return order


_TIME = cs.datetime_schema(microseconds_precision="truncate")


def order_schema(store_id: str) -> Any:
    """:class:`Order` from an ``OrderFields`` node (with ``lineItems``), as :func:`.parse.parse_order`."""
    fields = {
        "platform": _field(cs.with_default_schema(_STR, default=parse.PLATFORM), _UNSET),
        "store_id": _field(cs.with_default_schema(_STR, default=store_id), _UNSET + "store"),
        "id": _field(_STR, "id"),
        "name": _field(_optional(_STR), "name"),
        "email": _field(_optional(_STR), "email"),
        "customer_id": _field(_optional(_STR), ["customer", "id"]),
        "created_at": _field(_TIME, "createdAt"),
        "updated_at": _field(_TIME, "updatedAt"),
        "processed_at": _field(_optional(_TIME), "processedAt"),
        "cancelled_at": _field(_optional(_TIME), "cancelledAt"),
        "test": _field(cs.with_default_schema(_BOOL, default=False), "test"),
        "financial_status": _field(_optional(_STR), "displayFinancialStatus"),
        "total": _field(MONEY, ["totalPriceSet", "shopMoney"]),
        "current_total": _field(_optional(MONEY), ["currentTotalPriceSet", "shopMoney"]),
        "refunded": _field(_optional(MONEY), ["totalRefundedSet", "shopMoney"]),
        "line_items": _field(_optional(LINE_ITEMS), "lineItems"),
        "billing_address": _field(_optional(ADDRESS), "billingAddress"),
        "accepts_marketing": _field(_optional(_BOOL), "customerAcceptsMarketing"),
        "discount_codes": _field(_optional(cs.list_schema(_STR)), "discountCodes"),
        "fulfillment_status": _field(_optional(_STR), "displayFulfillmentStatus"),
        "fulfilled_at": _field(_optional(cs.list_schema(cs.any_schema())), "fulfillments"),
        "delivered_at": _field(cs.with_default_schema(cs.none_schema(), default=None), _UNSET + "delivered"),
    }
    return cs.no_info_after_validator_function(_finish, _model(Order, fields))


def _utc(when: datetime | None) -> datetime | None:
    """What the model's ``UtcDatetime`` makes of a time pydantic read (a time without a zone refuses)."""
    if when is None:
        return None
    if when.tzinfo is None:
        raise _refuse("a time without its zone")
    return when.astimezone(timezone.utc)


_NO_CONSENT = EmailConsent()

CONSENT = _model(
    EmailConsent,
    {
        "state": _field(_optional(_STR), "marketingState"),
        "updated_at": _field(_optional(_TIME), "marketingUpdatedAt"),
    },
)
"""``defaultEmailAddress`` → :class:`EmailConsent` with the raw state word (see :func:`_finish_customer`)."""


def _finish_customer(customer: Customer) -> Customer:
    """As :func:`_finish` for a customer, after :func:`.parse.parse_customer` and :func:`.parse.consent`."""
    fields = customer.__dict__
    fields["created_at"] = _utc(fields["created_at"])
    fields["updated_at"] = _utc(fields["updated_at"])
    fields["email"] = fields["email"] or None
    address = fields["default_address"]
    if address is not None and not address.model_fields_set:
        raise _refuse("an address without fields")
    if not fields["phone"]:
        fields["phone"] = address.phone if address is not None else None
    state = fields["account"]
    if state is None:
        fields["account"] = AccountState.GUEST
    elif state in parse.ACCOUNT:
        fields["account"] = parse.ACCOUNT[state]
    else:
        raise _refuse("an account state we do not know")  # the ordinary path quarantines it
    consent = fields["consent"]
    if consent is None or not consent.state:
        fields["consent"] = _NO_CONSENT
    else:
        consent.__dict__["state"] = parse.CONSENT.get(consent.state, ConsentState.UNKNOWN)
        consent.__dict__["updated_at"] = _utc(consent.updated_at)
    count = fields["orders_count"]
    fields["orders_count"] = int(str(count)) if count is not None else None
    tags = fields["tags"]
    fields["tags"] = tuple(tags) if tags else ()
    fields["birth_date"] = birth_date_of(fields["birth_date"])
    return customer


def customer_schema(store_id: str) -> Any:
    """:class:`Customer` from a ``CustomerFields`` node, as :func:`.parse.parse_customer`.

    The ordinary parser also falls back to ``email``, ``phone`` and ``emailMarketingConsent``,
    which ``CustomerFields`` does not select; :func:`.decode.customers_page` refuses a page holding them."""
    fields = {
        "platform": _field(cs.with_default_schema(_STR, default=parse.PLATFORM), _UNSET),
        "store_id": _field(cs.with_default_schema(_STR, default=store_id), _UNSET + "store"),
        "id": _field(_STR, "id"),
        "email": _field(_optional(_STR), ["defaultEmailAddress", "emailAddress"]),
        "first_name": _field(_optional(_STR), "firstName"),
        "last_name": _field(_optional(_STR), "lastName"),
        "phone": _field(_optional(_STR), ["defaultPhoneNumber", "phoneNumber"]),
        "created_at": _field(_optional(_TIME), "createdAt"),
        "updated_at": _field(_TIME, "updatedAt"),
        "account": _field(_optional(_STR), "state"),
        "consent": _field(_optional(CONSENT), "defaultEmailAddress"),
        "orders_count": _field(_optional(cs.union_schema([_STR, _INT])), "numberOfOrders"),
        "amount_spent": _field(_optional(MONEY), "amountSpent"),
        "tags": _field(_optional(cs.list_schema(_STR)), "tags"),
        "default_address": _field(_optional(ADDRESS), "defaultAddress"),
        "birth_date": _field(cs.with_default_schema(cs.any_schema(), default=None), ["birthDate", "value"]),
    }
    return cs.no_info_after_validator_function(_finish_customer, _model(Customer, fields))
