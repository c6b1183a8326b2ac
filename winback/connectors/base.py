"""The connector protocol: what every platform adapter offers to the layers above.

A connector translates one platform's API into :mod:`winback.model`; it does not decide anything.
Reads are async streams of :class:`Page` objects so the sync engine can commit a page together
with its cursor and never hold a whole store in memory. A record the connector cannot translate is
not an exception: it travels in ``Page.rejected`` with its raw payload so the sync engine can
quarantine it and go on.

Writes are not retried blindly: callers that need "at most once" look up first
(``find_discount_code``, ``find_customer_by_email``) and connectors never re-send a
non-idempotent request after an ambiguous failure (see :mod:`winback.connectors.http`).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, Self, TypeVar

import httpx
from pydantic import BaseModel

from winback.model import Customer, DiscountCode, DiscountCodeSpec, NewCustomer, Order, Product, Store

T = TypeVar("T")


class Resource(StrEnum):
    CUSTOMERS = "customers"
    ORDERS = "orders"
    PRODUCTS = "products"


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """A record the platform sent that we could not translate; kept raw for quarantine."""

    resource: Resource
    record_id: str | None
    reason: str
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a read, in the platform's order.

    ``records`` are translated; ``rejected`` could not be. ``newest_updated_at`` is the largest
    ``updated_at`` seen on the page (including rejected records when the platform gave one), which
    the sync engine may use as a cursor once the page is committed.
    """

    records: list[T]
    rejected: list[RejectedRecord] = field(default_factory=list)
    newest_updated_at: datetime | None = None


class InviteMode(StrEnum):
    """How a guest buyer gets an account on this store."""

    CREATE_CUSTOMER = "create_customer"
    """Ecwid: create the customer record; sign-in is by emailed link."""
    SEND_INVITE = "send_invite"
    """Shopify classic accounts: the DISABLED customer exists; send the account invite."""
    NOT_NEEDED = "not_needed"
    """Shopify new customer accounts: passwordless sign-in, nothing to create."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What this connector can do for this store; rules consult it instead of guessing."""

    invite_mode: InviteMode
    discount_codes: bool = True
    percentage_discounts: bool = True
    fixed_amount_discounts: bool = True
    customer_locked_codes: bool = False
    """Codes can be restricted to one customer on the platform itself."""
    bulk_export: bool = False
    marketing_consent_timestamps: bool = False


@dataclass(frozen=True, slots=True)
class AccessReport:
    """Which permissions the credentials have, for ``winback check``."""

    granted: frozenset[str]
    required: frozenset[str]

    @property
    def missing(self) -> frozenset[str]:
        return self.required - self.granted


class Connector(abc.ABC):
    """Base class of every connector. Use as an async context manager: one HTTP client per store."""

    platform: ClassVar[str]
    settings_model: ClassVar[type[BaseModel]]

    @classmethod
    @abc.abstractmethod
    def from_settings(
        cls, settings: BaseModel | Mapping[str, Any], *, transport: httpx.AsyncBaseTransport | None = None
    ) -> Self:
        """Build a connector from its settings model (or a mapping validated into it)."""

    @property
    @abc.abstractmethod
    def store_label(self) -> str:
        """A human name for the store used in messages, e.g. ``acme.myshopify.com``."""

    @property
    @abc.abstractmethod
    def store_id(self) -> str:
        """The id recorded on every record of this store."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @abc.abstractmethod
    async def aclose(self) -> None: ...

    # --- description -------------------------------------------------------------------------

    @abc.abstractmethod
    async def store_info(self) -> Store: ...

    @abc.abstractmethod
    async def capabilities(self) -> Capabilities: ...

    @abc.abstractmethod
    async def check_access(self) -> AccessReport: ...

    # --- reads -------------------------------------------------------------------------------

    @abc.abstractmethod
    def customers(self, updated_since: datetime | None = None) -> AsyncIterator[Page[Customer]]:
        """Customers updated at or after ``updated_since`` (all when ``None``), oldest first."""

    @abc.abstractmethod
    def orders(
        self, updated_since: datetime | None = None, *, full: bool = False
    ) -> AsyncIterator[Page[Order]]:
        """Orders updated at or after ``updated_since``, oldest first.

        ``full=True`` tells the connector this is a first full read, so it may use a bulk export
        where the platform has one.
        """

    @abc.abstractmethod
    def products(self) -> AsyncIterator[Page[Product]]: ...

    # --- writes ------------------------------------------------------------------------------

    @abc.abstractmethod
    async def find_discount_code(self, code: str) -> DiscountCode | None: ...

    @abc.abstractmethod
    async def create_discount_code(self, spec: DiscountCodeSpec) -> DiscountCode:
        """Create the code; raises :class:`~winback.errors.DiscountCodeTakenError` if it exists."""

    @abc.abstractmethod
    async def find_customer_by_email(self, email: str) -> Customer | None: ...

    @abc.abstractmethod
    async def create_customer(self, spec: NewCustomer) -> Customer:
        """Create a customer; raises :class:`~winback.errors.CustomerExistsError` if taken."""

    @abc.abstractmethod
    async def send_account_invite(self, customer_id: str) -> None:
        """Ask the platform to email an account invite; :class:`NotSupportedError` if it cannot."""
