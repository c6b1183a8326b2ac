"""The common model every connector translates into and every layer above reads.

Pydantic v2 models, frozen, so records are safe to share between the sync engine and rules.
Conventions the rest of the code relies on:

* ids are the platform's own ids as strings (Shopify GIDs such as ``gid://shopify/Order/1``, Ecwid
  integers as text); every record carries ``platform`` and ``store_id`` so one database can hold
  many stores;
* money is :class:`Money` (``Decimal`` + ISO-4217 code), never a float;
* times are timezone-aware UTC datetimes;
* guest orders are first class: ``customer_id`` is ``None`` and ``email`` is set.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(timezone.utc)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


def normalize_email(value: str | None) -> str | None:
    """The form of an address that joins buyers, orders, customers, the action ledger and the
    suppression list: surrounding whitespace stripped, then :meth:`str.lower` (not ``casefold``);
    ``None`` for ``None`` and for a blank value.

    Every ``lower_email`` column already holds this form, so it must not change: a different
    spelling would stop stored rows from matching. Unsubscribe tokens are an HMAC of it too.
    """
    if value is None:
        return None
    return value.strip().lower() or None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def from_checked(cls, values: dict[str, Any]) -> Self:
        """An instance holding ``values`` as they are, without validation.

        Only for a parser that builds many records per page and has already made each value what
        validation would make it, so the result equals ``cls(**values)``: every field given, in
        the order the class declares them; each value of the field's type (``str`` ids and texts,
        ``Decimal`` money, ``int`` counts, enum members, tuples, nested models built the same
        way); datetimes already aware and in UTC; currency codes matching ``[A-Z]{3}``. ``values``
        becomes the instance's own dict: the caller must not keep or change it.

        Why: validating field by field cost a page of Ecwid orders more CPU than every other step
        of a sync outside the database together. The Ecwid parser's tests build each record both
        ways and compare (``tests/unit/test_ecwid_parse_checked.py``). This sets what pydantic's
        own ``model_construct`` sets, through the slots' descriptors, at a fifth of its cost.
        """
        self = _new_object(cls)
        _set_dict(self, values)
        _set_fields_set(self, _ALL_FIELDS.get(cls) or _all_fields(cls))
        _set_extra(self, None)
        _set_private(self, None)
        return self


_new_object = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_ALL_FIELDS: dict[type[BaseModel], set[str]] = {}
"""Each class's field names: the fields set of every :meth:`_Frozen.from_checked` instance, shared
(frozen models never add to it; ``model_copy`` copies it before it does)."""


def _all_fields(cls: type[BaseModel]) -> set[str]:
    if cls.__pydantic_post_init__ or cls.__private_attributes__:
        raise TypeError(f"{cls.__name__} has private attributes or a post-init: build it with validation")
    return _ALL_FIELDS.setdefault(cls, set(cls.model_fields))


class Money(_Frozen):
    """An exact amount in one currency."""

    amount: Decimal
    currency: str = Field(pattern=r"^[A-Z]{3}$")

    @field_validator("amount", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        # Floats carry binary noise (0.1 + 0.2); the platforms send strings or JSON numbers, and
        # JSON numbers must be converted through their text form (see connectors' parsers).
        if isinstance(value, float):
            return Decimal(repr(value))
        return value

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(amount=Decimal("0"), currency=currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


class ConsentState(StrEnum):
    """Email-marketing consent, reduced to what rules need. Only SUBSCRIBED may be marketed to."""

    SUBSCRIBED = "subscribed"
    NOT_SUBSCRIBED = "not_subscribed"
    UNSUBSCRIBED = "unsubscribed"
    UNKNOWN = "unknown"


class EmailConsent(_Frozen):
    state: ConsentState = ConsentState.UNKNOWN
    updated_at: UtcDatetime | None = None


class AccountState(StrEnum):
    """Whether the buyer has a usable account on the platform.

    ``GUEST`` means no account: an Ecwid guest checkout, or a Shopify customer in state DISABLED.
    """

    GUEST = "guest"
    INVITED = "invited"
    ENABLED = "enabled"
    DECLINED = "declined"


class Address(_Frozen):
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    country: str | None = None
    country_code: str | None = None
    zip: str | None = None
    phone: str | None = None


class Store(_Frozen):
    """What we know about one store (shop) on one platform."""

    platform: str
    store_id: str
    name: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    url: str | None = None
    email: str | None = None
    timezone: str | None = None
    logo_url: str | None = None
    postal_address: str | None = None
    """The sender's postal address as the platform holds it (one line), for marketing footers."""


class _Record(_Frozen):
    platform: str
    store_id: str
    id: str


class Customer(_Record):
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime
    account: AccountState = AccountState.GUEST
    consent: EmailConsent = EmailConsent()
    orders_count: int | None = None
    amount_spent: Money | None = None
    tags: tuple[str, ...] = ()
    default_address: Address | None = None
    birth_date: date | None = None
    """Where the platform holds one (a Shopify metafield, an Ecwid extra field named in the store's
    settings); only month and day matter to the ``birthday`` rule."""

    @property
    def display_name(self) -> str:
        full = " ".join(part for part in (self.first_name, self.last_name) if part)
        return full or (self.email or self.id)


