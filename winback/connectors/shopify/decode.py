"""Pages of orders and customers decoded straight from the answer's bytes into :mod:`winback.model`, in Rust.

Why
    Decoding a page to Python dicts and then building every model from them cost more than the
    rest of a sync outside the store's write path together: each order is ten objects (the order,
    its lines, its amounts, its address) and every field was looked up twice. Here one
    pydantic-core validator per store reads the whole GraphQL answer (or a bulk export's rows put
    together) and builds the very same model instances with the models' own field validators
    (the schemas of the nodes are in :mod:`.decode_nodes`). No Python function runs per record
    inside the validator (bar a rare shape); what reads several fields of a node (fulfilment times, fallbacks) is
    one Python pass over the page afterwards.

What the caller may rely on
    - This is a fast path, never a second opinion: it accepts a strict subset of what
      :func:`.parse.parse_order` and :func:`.parse.parse_customer` accept (JSON strings, integers
      and booleans where those parsers would also convert other types; no keys the documents do
      not select), and for what it accepts it builds records equal to theirs. Anything else,
      including a single malformed record, a page with top-level ``errors``, a throttled answer
      or an order whose line items need another request, fails the whole page with
      :class:`pydantic.ValidationError`; the caller then reads the page the ordinary way, which
      quarantines the bad record with its reason exactly as before.
    - Validators are built once per store id and kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from pydantic_core import SchemaValidator
from pydantic_core import core_schema as cs

from winback.connectors.shopify.decode_nodes import (
    MODELS,
    customer_schema,
    finish_customers,
    finish_orders,
    order_schema,
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


@lru_cache(maxsize=16)
def orders_page(store_id: str) -> _Finished:
    """An ``OrdersPage`` answer → ``{"data": {"orders": {"nodes": [Order, ...], "pageInfo": ...}}, ...}``."""
    decoder = _validator(_connection_answer("orders", order_schema(store_id)))
    return _Finished(decoder, finish_orders, "data", "orders", "nodes")


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


@lru_cache(maxsize=16)
def orders_list(store_id: str) -> _Finished:
    """A JSON array of ``OrderFields`` nodes (a bulk export's rows put together) → ``[Order, ...]``."""
    return _Finished(_validator(cs.list_schema(order_schema(store_id))), finish_orders)


BULK_CHUNK = 25
"""Orders per validator call in :func:`bulk_orders`."""


def bulk_orders(store_id: str, groups: Sequence[tuple[bytes, list[bytes]]]) -> list[Any]:
    """The orders of bulk rows (see :func:`bulk_orders_json`), :data:`BULK_CHUNK` at a time.

    Why in chunks: one call over a whole page of 250 orders took about half as long again as the
    same orders 25 at a time (measured on the emulator's export with ``bench/profile_sync_cpu.py``
    recordings; the cause inside pydantic-core was not pinned down), and the records are the same
    either way. Raises
    :class:`pydantic.ValidationError` when any order is refused."""
    decoder = orders_list(store_id)
    records: list[Any] = []
    for start in range(0, len(groups), BULK_CHUNK):
        records.extend(decoder.validate_json(bulk_orders_json(groups[start : start + BULK_CHUNK])))
    return records


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
    ),
    config=_CONFIG,
)
"""A bulk row (a JSON object) → its ``id`` and ``__parentId`` only, the rest left as bytes."""
