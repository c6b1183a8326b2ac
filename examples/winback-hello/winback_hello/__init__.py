"""A complete winback connector for "Hello Shop", a toy platform whose API is a JSON document.

Read this file next to ``README.md``: it is the smallest connector that does everything winback
expects — settings validated by pydantic, reads as async streams of :class:`Page`, records that
cannot be translated travelling as :class:`RejectedRecord` instead of raising, capabilities and
access reports for ``winback check``, and writes that keep state (here: in memory).

The "API" is either the built-in :data:`SAMPLE` payload or a JSON file named by ``data_file``
with the same shape: ``{"customers": [...], "orders": [...], "products": [...]}`` in Hello Shop's
own format (camelCase, amounts as strings, times as ISO 8601 with a zone). A real connector would
make HTTP requests here instead (through :class:`winback.connectors.http.HttpClient`).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from winback.connectors.base import (
    AccessReport,
    Capabilities,
    Connector,
    ConnectorProfile,
    InviteMode,
    Page,
    RejectedRecord,
    Resource,
)
from winback.errors import (
    CustomerExistsError,
    DiscountCodeTakenError,
    NotSupportedError,
    UnexpectedResponseError,
)
from winback.model import (
    AccountState,
    ConsentState,
    Customer,
    DiscountCode,
    DiscountCodeSpec,
    EmailConsent,
    LineItem,
    Money,
    NewCustomer,
    Order,
    Product,
    Store,
)

__all__ = ["SAMPLE", "HelloConnector", "HelloSettings"]

T = TypeVar("T")

PERMISSIONS = frozenset({"read_customers", "read_orders", "read_products", "write_discounts", "write_customers"})
"""What winback needs from a Hello Shop key; the toy platform grants what ``permissions`` lists."""


class HelloSettings(BaseModel):
    """The ``[store]`` table of a client config with ``platform = "hello"``.

    winback validates the table with this model, so unknown keys, wrong types and missing keys are
    reported with the file, line and key like the built-in platforms' settings.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    greeting_store: str = Field(min_length=1, description="The store's name; its slug is the store id.")
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    data_file: Path | None = None
    """A JSON file in Hello Shop's format; default: the built-in :data:`SAMPLE`."""
    api_key: SecretStr | None = None
    """The store's API key; a real platform's connector would send it (Hello Shop ignores it).
    ``SecretStr``: winback masks it in logs, errors and ``winback status``."""
    page_size: int = Field(default=2, ge=1, le=100)
    """Small by default so the sample shows several pages."""
    permissions: tuple[str, ...] = tuple(sorted(PERMISSIONS))
    """Permissions of the (pretend) API key, for ``winback check``."""


SAMPLE: dict[str, list[dict[str, Any]]] = {
    "customers": [
        {"id": 1, "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace",
         "createdAt": "2025-01-05T10:00:00Z", "updatedAt": "2025-01-05T10:00:00Z", "newsletter": True},
        {"id": 2, "email": "alan@example.com", "firstName": "Alan", "lastName": "Turing",
         "createdAt": "2025-02-11T09:30:00Z", "updatedAt": "2025-06-01T08:00:00Z", "newsletter": False},
        {"id": 3, "email": "grace@example.com", "firstName": "Grace", "lastName": "Hopper",
         "createdAt": "2025-03-20T16:45:00Z", "updatedAt": "2025-03-20T16:45:00Z", "newsletter": True},
    ],
    "orders": [
        {"id": 101, "number": "H-101", "customerId": 1, "email": "ada@example.com",
         "createdAt": "2025-01-05T10:05:00Z", "updatedAt": "2025-01-05T10:05:00Z", "total": "42.00",
         "lines": [{"productId": 11, "title": "Hello Mug", "quantity": 2, "price": "21.00"}]},
        {"id": 102, "number": "H-102", "customerId": 2, "email": "alan@example.com",
         "createdAt": "2025-02-11T09:35:00Z", "updatedAt": "2025-02-12T12:00:00Z", "total": "15.50",
         "lines": [{"productId": 12, "title": "Hello Tote", "quantity": 1, "price": "15.50"}]},
        {"id": 103, "number": "H-103", "customerId": None, "email": "guest@example.com",
         "createdAt": "2025-04-02T14:00:00Z", "updatedAt": "2025-04-02T14:00:00Z", "total": "21.00",
         "lines": [{"productId": 11, "title": "Hello Mug", "quantity": 1, "price": "21.00"}]},
        {"id": 104, "number": "H-104", "customerId": 3, "email": "grace@example.com",
         "createdAt": "2025-05-09T11:00:00Z", "updatedAt": "2025-05-09T11:00:00Z", "total": "not a number",
         "lines": []},
    ],
    "products": [
        {"id": 11, "title": "Hello Mug", "price": "21.00", "handle": "hello-mug", "updatedAt": "2025-01-01T00:00:00Z"},
        {"id": 12, "title": "Hello Tote", "price": "15.50", "handle": "hello-tote", "updatedAt": "2025-01-01T00:00:00Z"},
    ],
}
"""Three customers, four orders (one guest checkout, one malformed: it is rejected), two products."""


