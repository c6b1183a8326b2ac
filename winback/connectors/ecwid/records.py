"""Ecwid order and customer search pages decoded straight into typed records (msgspec structs).

Why: decoding a page into dicts and reading each record with ``dict.get`` cost about as much as
everything else the parser does. msgspec decodes a page into :class:`msgspec.Struct` records in C,
keeping only the fields the parser reads (:mod:`~winback.connectors.ecwid.fields`; any other is
ignored), typed as their common shape; :mod:`~winback.connectors.ecwid.typed` reads them.

What a caller may rely on:

* :func:`decode_orders` and :func:`decode_customers` return ``{"total": ..., "items": [...]}``.
  A page whose records all have the declared types is decoded at once; otherwise each record is
  decoded by itself, typed, or decoded as a dict when it does not have them (an id that is not a
  non-empty text, a count that is not a non-negative ``int``, seconds out of
  :data:`~winback.connectors.ecwid.values.PLAIN_SECONDS`, ...), so the hand-checked parser reads
  that record alone, raises the same error and it is quarantined alone.
* A body that is not such an envelope (not JSON, ``NaN``, no ``total``...) is decoded by
  :func:`~winback.connectors.ecwid.values.decode_json`, so it is answered exactly as before.
* Amounts and every field typed ``Any`` hold what ``decode_json`` would give (every number with a
  fraction an exact ``Decimal``); :meth:`Record.source` is the record decoded as dicts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Raw, UnsetType

from winback.connectors.ecwid.values import PLAIN_SECONDS, decode_json

__all__ = ["CustomerRecord", "Item", "OrderRecord", "Person", "Record", "decode_customers", "decode_orders"]

Seconds = Annotated[int, Meta(ge=PLAIN_SECONDS.start, lt=PLAIN_SECONDS.stop)]
Id = Annotated[str, Meta(min_length=1)]
Text = str | None | UnsetType


class Person(msgspec.Struct, gc=False):
    """A ``billingPerson``: every field the parser reads, as text; ``UNSET`` when Ecwid left it out."""

    name: Text = UNSET
    firstName: Text = UNSET
    lastName: Text = UNSET
    companyName: Text = UNSET
    street: Text = UNSET
    city: Text = UNSET
    stateOrProvinceName: Text = UNSET
    stateOrProvinceCode: Text = UNSET
    countryName: Text = UNSET
    countryCode: Text = UNSET
    postalCode: Text = UNSET
    phone: Text = UNSET


class Item(msgspec.Struct, gc=False):
    quantity: Annotated[int, Meta(ge=0)]
    id: int | str | None = None
    productId: int | str | None = None
    sku: str | None = None
    name: str | None = None
    price: Any = None


class _Source:
    """The body typed records came in: a whole page (``whole``), decoded as dicts once a record of
    it is wanted that way, or one record. It holds no record: records are not tracked by the
    garbage collector, so a cycle through them would never be freed."""

    __slots__ = ("content", "whole", "decoded")

    def __init__(self, content: bytes, whole: bool) -> None:
        self.content, self.whole, self.decoded = content, whole, None

    def record(self, index: int) -> Any:
        if not self.whole:
            return decode_json(self.content)
        if self.decoded is None:
            self.decoded = decode_json(self.content)
        return self.decoded["items"][index]


class Record(msgspec.Struct, gc=False, kw_only=True):
    """A typed record; :meth:`source` is the same record decoded as dicts, for the parser.

    ``gc=False``: records hold no cycles, and tracking 20,000 of them cost a third of decoding.
    ``source_`` and ``index_`` are set after decoding (whatever a body sends under their odd names)."""

    source_: Any = msgspec.field(default=None, name="winback:source")
    index_: Any = msgspec.field(default=None, name="winback:index")

    def source(self) -> Any:
        return self.source_.record(self.index_)


class OrderRecord(Record):
    id: Id
    createTimestamp: Seconds
    updateTimestamp: Seconds
    total: Any
    paymentStatus: str | None = None
    fulfillmentStatus: str | None = None
    refundedAmount: Any = None
    refunds: Any = None
    customerId: int | str | None = None
    email: str | None = None
    acceptMarketing: Any = None
    billingPerson: Person | None = None
    discountCoupon: Any = None
    items: list[Item] | None = None


class CustomerRecord(Record):
    id: int | Id
    name: Any = None
    email: str | None = None
    registered: Any = None
    updated: Any = None
    acceptMarketing: Any = None
    billingPerson: Person | None = None
    stats: Any = None
    totalOrderCount: Any = None
    updated_: Any = msgspec.field(default=None, name="winback:updated")


class _Envelope(msgspec.Struct, gc=False):
    total: int
    items: list[Raw]


class _Orders(msgspec.Struct, gc=False):
    total: int
    items: list[OrderRecord]


class _Customers(msgspec.Struct, gc=False):
    total: int
    items: list[CustomerRecord]


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_ORDERS = msgspec.json.Decoder(_Orders, float_hook=Decimal)
_CUSTOMERS = msgspec.json.Decoder(_Customers, float_hook=Decimal)
_ORDER = msgspec.json.Decoder(OrderRecord, float_hook=Decimal)
_CUSTOMER = msgspec.json.Decoder(CustomerRecord, float_hook=Decimal)


def _decode_page(content: bytes, decode_page: Any, decode_record: Any) -> Any:
    """``{"total": ..., "items": [...]}``: the whole page typed at once when every record has the
    common shape, else each record typed or (when it has not) decoded as a dict by itself; a body
    that is not such an envelope is decoded whole as before."""
    try:
        page = decode_page(content)
    except (msgspec.DecodeError, RecursionError):
        pass
    else:
        source = _Source(content, True)
        for index, record in enumerate(page.items):
            record.source_, record.index_ = source, index
        return {"total": page.total, "items": page.items}
    try:
        envelope = _ENVELOPE.decode(content)
    except (msgspec.DecodeError, RecursionError):
        return decode_json(content)
    items: list[Any] = []
    append = items.append
    for raw in envelope.items:
        content = bytes(raw)
        try:
            record = decode_record(content)
        except msgspec.ValidationError:
            append(decode_json(content))
        else:
            record.source_ = _Source(content, False)
            append(record)
    return {"total": envelope.total, "items": items}


def decode_orders(content: bytes) -> Any:
    """An order search page, as the module's docstring says."""
    return _decode_page(content, _ORDERS.decode, _ORDER.decode)


def decode_customers(content: bytes) -> Any:
    """A customer search page, as the module's docstring says."""
    return _decode_page(content, _CUSTOMERS.decode, _CUSTOMER.decode)
