"""A page of orders decoded straight from the answer's bytes into :class:`~winback.model.Order`, in Rust.

Why
    Decoding an orders page to Python dicts and then building every model from them costs more
    than the rest of a sync outside the store's write path together: each order is ten objects
    (the order, its lines, its amounts, its address) and every field is looked up twice. Here one
    pydantic-core validator per store reads the whole GraphQL answer (or a bulk export's rows put
    together) and builds the very same model instances, with the model's own field validators,
    touching Python only where Shopify's shape needs translating (enum words, the fulfilment
    times).

What the caller may rely on
    - This is a fast path, never a second opinion: it accepts a strict subset of what
      :func:`.parse.parse_order` accepts (JSON strings, integers and booleans where that parser
      would also convert other types; no keys the documents do not select in an address), and for
      what it accepts it builds records equal to that parser's. Anything else, including a single
      malformed order, a page with top-level ``errors``, a throttled answer or an order whose line
      items need another request, fails the whole page with :class:`pydantic.ValidationError`;
      the caller then reads the page the ordinary way, which quarantines the bad record with its
      reason exactly as before.
    - Validators are built once per store id and kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from pydantic_core import PydanticCustomError, SchemaValidator
from pydantic_core import core_schema as cs

from winback.connectors.shopify import parse
from winback.model import Address, FinancialStatus, LineItem, Money, Order

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


def _not_empty(address: Address) -> Address:
    if not address.model_fields_set:
        raise PydanticCustomError("empty_address", "an address without fields is read by the ordinary path")
    return address


ADDRESS = cs.no_info_after_validator_function(
    _not_empty,
    _model(
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
    ),
)


def _blank_as_none(value: str | None) -> str | None:
    return value or None


LINE_ITEM = _model(
    LineItem,
    {
        "id": _field(_STR, "id"),
        "product_id": _field(_optional(_STR), ["product", "id"]),
        "variant_id": _field(_optional(_STR), ["variant", "id"]),
        "sku": _field(
            cs.with_default_schema(
                cs.no_info_after_validator_function(_blank_as_none, cs.nullable_schema(_STR)), default=None
            ),
            "sku",
        ),
        "title": _field(_STR, "title"),
        "quantity": _field(_INT, "quantity"),
        # present and null fails (the ordinary path falls back to quantity); absent takes quantity
        "current_quantity": _field(_INT, [["currentQuantity"], ["quantity"]]),
        "unit_price": _field(_optional(MONEY), ["originalUnitPriceSet", "shopMoney"]),
    },
)


def _all_lines(connection: dict[str, Any] | None) -> tuple[LineItem, ...]:
    if connection is None:
        return ()
    if (connection.get("pageInfo") or {}).get("hasNextPage"):
        raise PydanticCustomError("more_lines", "the order has more line items than the page holds")
    return tuple(connection["nodes"])


LINE_ITEMS = cs.no_info_after_validator_function(
    _all_lines,
    cs.nullable_schema(
        cs.typed_dict_schema(
            {
                "nodes": cs.typed_dict_field(cs.list_schema(LINE_ITEM)),
                "pageInfo": cs.typed_dict_field(
                    cs.nullable_schema(
                        cs.typed_dict_schema(
                            {"hasNextPage": cs.typed_dict_field(cs.nullable_schema(_BOOL), required=False)}
                        )
                    ),
                    required=False,
                ),
            }
        )
    ),
)
"""``lineItems { nodes pageInfo }`` → the lines; one that is cut off fails (see :func:`.paging.complete_line_items`)."""


def _financial(value: str | None) -> FinancialStatus:
    return parse.FINANCIAL.get(value, FinancialStatus.UNKNOWN) if value else FinancialStatus.UNKNOWN


def _fulfillment_status(value: str | None) -> str | None:
    if not value:
        return None
    if not value.isupper():
        raise PydanticCustomError("status_case", "Shopify's enum words are upper case")
    return value.lower()


def _shipped(value: list[Any] | None, info: cs.ValidationInfo) -> list[dict[str, Any]] | None:
    """The successful shipments when the order is fulfilled (as :func:`.parse.fulfilment` reads them)."""
    if info.data.get("fulfillment_status") != "fulfilled":
        return None
    return [f for f in value or () if isinstance(f, dict) and f.get("status") == "SUCCESS"] or None


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(timezone.utc)


def _fulfilled_at(value: list[Any] | None, info: cs.ValidationInfo) -> datetime | None:
    shipments = _shipped(value, info)
    if not shipments:
        return None
    return _utc(max(filter(None, (parse.parse_datetime(f.get("createdAt")) for f in shipments)), default=None))


def _delivered_at(value: list[Any] | None, info: cs.ValidationInfo) -> datetime | None:
    shipments = _shipped(value, info)
    if not shipments:
        return None
    delivered = [parse.parse_datetime(f.get("deliveredAt")) for f in shipments]
    return _utc(max(d for d in delivered if d is not None)) if all(delivered) else None


def _codes(value: list[str] | None) -> tuple[str, ...]:
    return tuple(code for code in value or () if code)


def _shipments(read: Any) -> Any:
    return cs.with_default_schema(
        cs.with_info_after_validator_function(read, cs.nullable_schema(cs.list_schema(cs.any_schema()))), default=None
    )


def order_schema(store_id: str) -> Any:
    """:class:`Order` from an ``OrderFields`` node (with ``lineItems``), as :func:`.parse.parse_order`."""
    return _model(
        Order,
        {
            "platform": _field(cs.with_default_schema(_STR, default=parse.PLATFORM), _UNSET),
            "store_id": _field(cs.with_default_schema(_STR, default=store_id), _UNSET + "store"),
            "id": _field(_STR, "id"),
            "name": _field(_optional(_STR), "name"),
            "email": _field(_optional(_STR), "email"),
            "customer_id": _field(_optional(_STR), ["customer", "id"]),
            "created_at": _field(_own(Order, "created_at"), "createdAt"),
            "updated_at": _field(_own(Order, "updated_at"), "updatedAt"),
            "processed_at": _field(_own(Order, "processed_at"), "processedAt"),
            "cancelled_at": _field(_own(Order, "cancelled_at"), "cancelledAt"),
            "test": _field(cs.with_default_schema(_BOOL, default=False), "test"),
            "financial_status": _field(
                cs.with_default_schema(
                    cs.no_info_after_validator_function(_financial, cs.nullable_schema(_STR)),
                    default=FinancialStatus.UNKNOWN,
                ),
                "displayFinancialStatus",
            ),
            "total": _field(MONEY, ["totalPriceSet", "shopMoney"]),
            "current_total": _field(_optional(MONEY), ["currentTotalPriceSet", "shopMoney"]),
            "refunded": _field(_optional(MONEY), ["totalRefundedSet", "shopMoney"]),
            "line_items": _field(cs.with_default_schema(LINE_ITEMS, default=()), "lineItems"),
            "billing_address": _field(_optional(ADDRESS), "billingAddress"),
            "accepts_marketing": _field(_optional(_BOOL), "customerAcceptsMarketing"),
            "discount_codes": _field(
                cs.with_default_schema(
                    cs.no_info_after_validator_function(_codes, cs.nullable_schema(cs.list_schema(_STR))), default=()
                ),
                "discountCodes",
            ),
            # validated in this order: the times read the status validated before them
            "fulfillment_status": _field(
                cs.with_default_schema(
                    cs.no_info_after_validator_function(_fulfillment_status, cs.nullable_schema(_STR)), default=None
                ),
                "displayFulfillmentStatus",
            ),
            "fulfilled_at": _field(_shipments(_fulfilled_at), "fulfillments"),
            "delivered_at": _field(_shipments(_delivered_at), "fulfillments"),
        },
    )


_PAGE_INFO = cs.typed_dict_schema(
    {
        "hasNextPage": cs.typed_dict_field(cs.any_schema(), required=False),
        "endCursor": cs.typed_dict_field(cs.any_schema(), required=False),
    }
)


def _connection_answer(connection: str, node: Any) -> Any:
    """``{data: {<connection>: {nodes, pageInfo}}, extensions}`` with no ``errors``."""
    return cs.typed_dict_schema(
        {
            "data": cs.typed_dict_field(
                cs.typed_dict_schema(
                    {
                        connection: cs.typed_dict_field(
                            cs.typed_dict_schema(
                                {
                                    "nodes": cs.typed_dict_field(cs.list_schema(node)),
                                    "pageInfo": cs.typed_dict_field(cs.nullable_schema(_PAGE_INFO), required=False),
                                }
                            )
                        )
                    }
                )
            ),
            "errors": cs.typed_dict_field(cs.none_schema(), required=False),
            "extensions": cs.typed_dict_field(cs.any_schema(), required=False),
        }
    )


_MODELS = (Money, Address, LineItem, Order)


@contextmanager
def _own_schemas() -> Iterator[None]:
    """While a validator is built, let pydantic-core compile our schemas of the models.

    pydantic-core reuses a finished model class's own validator for any ``model`` schema naming
    that class (it looks for ``__pydantic_complete__`` in the class's ``__dict__``), which would
    ignore our aliases. For the moment of the build the classes say they are not complete; the
    validator built keeps our schemas. Should a pydantic-core release look elsewhere, the
    validator would read no Shopify answer and every page would take the ordinary path (slower,
    same records): ``tests/unit/test_shopify_decode.py`` fails then.
    """
    saved = {model: model.__dict__.get("__pydantic_complete__") for model in _MODELS}
    try:
        for model in _MODELS:
            type.__setattr__(model, "__pydantic_complete__", False)
        yield
    finally:
        for model, value in saved.items():
            type.__setattr__(model, "__pydantic_complete__", value)


def _validator(schema: Any) -> SchemaValidator:
    with _own_schemas():
        return SchemaValidator(schema)


@lru_cache(maxsize=16)
def orders_page(store_id: str) -> SchemaValidator:
    """An ``OrdersPage`` answer → ``{"data": {"orders": {"nodes": [Order, ...], "pageInfo": ...}}, ...}``."""
    return _validator(_connection_answer("orders", order_schema(store_id)))


@lru_cache(maxsize=16)
def orders_list(store_id: str) -> SchemaValidator:
    """A JSON array of ``OrderFields`` nodes (a bulk export's rows put together) → ``[Order, ...]``."""
    return _validator(cs.list_schema(order_schema(store_id)))


def bulk_orders_json(groups: Iterable[tuple[bytes, list[bytes]]]) -> bytes:
    """One JSON array of order nodes from bulk rows: each order's row with its line rows as
    ``lineItems.nodes`` (the lines' ``__parentId`` is ignored by the validator).

    The caller passes only order rows without a ``lineItems`` key of their own, each a JSON object.
    """
    parts = [b'{"lineItems":{"nodes":[' + b",".join(lines) + b"]}," + row.lstrip()[1:] for row, lines in groups]
    return b"[" + b",".join(parts) + b"]"


ROW_KEYS = SchemaValidator(
    cs.typed_dict_schema(
        {
            "id": cs.typed_dict_field(cs.any_schema(), required=False),
            "__parentId": cs.typed_dict_field(cs.any_schema(), required=False),
        }
    )
)
"""A bulk row (a JSON object) → its ``id`` and ``__parentId`` only, the rest left as bytes."""