class FinancialStatus(StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


class LineItem(_Frozen):
    id: str
    product_id: str | None = None
    variant_id: str | None = None
    sku: str | None = None
    title: str
    quantity: int
    current_quantity: int
    """Quantity after refunds and removals; bestsellers count this."""
    unit_price: Money | None = None


class Order(_Record):
    name: str | None = None
    """The human order number, e.g. ``#1001``."""
    email: str | None = None
    customer_id: str | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    processed_at: UtcDatetime | None = None
    cancelled_at: UtcDatetime | None = None
    test: bool = False
    financial_status: FinancialStatus = FinancialStatus.UNKNOWN
    total: Money
    current_total: Money | None = None
    refunded: Money | None = None
    line_items: tuple[LineItem, ...] = ()
    billing_address: Address | None = None
    accepts_marketing: bool | None = None
    discount_codes: tuple[str, ...] = ()
    """The discount codes the buyer used (Shopify ``discountCodes``, Ecwid ``discountCoupon.code``),
    so a redemption links to the code a rule created (see :mod:`winback.report`)."""
    fulfillment_status: str | None = None
    """The platform's own word, lower case: Shopify ``displayFulfillmentStatus`` (``fulfilled``,
    ``partially_fulfilled``, ``unfulfilled``, ...), Ecwid ``fulfillmentStatus`` (``shipped``,
    ``delivered``, ``awaiting_processing``, ...)."""
    fulfilled_at: UtcDatetime | None = None
    """When the whole order was handed over (shipped, or ready for pickup); ``None`` until then.
    Shopify: the last successful fulfillment's ``createdAt``; Ecwid has no such timestamp, so its
    ``updateDate`` the first time the order is seen fulfilled (the store keeps the earliest)."""
    delivered_at: UtcDatetime | None = None
    """When the carrier reported the order delivered, where the platform says so (Shopify
    fulfillment ``deliveredAt`` on every shipment; Ecwid status ``DELIVERED``), else ``None``."""

    @property
    def is_guest(self) -> bool:
        return self.customer_id is None

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def is_fully_refunded(self) -> bool:
        if self.financial_status == FinancialStatus.REFUNDED:
            return True
        return (
            self.refunded is not None
            and self.total.amount > 0
            and self.refunded.amount >= self.total.amount
        )

    @property
    def counts_as_purchase(self) -> bool:
        """A real order for win-back purposes: not cancelled, not a test, not fully refunded."""
        return not (self.is_cancelled or self.test or self.is_fully_refunded)


class ProductStatus(StrEnum):
    ACTIVE = "active"
    DRAFT = "draft"
    ARCHIVED = "archived"
    UNLISTED = "unlisted"
    """Sellable by direct link but hidden from the storefront (Shopify 2026-07); never recommended."""


class Product(_Record):
    title: str
    handle: str | None = None
    url: str | None = None
    image_url: str | None = None
    status: ProductStatus = ProductStatus.ACTIVE
    price: Money | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None

    @property
    def is_active(self) -> bool:
        return self.status == ProductStatus.ACTIVE


class DiscountKind(StrEnum):
    PERCENTAGE = "percentage"
    FIXED_AMOUNT = "fixed_amount"


class DiscountCodeSpec(_Frozen):
    """What a rule asks a connector to create."""

    code: str = Field(min_length=1, max_length=255)
    title: str
    kind: DiscountKind
    value: Decimal
    """Percent (e.g. ``10`` for 10 %) or an amount in the store currency."""
    starts_at: UtcDatetime
    ends_at: UtcDatetime | None = None
    once_per_customer: bool = True
    usage_limit: int | None = None
    customer_id: str | None = None
    """Lock the code to this customer where the platform allows it."""

    @field_validator("value")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("discount value must be positive")
        return value


class DiscountCode(_Frozen):
    """A discount code as it exists on the platform."""

    platform: str
    store_id: str
    id: str
    code: str
    title: str | None = None
    kind: DiscountKind | None = None
    value: Decimal | None = None
    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None
    once_per_customer: bool | None = None
    usage_limit: int | None = None
    customer_ids: tuple[str, ...] = ()

    def matches(self, spec: DiscountCodeSpec, *, customer_locked: bool = True, same_start: bool = True) -> bool:
        """Whether this existing code is the one ``spec`` describes, so winback may treat it as
        its own: the same string (case-insensitively, as checkouts compare codes), kind, value and
        usage limit, and the same validity (as long; with ``same_start`` also starting when
        ``spec`` does, within a second: platforms keep whole seconds).

        Where the platform locks codes to a customer (``customer_locked``), the code must be
        locked to exactly ``spec.customer_id``; a code open to everyone (no lock wanted or
        possible) must carry ``spec.title`` instead. A field the platform did not tell counts as
        different: a code that cannot be shown to be ours is not ours.
        """
        if self.code.casefold() != spec.code.casefold() or self.kind != spec.kind:
            return False
        if self.value is None or self.value != spec.value or self.usage_limit != spec.usage_limit:
            return False
        locked_to = {spec.customer_id} if customer_locked and spec.customer_id else set()
        if set(self.customer_ids) != locked_to or (not locked_to and self.title != spec.title):
            return False
        if self.starts_at is None or (same_start and abs(self.starts_at - spec.starts_at) > _SECOND):
            return False
        if spec.ends_at is None or self.ends_at is None:
            return spec.ends_at is None and self.ends_at is None
        return abs((self.ends_at - self.starts_at) - (spec.ends_at - spec.starts_at)) <= 2 * _SECOND


_SECOND = timedelta(seconds=1)


class NewCustomer(_Frozen):
    """What a rule asks a connector to create as a customer account."""

    email: str
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    accepts_marketing: bool | None = None
    """``None`` leaves consent untouched; account creation is transactional, not marketing."""
    tags: tuple[str, ...] = ()


def birth_date_of(value: object) -> date | None:
    """A birth date as platforms hold it (a ``date`` metafield ``1990-05-17``, a date-time picker's
    ``2024-05-17 00:00:00 +0000`` or ISO date-time); ``None`` for anything else, since a birth date
    typed into a free-text field is no reason to reject the customer."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    if not isinstance(value, str):
        return None
    text = value.strip()[:10]
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        return None
    return parsed if 1900 <= parsed.year <= 2100 else None
