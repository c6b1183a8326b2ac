"""Shopify order nodes as msgspec structs: the shapes :mod:`.decode_orders` reads an answer into.

Each struct takes only the common shape of its node: JSON strings, integers and booleans where
:func:`.parse.parse_order` would also convert other types, amounts and times as text (their form
is checked by :mod:`.decode_orders`, once per distinct text), and no key of an address the
documents do not select. Anything else fails the whole decode with :class:`msgspec.ValidationError`,
and the page is read the ordinary way. ``gc=False``: these objects hold only strings, numbers and other such structs, never
a cycle, so the collector need not track the thousands a page makes.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct, field

Amount = str
"""Checked by :mod:`.decode_orders` once per distinct text (the same few amounts recur)."""
Time = str
"""Checked by :mod:`.decode_orders` once per distinct text."""


class MoneyNode(Struct, gc=False):
    amount: Amount
    currencyCode: str


class MoneySet(Struct, gc=False):
    shopMoney: MoneyNode | None = None


class IdNode(Struct, gc=False):
    id: str | None = None


class AddressNode(Struct, gc=False, forbid_unknown_fields=True):
    """``forbid_unknown_fields``: ``countryCode`` (the fallback of :func:`.parse.address`) goes the ordinary way."""

    firstName: str | None = None
    lastName: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    provinceCode: str | None = None
    country: str | None = None
    countryCodeV2: str | None = None
    zip: str | None = None
    phone: str | None = None


class LineNode(Struct, gc=False):
    id: str
    title: str
    quantity: int
    currentQuantity: int | None = None
    sku: str | None = None
    variant: IdNode | None = None
    product: IdNode | None = None
    originalUnitPriceSet: MoneySet | None = None


class LinesInfo(Struct, gc=False):
    hasNextPage: bool | None = None


class Lines(Struct, gc=False):
    nodes: list[LineNode]
    pageInfo: LinesInfo | None = None


class Shipment(Struct, gc=False):
    status: Any = None
    createdAt: Time | None = None
    deliveredAt: Time | None = None


class OrderNode(Struct, gc=False):
    id: str
    createdAt: Time
    updatedAt: Time
    totalPriceSet: MoneySet
    name: str | None = None
    email: str | None = None
    processedAt: Time | None = None
    cancelledAt: Time | None = None
    test: bool = False
    displayFinancialStatus: Any = None
    """Any JSON: a word the table does not hold, or no word, reads as ``UNKNOWN`` (as :func:`.parse.parse_order`)."""
    customerAcceptsMarketing: bool | None = None
    discountCodes: list[str] | None = None
    displayFulfillmentStatus: str | None = None
    fulfillments: list[Shipment] | None = None
    customer: IdNode | None = None
    currentTotalPriceSet: MoneySet | None = None
    totalRefundedSet: MoneySet | None = None
    billingAddress: AddressNode | None = None
    lineItems: Lines | None = None


class PageInfo(Struct, gc=False):
    hasNextPage: Any = None
    endCursor: Any = None


class OrdersConnection(Struct, gc=False):
    nodes: list[OrderNode]
    pageInfo: PageInfo | None = None


class OrdersData(Struct, gc=False):
    orders: OrdersConnection


class OrdersAnswer(Struct, gc=False):
    """``{data: {orders: {nodes, pageInfo}}, extensions}`` with no ``errors`` (null at most)."""

    data: OrdersData
    errors: None = None
    extensions: Any = None


class BulkRowKeys(Struct, gc=False):
    """A bulk row's ``id`` and ``__parentId``, the rest skipped."""

    id: Any = None
    parent: Any = field(default=None, name="__parentId")
