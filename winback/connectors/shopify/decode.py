"""Pages of orders and customers decoded straight from the answer's bytes into :mod:`winback.model`.

Why
    Decoding a page to Python dicts and then building every model from them cost more than the
    rest of a sync outside the store's write path together: each order is ten objects (the order,
    its lines, its amounts, its address) and every field was looked up twice. Orders are read by
    msgspec into plain structs and built without a second validation (:mod:`.decode_orders`);
    customers by one pydantic-core validator per store that reads the whole GraphQL answer and
    builds the model instances with the models' own field validators (the schemas are in
    :mod:`.decode_nodes`; what reads several fields of a node is one Python pass afterwards).

What the caller may rely on
    - This is a fast path, never a second opinion: it accepts a strict subset of what
      :func:`.parse.parse_order` and :func:`.parse.parse_customer` accept (JSON strings, integers
      and booleans where those parsers would also convert other types; no keys the documents do
      not select), and for what it accepts it builds records equal to theirs. Anything else,
      including a single malformed record, a page with top-level ``errors``, a throttled answer
      or an order whose line items need another request, fails the whole page with
      :class:`pydantic.ValidationError`; the caller then reads the page the ordinary way, which
      quarantines the bad record with its reason exactly as before.
    - Customer validators are built once per store id and kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import msgspec
from pydantic_core import SchemaValidator
from pydantic_core import core_schema as cs

from winback.connectors.shopify import decode_orders
from winback.connectors.shopify.decode_nodes import MODELS, customer_schema, finish_customers, refused
from winback.connectors.shopify.order_structs import BulkRowKeys


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
    saved = {model: model.__dict__.get("__pydantic_complete__") for model in MODELS}
    try:
        for model in MODELS:
            type.__setattr__(model, "__pydantic_complete__", False)
        yield
    finally:
        for model, value in saved.items():
            type.__setattr__(model, "__pydantic_complete__", value)


_CONFIG = cs.CoreConfig(cache_strings="keys")
"""Only keys repeat in an answer: caching every short text (pydantic's default) costs a lookup per
id and word for nothing, about a tenth of decoding a page of orders."""


def _validator(schema: Any) -> SchemaValidator:
    with _own_schemas():
        return SchemaValidator(schema, config=_CONFIG)


class _Finished:
    """A validator of whole answers whose records then get the page's pass (see :mod:`.decode_nodes`).

    ``guard`` (when given) reads the answer first and may refuse it; ``path`` leads from the
    answer to its list of records (none for a bare list)."""

    def __init__(
        self,
        decoder: SchemaValidator,
        finish: Callable[[list[Any]], Any],
        *path: str,
        guard: SchemaValidator | None = None,
    ) -> None:
        self.decoder = decoder
        self.finish = finish
        self.path = path
        self.guard = guard

    def validate_json(self, data: bytes | str) -> Any:
        if self.guard is not None:
            self.guard.validate_json(data)
        answer = self.decoder.validate_json(data)
        records = answer
        for key in self.path:
            records = records[key]
        self.finish(records)
        return answer


class OrdersPage:
    """An ``OrdersPage`` answer → ``{"data": {"orders": {"nodes": [Order, ...], "pageInfo": ...}}, ...}``,
    read by :mod:`.decode_orders` (msgspec, then the models built without validation)."""

    def __init__(self, store_id: str) -> None:
        self.store_id = store_id

    def validate_json(self, data: bytes) -> dict[str, Any]:
        try:
            orders, page_info, extensions = decode_orders.orders_answer(data, self.store_id)
        except decode_orders.Refused as exc:
            raise refused(str(exc)) from None
        return {"data": {"orders": {"nodes": orders, "pageInfo": page_info}}, "extensions": extensions}


def orders_page(store_id: str) -> OrdersPage:
    """The decoder of ``OrdersPage`` answers of store ``store_id``."""
    return OrdersPage(store_id)


_ABSENT = cs.typed_dict_field(cs.none_schema(), required=False)

_NO_FALLBACK_KEYS = SchemaValidator(
    _connection_answer(
        "customers",
        cs.typed_dict_schema({"email": _ABSENT, "phone": _ABSENT, "emailMarketingConsent": _ABSENT}),
    ),
    config=_CONFIG,
)
"""Customers without the keys :func:`.parse.parse_customer` falls back to (or with them null).

``CustomerFields`` does not select them, so an answer to ``CustomersPage`` has none; this only
reads the answer's bytes once more in Rust, creating no object per customer."""


@lru_cache(maxsize=16)
def customers_page(store_id: str) -> _Finished:
    """A ``CustomersPage`` answer → ``{"data": {"customers": {"nodes": [Customer, ...], ...}}, ...}``."""
    decoder = _validator(_connection_answer("customers", customer_schema(store_id)))
    return _Finished(decoder, finish_customers, "data", "customers", "nodes", guard=_NO_FALLBACK_KEYS)


def bulk_orders(store_id: str, groups: Sequence[tuple[bytes, list[bytes]]]) -> list[Any]:
    """The orders of bulk rows (see :func:`bulk_orders_json`), read by :mod:`.decode_orders`.
    Raises :class:`pydantic.ValidationError` when any order is refused."""
    try:
        return decode_orders.orders_list(bulk_orders_json(groups), store_id)
    except decode_orders.Refused as exc:
        raise refused(str(exc)) from None


def bulk_orders_json(groups: Iterable[tuple[bytes, list[bytes]]]) -> bytes:
    """One JSON array of order nodes from bulk rows: each order's row with its line rows as
    ``lineItems.nodes`` (the lines' ``__parentId`` is ignored by the validator).

    The caller passes only order rows without a ``lineItems`` key of their own, each a JSON object.
    """
    parts = [b'{"lineItems":{"nodes":[' + b",".join(lines) + b"]}," + row.lstrip()[1:] for row, lines in groups]
    return b"[" + b",".join(parts) + b"]"


_ROW_KEYS = msgspec.json.Decoder(BulkRowKeys)


def row_keys(line: bytes) -> BulkRowKeys | None:
    """A bulk row's ``id`` and ``__parentId`` only, the rest left as bytes; ``None`` when the line is
    not one whole JSON object (a download cut off mid-row). msgspec skips the other keys in C, at
    about half of what pydantic-core took per row."""
    try:
        return _ROW_KEYS.decode(line)
    except msgspec.DecodeError:
        return None
