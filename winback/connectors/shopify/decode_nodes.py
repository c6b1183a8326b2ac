"""Shopify's customer nodes as pydantic-core schemas building :mod:`winback.model` instances.

The schema reads one GraphQL node (``CustomerFields``) under Shopify's field names and makes every
value what :func:`.parse.parse_customer` gives, in Rust: enum words through literal tables and
``dict.get``, times to UTC through ``astimezone``, blanks to ``None`` through unions; the callables
are C functions, so no Python frame runs per record (but for an amount sent as a JSON number, or a
birth date). What reads more than one field of a node (the phone fallback, an empty address) is
left to one pass over the page, :func:`finish_customers`. (Orders are read by
:mod:`.decode_orders`, which measured faster for their many nested objects.) A node these
parsers would read differently is refused, so that the whole page takes the ordinary path.
:mod:`.decode` wraps the schemas into validators of whole answers.
"""

from __future__ import annotations

from datetime import timezone
from operator import methodcaller
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core import core_schema as cs

from winback.connectors.shopify import parse
from winback.model import (
    AccountState,
    Address,
    ConsentState,
    Customer,
    EmailConsent,
    Money,
    birth_date_of,
)

MODELS = (Money, Address, EmailConsent, Customer)
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


def _const(value: Any) -> Any:
    """Takes any input and gives ``value`` itself (a default that every input falls back to)."""
    return cs.with_default_schema(cs.literal_schema([_UNSET]), default=value, on_error="default")


def _first(*choices: Any) -> Any:
    return cs.union_schema(list(choices), mode="left_to_right")


def _or_null(schema: Any, value: Any) -> Any:
    """``schema``, or ``value`` where the field is null or absent."""
    return cs.with_default_schema(_first(schema, cs.chain_schema([_NULL, _const(value)])), default=value)


def _then(function: Any, schema: Any) -> Any:
    """``function`` (a C callable: no Python frame) applied to what ``schema`` gives."""
    return cs.no_info_after_validator_function(function, schema)


def _words(table: dict[str, Any], default: Any) -> Any:
    """A word of ``table`` → its value; anything else (null, blank, another word, another type) →
    ``default``, as ``table.get(str(word), default) if word else default`` gives."""
    return cs.with_default_schema(_then(table.get, cs.literal_schema(list(table))), default=default, on_error="default")


_STR = cs.str_schema(strict=True)
_INT = cs.int_schema(strict=True)
_NULL = cs.none_schema()
_BLANK = cs.literal_schema([""])

_TEXT = cs.str_schema(strict=True, min_length=1)
"""A text that is not blank."""

_BLANK_AS_NONE = cs.with_default_schema(
    _first(cs.nullable_schema(_TEXT), cs.chain_schema([_BLANK, _const(None)])), default=None
)
"""A text where ``""`` reads as ``None`` (``value or None``)."""

_TIME = _then(
    methodcaller("astimezone", timezone.utc),
    cs.datetime_schema(microseconds_precision="truncate", tz_constraint="aware"),
)
"""A time with its zone → the same instant in :data:`datetime.timezone.utc`, as the model's ``UtcDatetime``."""

_AMOUNT = _first(cs.chain_schema([_STR, _own(Money, "amount")["schema"]]), _own(Money, "amount"))
"""Text through the model's own decimal validator in Rust; JSON numbers through the model's
``_no_float`` (which reads a float through its ``repr``)."""

MONEY = _model(
    Money, {"amount": _field(_AMOUNT, "amount"), "currency": _field(_own(Money, "currency"), "currencyCode")}
)
"""``MoneyV2`` → :class:`Money`, as :func:`.parse.money`."""


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
"""An address; an empty one (which :func:`.parse.address` reads as none) is refused by the page's pass."""

def refused(why: str) -> ValidationError:
    """What a page's pass raises for a node the ordinary path must read."""
    error = InitErrorDetails(type=PydanticCustomError("ordinary_path", why), loc=(), input=None)
    return ValidationError.from_exception_data("ordinary_path", [error])


_NO_CONSENT = EmailConsent()

CONSENT = _first(
    _model(
        EmailConsent,
        {
            # a marketing state that is not a word goes the ordinary way (past the other choices)
            "state": _field(cs.chain_schema([_TEXT, _words(parse.CONSENT, ConsentState.UNKNOWN)]), "marketingState"),
            "updated_at": _field(_optional(_TIME), "marketingUpdatedAt"),
        },
    ),
    cs.chain_schema(
        [
            cs.typed_dict_schema({"marketingState": cs.typed_dict_field(_first(_NULL, _BLANK), required=False)}),
            _const(_NO_CONSENT),
        ]
    ),
    cs.chain_schema([_NULL, _const(_NO_CONSENT)]),
)
"""``defaultEmailAddress`` → :class:`EmailConsent` as :func:`.parse.consent` (no marketing state: no consent)."""

_ACCOUNT = {**parse.ACCOUNT, None: AccountState.GUEST}
_ACCOUNT_WORDS = _then(_ACCOUNT.get, cs.literal_schema(list(_ACCOUNT)))


def customer_schema(store_id: str) -> Any:
    """:class:`Customer` from a ``CustomerFields`` node, as :func:`.parse.parse_customer` once
    :func:`finish_customers` has read the phone fallback and the address.

    The ordinary parser also falls back to ``email``, ``phone`` and ``emailMarketingConsent``,
    which ``CustomerFields`` does not select; :func:`.decode.customers_page` refuses a page holding them."""
    fields = {
        "platform": _field(cs.with_default_schema(_STR, default=parse.PLATFORM), _UNSET),
        "store_id": _field(cs.with_default_schema(_STR, default=store_id), _UNSET + "store"),
        "id": _field(_STR, "id"),
        "email": _field(_BLANK_AS_NONE, ["defaultEmailAddress", "emailAddress"]),
        "first_name": _field(_optional(_STR), "firstName"),
        "last_name": _field(_optional(_STR), "lastName"),
        "phone": _field(_optional(_STR), ["defaultPhoneNumber", "phoneNumber"]),
        "created_at": _field(_optional(_TIME), "createdAt"),
        "updated_at": _field(_TIME, "updatedAt"),
        # a state we do not know refuses the page: the ordinary path quarantines it
        "account": _field(cs.with_default_schema(_ACCOUNT_WORDS, default=AccountState.GUEST), "state"),
        "consent": _field(cs.with_default_schema(CONSENT, default=_NO_CONSENT), "defaultEmailAddress"),
        "orders_count": _field(_optional(_first(_INT, _then(int, _STR))), "numberOfOrders"),
        "amount_spent": _field(_optional(MONEY), "amountSpent"),
        "tags": _field(_or_null(cs.tuple_variable_schema(_STR), ()), "tags"),
        "default_address": _field(_optional(ADDRESS), "defaultAddress"),
        "birth_date": _field(_optional(_then(birth_date_of, cs.any_schema())), ["birthDate", "value"]),
    }
    return _model(Customer, fields)


def finish_customers(customers: list[Customer]) -> list[Customer]:
    """The phone of the default address where the customer has none (as :func:`.parse.parse_customer`),
    in one pass over the page; a page with an empty address is refused."""
    for customer in customers:
        fields = customer.__dict__
        address = fields["default_address"]
        if address is not None and not address.__pydantic_fields_set__:
            raise refused("an address without fields")
        if not fields["phone"]:
            fields["phone"] = address.phone if address is not None else None
    return customers
