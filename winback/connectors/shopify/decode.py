"""Pages of orders and customers decoded straight from the answer's bytes into :mod:`winback.model`.

Why
    Decoding a page to Python dicts and then building every model from them cost more than the
    rest of a sync outside the store's write path together: each order is ten objects (the order,
    its lines, its amounts, its address) and every field was looked up twice. msgspec reads the
    answer into plain structs in C, checking every shape, and one Python pass builds the models
    without validating them again (:mod:`.decode_orders`, :mod:`.decode_customers`). This took
    about half the CPU of the pydantic-core validators that did the same before (measured on the
    emulator's recordings with ``bench/profile_sync_cpu.py``).

What the caller may rely on
    - This is a fast path, never a second opinion: it accepts a strict subset of what
      :func:`.parse.parse_order` and :func:`.parse.parse_customer` accept (JSON strings, integers
      and booleans where those parsers would also convert other types; amounts and times of one
      plain form; no keys the documents do not select), and for what it accepts it builds records
      equal to theirs. Anything else, including a single malformed record, a page with top-level
      ``errors``, a throttled answer or an order whose line items need another request, fails the
      whole page with :class:`pydantic.ValidationError`; the caller then reads the page the
      ordinary way, which quarantines the bad record with its reason exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec
from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from winback.connectors.shopify import decode_customers, decode_orders
from winback.connectors.shopify.order_structs import BulkRowKeys


def refused(why: str) -> ValidationError:
    """What a decoder raises for a page the ordinary path must read."""
    error = InitErrorDetails(type=PydanticCustomError("ordinary_path", why), loc=(), input=None)
    return ValidationError.from_exception_data("ordinary_path", [error])


class ConnectionPage:
    """A decoder (see :class:`.graphql.Decoder`) of one connection's answers:
    ``{"data": {<connection>: {"nodes": [record, ...], "pageInfo": ...}}, "extensions": ...}``."""

    def __init__(self, connection: str, read: Callable[[bytes, str], tuple[list[Any], Any, Any]], store_id: str) -> None:
        self.connection = connection
        self.read = read
        self.store_id = store_id

    def validate_json(self, data: bytes) -> dict[str, Any]:
        try:
            records, page_info, extensions = self.read(data, self.store_id)
        except decode_orders.Refused as exc:
            raise refused(str(exc)) from None
        return {"data": {self.connection: {"nodes": records, "pageInfo": page_info}}, "extensions": extensions}


def orders_page(store_id: str) -> ConnectionPage:
    """The decoder of ``OrdersPage`` answers of store ``store_id``."""
    return ConnectionPage("orders", decode_orders.orders_answer, store_id)


def customers_page(store_id: str) -> ConnectionPage:
    """The decoder of ``CustomersPage`` answers of store ``store_id``."""
    return ConnectionPage("customers", decode_customers.customers_answer, store_id)


class OrdersList:
    """A decoder of a JSON array of order nodes (a bulk export's rows put together) → ``[Order, ...]``."""

    def __init__(self, store_id: str) -> None:
        self.store_id = store_id

    def validate_json(self, data: bytes) -> list[Any]:
        try:
            return decode_orders.orders_list(data, self.store_id)
        except decode_orders.Refused as exc:
            raise refused(str(exc)) from None


def orders_list(store_id: str) -> OrdersList:
    """The decoder of bulk orders of store ``store_id``."""
    return OrdersList(store_id)


def bulk_orders(store_id: str, groups: Sequence[tuple[bytes, list[bytes]]]) -> list[Any]:
    """The orders of bulk rows (see :func:`bulk_orders_json`), a page at once. Raises
    :class:`pydantic.ValidationError` when any order is refused."""
    return orders_list(store_id).validate_json(bulk_orders_json(groups))


def bulk_orders_json(groups: Iterable[tuple[bytes, list[bytes]]]) -> bytes:
    """One JSON array of order nodes from bulk rows: each order's row with its line rows as
    ``lineItems.nodes`` (the lines' ``__parentId`` is ignored by the decoder).

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
    except (msgspec.DecodeError, RecursionError):
        return None