class RecordError(ValueError):
    """A raw record cannot be translated; becomes a :class:`RejectedRecord`, never an exception."""


def _time(raw: Mapping[str, Any], key: str) -> datetime:
    value = raw.get(key)
    if not isinstance(value, str):
        raise RecordError(f"{key} is missing")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{key} {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise RecordError(f"{key} {value!r} has no time zone")
    return parsed.astimezone(UTC)


def _money(value: Any, currency: str, what: str) -> Money:
    try:
        return Money(amount=Decimal(str(value)), currency=currency)
    except (InvalidOperation, ValueError):
        raise RecordError(f"{what} {value!r} is not an amount") from None


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "hello"


class HelloConnector(Connector):
    """One Hello Shop store. Translates; never decides (rules decide what to write)."""

    platform: ClassVar[str] = "hello"
    settings_model: ClassVar[type[BaseModel]] = HelloSettings
    profile: ClassVar[ConnectorProfile] = ConnectorProfile(
        display_name="Hello Shop",
        store_setting="greeting_store",
        store_prompt="Hello Shop store name",
        store_comment="the store's name; its slug is the store id",
        credential_setting="api_key",
        credential_comment="the store's API key (Hello Shop's sample data needs none)",
        scopes={
            "read_customers": "winback reads customers to find who to win back",
            "read_orders": "orders say who bought what and when",
            "read_products": "bestseller emails need the product catalogue",
            "write_discounts": "winback creates the discount codes offered in emails",
            "write_customers": "winback creates accounts for guest buyers",
        },
        scope_remedy="add {scope} to the key's permissions in Hello Shop's settings: {reason} (then run winback check for {store} again)",
        offline_invite_mode=InviteMode.CREATE_CUSTOMER,
        config_notes=("# data_file = \"hello.json\"   # Hello Shop's export; default: the built-in sample",),
    )
    """What winback's init, check, labels and offline plans need to know about Hello Shop."""

    @classmethod
    def store_id_of(cls, settings: BaseModel | Mapping[str, Any]) -> str:
        return _slug(cls.settings_of(settings).greeting_store)  # type: ignore[attr-defined]

    @classmethod
    def label_of(cls, settings: BaseModel | Mapping[str, Any]) -> str:
        return f"Hello Shop {cls.settings_of(settings).greeting_store!r}"  # type: ignore[attr-defined]

    def __init__(self, settings: HelloSettings, data: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> None:
        self.settings = settings
        self._data = data
        self._codes: dict[str, DiscountCode] = {}
        self._created: dict[str, Customer] = {}
        self._ids = itertools.count(1000)

    @classmethod
    def from_settings(
        cls, settings: BaseModel | Mapping[str, Any], *, transport: Any = None, secret_store: Any = None
    ) -> Self:
        """``transport`` and ``secret_store`` are accepted for signature compatibility (an HTTP
        connector passes the first on; one whose credentials rotate saves them in the second)."""
        if not isinstance(settings, HelloSettings):
            raw = settings.model_dump() if isinstance(settings, BaseModel) else dict(settings)
            settings = HelloSettings.model_validate(raw)
        return cls(settings)

    @property
    def store_label(self) -> str:
        return self.label_of(self.settings)

    @property
    def store_id(self) -> str:
        return self.store_id_of(self.settings)

    async def aclose(self) -> None:
        """Nothing to close; an HTTP connector closes its client here."""

    # --- the "API" ---------------------------------------------------------------------------

    def _payload(self) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        if self._data is None:
            if self.settings.data_file is None:
                self._data = SAMPLE
            else:
                try:
                    loaded = json.loads(self.settings.data_file.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise UnexpectedResponseError(
                        f"{self.store_label}: cannot read {self.settings.data_file} ({exc}); check data_file",
                        store=self.store_label,
                    ) from None
                if not isinstance(loaded, dict):
                    raise UnexpectedResponseError(f"{self.store_label}: {self.settings.data_file} is not a JSON object")
                self._data = loaded
        return self._data

    # --- description -------------------------------------------------------------------------

    async def store_info(self) -> Store:
        return Store(
            platform=self.platform,
            store_id=self.store_id,
            name=self.settings.greeting_store,
            currency=self.settings.currency,
            url=f"https://{self.store_id}.hello.example",
        )

    async def capabilities(self) -> Capabilities:
        return Capabilities(invite_mode=InviteMode.CREATE_CUSTOMER, customer_locked_codes=False, bulk_export=False)

    async def check_access(self) -> AccessReport:
        return AccessReport(granted=frozenset(self.settings.permissions), required=PERMISSIONS)

    # --- reads -------------------------------------------------------------------------------

    async def _pages(
        self,
        resource: Resource,
        parse: Callable[[Mapping[str, Any]], T],
        updated_of: Callable[[T], datetime | None],
        since: datetime | None = None,
    ) -> AsyncIterator[Page[T]]:
        """Translate every raw record, keep those updated at or after ``since``, oldest first, in pages."""
        translated: list[T] = []
        rejected: list[RejectedRecord] = []
        for raw in self._payload().get(resource.value, []):
            try:
                translated.append(parse(raw))
            except (RecordError, ValueError, TypeError, KeyError) as exc:
                record_id = raw.get("id") if isinstance(raw, Mapping) else None
                shown = raw if isinstance(raw, Mapping) else {"value": raw}
                rejected.append(RejectedRecord(resource, None if record_id is None else str(record_id), str(exc), shown))
        epoch = datetime.min.replace(tzinfo=UTC)
        kept = sorted(
            (r for r in translated if since is None or (updated_of(r) or epoch) >= since),
            key=lambda r: updated_of(r) or epoch,
        )
        if not kept and not rejected:
            return
        size = self.settings.page_size
        for start in range(0, max(len(kept), 1), size):
            records = kept[start : start + size]
            stamps = [s for s in map(updated_of, records) if s is not None]
            # Rejected records ride on the first page so the sync engine quarantines them once.
            yield Page(records=records, rejected=rejected if start == 0 else [], newest_updated_at=max(stamps, default=None))

    def _customer(self, raw: Mapping[str, Any]) -> Customer:
        consent = ConsentState.SUBSCRIBED if raw.get("newsletter") else ConsentState.NOT_SUBSCRIBED
        return Customer(
            platform=self.platform,
            store_id=self.store_id,
            id=str(raw["id"]),
            email=raw.get("email"),
            first_name=raw.get("firstName"),
            last_name=raw.get("lastName"),
            created_at=_time(raw, "createdAt"),
            updated_at=_time(raw, "updatedAt"),
            account=AccountState.ENABLED,
            consent=EmailConsent(state=consent),
        )

    def _order(self, raw: Mapping[str, Any]) -> Order:
        currency = self.settings.currency
        lines = tuple(
            LineItem(
                id=f"{raw['id']}-{index}",
                product_id=None if line.get("productId") is None else str(line["productId"]),
                title=str(line["title"]),
                quantity=int(line["quantity"]),
                current_quantity=int(line["quantity"]),
                unit_price=_money(line.get("price"), currency, "line price"),
            )
            for index, line in enumerate(raw.get("lines") or [], start=1)
        )
        customer = raw.get("customerId")
        return Order(
            platform=self.platform,
            store_id=self.store_id,
            id=str(raw["id"]),
            name=raw.get("number"),
            email=raw.get("email"),
            customer_id=None if customer is None else str(customer),
            created_at=_time(raw, "createdAt"),
            updated_at=_time(raw, "updatedAt"),
            total=_money(raw.get("total"), currency, "total"),
            line_items=lines,
        )

    def _product(self, raw: Mapping[str, Any]) -> Product:
        return Product(
            platform=self.platform,
            store_id=self.store_id,
            id=str(raw["id"]),
            title=str(raw["title"]),
            handle=raw.get("handle"),
            url=f"https://{self.store_id}.hello.example/products/{raw.get('handle') or raw['id']}",
            price=_money(raw.get("price"), self.settings.currency, "price"),
            updated_at=_time(raw, "updatedAt") if raw.get("updatedAt") else None,
        )

    def customers(self, updated_since: datetime | None = None) -> AsyncIterator[Page[Customer]]:
        return self._pages(Resource.CUSTOMERS, self._customer, lambda c: c.updated_at, updated_since)

    def orders(self, updated_since: datetime | None = None, *, full: bool = False) -> AsyncIterator[Page[Order]]:
        return self._pages(Resource.ORDERS, self._order, lambda o: o.updated_at, updated_since)

    def products(self) -> AsyncIterator[Page[Product]]:
        return self._pages(Resource.PRODUCTS, self._product, lambda p: p.updated_at)

    # --- writes (kept in memory: the toy platform has nowhere else to put them) ---------------

    async def find_discount_code(self, code: str) -> DiscountCode | None:
        return self._codes.get(code.upper())

    async def create_discount_code(self, spec: DiscountCodeSpec) -> DiscountCode:
        if spec.code.upper() in self._codes:
            raise DiscountCodeTakenError(
                f"{self.store_label} already has the discount code {spec.code}", store=self.store_label, code="TAKEN"
            )
        created = DiscountCode(
            platform=self.platform,
            store_id=self.store_id,
            id=str(next(self._ids)),
            code=spec.code,
            title=spec.title,
            kind=spec.kind,
            value=spec.value,
            starts_at=spec.starts_at,
            ends_at=spec.ends_at,
            once_per_customer=spec.once_per_customer,
            usage_limit=spec.usage_limit,
        )
        self._codes[spec.code.upper()] = created
        return created

    async def find_customer_by_email(self, email: str) -> Customer | None:
        wanted = email.strip().lower()
        if wanted in self._created:
            return self._created[wanted]
        async for page in self.customers():
            for customer in page.records:
                if (customer.email or "").lower() == wanted:
                    return customer
        return None

    async def create_customer(self, spec: NewCustomer) -> Customer:
        if await self.find_customer_by_email(spec.email) is not None:
            raise CustomerExistsError(
                f"{self.store_label} already has a customer with this email", store=self.store_label, code="TAKEN"
            )
        now = datetime.now(UTC)
        customer = Customer(
            platform=self.platform,
            store_id=self.store_id,
            id=str(next(self._ids)),
            email=spec.email,
            first_name=spec.first_name,
            last_name=spec.last_name,
            created_at=now,
            updated_at=now,
            account=AccountState.ENABLED,
            tags=spec.tags,
        )
        self._created[spec.email.strip().lower()] = customer
        return customer

    async def send_account_invite(self, customer_id: str) -> None:
        raise NotSupportedError(
            f"{self.store_label}: Hello Shop has no account invites; a created customer signs in by emailed link",
            store=self.store_label,
        )
