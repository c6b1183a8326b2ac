"""Builders and an in-memory connector for the winback.sync tests (no tests here)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Self

import httpx
from pydantic import BaseModel

from winback import errors
from winback.connectors.base import (
    AccessReport,
    Capabilities,
    Connector,
    InviteMode,
    Page,
    RejectedRecord,
    Resource,
)
from winback.model import (
    AccountState,
    ConsentState,
    Customer,
    DiscountCode,
    DiscountCodeSpec,
    EmailConsent,
    FinancialStatus,
    LineItem,
    Money,
    NewCustomer,
    Order,
    Product,
    Store,
)

PLATFORM = "fake"
STORE_ID = "shop1"
KEY = f"{PLATFORM}:{STORE_ID}"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def eur(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def customer(cid: str, *, updated: float = 0, email: str | None = None, **kw: Any) -> Customer:
    return Customer(
        platform=PLATFORM,
        store_id=STORE_ID,
        id=cid,
        email=email if email is not None else f"{cid}@example.com",
        first_name=kw.pop("first_name", "First"),
        last_name=kw.pop("last_name", cid.title()),
        created_at=at(0),
        updated_at=at(updated),
        account=kw.pop("account", AccountState.ENABLED),
        consent=kw.pop("consent", EmailConsent(state=ConsentState.SUBSCRIBED, updated_at=at(0))),
        **kw,
    )


def order(
    oid: str,
    *,
    updated: float = 0,
    created: float | None = None,
    customer_id: str | None = None,
    email: str | None = None,
    total: str = "10.00",
    lines: int = 1,
    **kw: Any,
) -> Order:
    return Order(
        platform=PLATFORM,
        store_id=STORE_ID,
        id=oid,
        name=f"#{oid}",
        email=email,
        customer_id=customer_id,
        created_at=at(created if created is not None else updated),
        updated_at=at(updated),
        financial_status=kw.pop("financial_status", FinancialStatus.PAID),
        total=eur(total),
        line_items=tuple(
            LineItem(
                id=f"{oid}-l{n}", product_id=f"p{n}", title=f"Product {n}", quantity=2, current_quantity=2,
                unit_price=eur("5.00"),
            )
            for n in range(lines)
        ),
        **kw,
    )


def product(pid: str, *, updated: float = 0, **kw: Any) -> Product:
    return Product(
        platform=PLATFORM, store_id=STORE_ID, id=pid, title=kw.pop("title", f"Product {pid}"),
        price=eur("5.00"), updated_at=at(updated), **kw,
    )


def rejected(resource: Resource, record_id: str | None, raw: Mapping[str, Any]) -> RejectedRecord:
    return RejectedRecord(resource=resource, record_id=record_id, reason="bad total", raw=raw)


class Crash(errors.PlatformUnavailableError):
    pass


class FakeConnector(Connector):
    """Serves records from in-memory lists, oldest first, ``page_size`` per page.

    ``crash_after = {resource: k}`` raises after ``k`` pages of that resource have been yielded
    (the generator is interrupted like a killed process would be); ``extra_rejected`` adds rejected
    records to the first page of a resource.
    """

    platform = PLATFORM
    settings_model = BaseModel

    def __init__(self, *, page_size: int = 2) -> None:
        self.page_size = page_size
        self.data: dict[Resource, dict[str, Any]] = {r: {} for r in Resource}
        self.crash_after: dict[Resource, int] = {}
        self.extra_rejected: dict[Resource, list[RejectedRecord]] = {}
        self.reads: list[tuple[Resource, datetime | None]] = []
        self.requests_sent = 0
        self.fail_store_info = False

    def put(self, *records: Customer | Order | Product) -> None:
        for record in records:
            kind = {Customer: Resource.CUSTOMERS, Order: Resource.ORDERS, Product: Resource.PRODUCTS}[type(record)]
            self.data[kind][record.id] = record

    @classmethod
    def from_settings(
        cls, settings: BaseModel | Mapping[str, Any], *, transport: httpx.AsyncBaseTransport | None = None,
        secret_store: object = None,
    ) -> Self:
        return cls()

    @property
    def store_label(self) -> str:
        return "fake shop1"

    @property
    def store_id(self) -> str:
        return STORE_ID

    async def aclose(self) -> None:
        pass

    async def store_info(self) -> Store:
        self.requests_sent += 1
        if self.fail_store_info:
            raise errors.AuthenticationError("fake shop1 rejected the token", store=self.store_label)
        return Store(platform=PLATFORM, store_id=STORE_ID, name="Shop One", currency="EUR", url="https://shop1.test")

    async def capabilities(self) -> Capabilities:
        return Capabilities(invite_mode=InviteMode.CREATE_CUSTOMER)

    async def check_access(self) -> AccessReport:
        return AccessReport(granted=frozenset(), required=frozenset())

    async def _serve(self, resource: Resource, since: datetime | None) -> AsyncIterator[Page[Any]]:
        self.reads.append((resource, since))
        records = sorted(
            (r for r in self.data[resource].values() if since is None or (r.updated_at and r.updated_at >= since)),
            key=lambda r: (r.updated_at or T0, r.id),
        )
        extra = list(self.extra_rejected.get(resource, []))
        pages = 0
        for start in range(0, max(len(records), 1), self.page_size):
            if self.crash_after.get(resource) == pages:
                raise Crash(f"{self.store_label}: connection lost", store=self.store_label)
            chunk = records[start : start + self.page_size]
            self.requests_sent += 1
            page = Page(
                records=chunk,
                rejected=extra if pages == 0 else [],
                newest_updated_at=max((r.updated_at for r in chunk if r.updated_at), default=None),
            )
            pages += 1
            yield page

    def customers(self, updated_since: datetime | None = None) -> AsyncIterator[Page[Customer]]:
        return self._serve(Resource.CUSTOMERS, updated_since)

    def orders(self, updated_since: datetime | None = None, *, full: bool = False) -> AsyncIterator[Page[Order]]:
        return self._serve(Resource.ORDERS, updated_since)

    def products(self) -> AsyncIterator[Page[Product]]:
        return self._serve(Resource.PRODUCTS, None)

    async def find_discount_code(self, code: str) -> DiscountCode | None:
        return None

    async def create_discount_code(self, spec: DiscountCodeSpec) -> DiscountCode:
        raise NotImplementedError

    async def find_customer_by_email(self, email: str) -> Customer | None:
        return None

    async def create_customer(self, spec: NewCustomer) -> Customer:
        raise NotImplementedError

    async def send_account_invite(self, customer_id: str) -> None:
        raise NotImplementedError
