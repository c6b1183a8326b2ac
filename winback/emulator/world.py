"""A platform-neutral seeded store ("world") that both emulators render in their own API shapes.

The generator (:func:`winback.emulator.generate.generate_world`) fills these dataclasses
deterministically from a seed. The Shopify and Ecwid emulators copy what they need into their own
mutable state, so one world can back both at once.

Semantics shared by both renderings:

* ``WCustomer.registered`` — the buyer signed up for an account. On Shopify an unregistered buyer
  still exists as a customer in state DISABLED; on Ecwid their orders carry no ``customerId`` and
  ``/customers`` lists the basic account Ecwid creates for their email after an order.
* ``WOrder.customer_key is None`` — an order with no customer at all (Shopify ``customer: null``:
  POS/API orders or a removed customer); ``email`` is still set.
* Quantities: ``refunded_quantity`` of a line is subtracted to get Shopify's ``currentQuantity``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(slots=True)
class WAddress:
    first_name: str
    last_name: str
    address1: str
    city: str
    province: str | None
    province_code: str | None
    country: str
    country_code: str
    zip: str
    phone: str | None = None
    company: str | None = None


@dataclass(slots=True)
class WProduct:
    key: int
    """1-based, stable; emulators derive their ids from it."""
    title: str
    handle: str
    sku: str
    price: Decimal
    image_url: str
    status: str
    """ACTIVE, DRAFT or ARCHIVED."""
    created_at: datetime
    updated_at: datetime
    popularity: float
    """Relative weight used by the generator (long tail); emulators ignore it."""


@dataclass(slots=True)
class WCustomer:
    key: int
    first_name: str | None
    last_name: str | None
    email: str
    phone: str | None
    created_at: datetime
    updated_at: datetime
    registered: bool
    consent: str
    """SUBSCRIBED, NOT_SUBSCRIBED, UNSUBSCRIBED or PENDING (Shopify marketingState names)."""
    consent_updated_at: datetime | None
    address: WAddress | None
    tags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class WLine:
    key: int
    product_key: int | None
    """``None`` when the product was deleted since (Shopify ``product: null``)."""
    title: str
    sku: str | None
    quantity: int
    refunded_quantity: int
    unit_price: Decimal


@dataclass(slots=True)
class WOrder:
    key: int
    number: int
    """Human order number, e.g. 1001."""
    customer_key: int | None
    email: str | None
    created_at: datetime
    updated_at: datetime
    processed_at: datetime
    cancelled_at: datetime | None
    test: bool
    financial_status: str
    """Shopify displayFinancialStatus names: PAID, PENDING, AUTHORIZED, PARTIALLY_REFUNDED, REFUNDED, VOIDED."""
    lines: list[WLine]
    subtotal: Decimal
    total: Decimal
    refunded_amount: Decimal
    accepts_marketing: bool
    billing_address: WAddress | None
    discount_codes: list[str] = field(default_factory=list)
    """Codes the buyer entered at checkout (a reminded customer redeeming one, see respond.py)."""
    fulfilled_at: datetime | None = None
    """When the last item shipped (see fulfilment.py); ``None``: not yet."""
    delivered_at: datetime | None = None
    """When the carrier reported it delivered; ``None``: not (yet) reported."""


@dataclass(slots=True)
class World:
    seed: int
    store_name: str
    currency: str
    now: datetime
    """The world's "today": the newest timestamp in it is not after this."""
    products: list[WProduct]
    customers: list[WCustomer]
    orders: list[WOrder]
    """Sorted by ``created_at``."""

    def customer(self, key: int) -> WCustomer:
        return self.customers[key - 1]

    def product(self, key: int) -> WProduct:
        return self.products[key - 1]
