"""The Ecwid connector: REST API v3 through :class:`~winback.connectors.http.HttpClient`.

Reads are windowed and oldest first (see :mod:`winback.connectors.ecwid.reader`); a page of raw
records becomes models, the unreadable quarantined, in :mod:`winback.connectors.ecwid.pages`, each
record through :mod:`winback.connectors.ecwid.parse`. Writes use :func:`create_at_most_once` with a
lookup by code or email, so an ambiguous failure never creates a second coupon or customer; their
request bodies are built in :mod:`winback.connectors.ecwid.inputs`. Ecwid's statuses become
merchant-readable errors through the table in :mod:`winback.connectors.ecwid.http_errors`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, ClassVar, Self

import httpx
from pydantic import BaseModel

from winback import errors
from winback.connectors.auth import StaticToken
from winback.connectors.base import (
    AccessReport,
    Capabilities,
    Connector,
    ConnectorProfile,
    ConsentWrite,
    DeletionPage,
    InviteMode,
    Page,
    Resource,
    TierWrite,
)
from winback.connectors.ecwid import deleted, fields, inputs, pages, parse, typed
from winback.connectors.ecwid.access import NEED_SCOPES, ScopeProbe
from winback.connectors.ecwid.groups import CustomerGroups
from winback.connectors.ecwid.http_errors import map_error
from winback.connectors.ecwid.profile import ECWID, normalise_store_id
from winback.connectors.ecwid.reader import RecordKey, SortKey, WindowedReader
from winback.connectors.ecwid.settings import EcwidSettings
from winback.connectors.secret_store import SecretStore
from winback.connectors.http import HttpClient, create_at_most_once
from winback.connectors.ratelimit import RateLimiter
from winback.connectors.retry import RetryPolicy
from winback.model import (
    ConsentState,
    Customer,
    DiscountCode,
    DiscountCodeSpec,
    NewCustomer,
    Order,
    Product,
    Store,
)

log = logging.getLogger("winback.connectors.ecwid")

_LOOKUP_PAGES = 20
__all__ = ["NEED_SCOPES", "EcwidConnector"]


def _seconds(value: datetime | None) -> int:
    return 0 if value is None else int(value.astimezone(timezone.utc).timestamp())


class EcwidConnector(Connector):
    """One Ecwid store.

    ``retry`` overrides the policy built from settings and ``sleep`` replaces ``asyncio.sleep`` for
    back-off waits (tests pass zero delays or a recorder); ``limiter`` replaces the client-side
    pacing built from ``requests_per_minute``.
    """

    platform: ClassVar[str] = "ecwid"
    profile: ClassVar[ConnectorProfile] = ECWID
    settings_model: ClassVar[type[BaseModel]] = EcwidSettings

    def __init__(
        self,
        settings: EcwidSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep or asyncio.sleep
        self._retry = retry or RetryPolicy(
            attempts=settings.retry_attempts,
            base_delay=settings.retry_base_delay_s,
            max_delay=settings.retry_max_delay_s,
            max_retry_after=settings.max_retry_after_s,
        )
        self.limiter = limiter or RateLimiter(settings.requests_per_minute / 60.0)
        self._http = HttpClient(
            base_url=settings.store_url,
            auth=StaticToken(settings.token.get_secret_value()),
            store_label=self.store_label,
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            retry=self._retry,
            limiter=self.limiter,
            error_mapper=map_error,
            transport=transport,
            **({"sleep": sleep} if sleep is not None else {}),
        )
        self._store: Store | None = None
        self._store_lock = asyncio.Lock()
        self.access = ScopeProbe(self._http, self.store_label, self.profile)
        self.groups = CustomerGroups(self._get_json, self._post_json, self._put_json, self.access.noting_refusal,
                                     self.store_label)

    @classmethod
    def from_settings(
        cls,
        settings: BaseModel | Mapping[str, Any],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        secret_store: SecretStore | None = None,
    ) -> Self:
        """``secret_store`` is not used: an Ecwid token does not rotate."""
        if isinstance(settings, EcwidSettings):
            model = settings
        elif isinstance(settings, BaseModel):
            model = EcwidSettings.model_validate(settings.model_dump())
        else:
            model = EcwidSettings.model_validate(dict(settings))
        return cls(model, transport=transport)

    @classmethod
    def normalise_store(cls, value: str) -> str:
        return normalise_store_id(value)

    @property
    def store_label(self) -> str:
        return self.label_of(self.settings)

    @property
    def store_id(self) -> str:
        return self.settings.store_id

    @property
    def requests_sent(self) -> int:
        return self._http.requests_sent

    async def aclose(self) -> None:
        await self._http.aclose()

    async def set_customer_tier(self, customer_id: str, tier: str | None, tiers: Sequence[str]) -> TierWrite:
        """The customer's group (see :mod:`winback.connectors.ecwid.groups`)."""
        return await self.groups.set_tier(customer_id, tier, tiers)

    # --- HTTP helpers ------------------------------------------------------------------------

    async def _put_json(self, path: str, body: Mapping[str, Any]) -> Any:
        """PUT is idempotent on Ecwid (the same body sets the same fields), so it may be retried."""
        response = await self._http.request("PUT", path, content=inputs.encode(body),
                                            headers={"Content-Type": "application/json"}, idempotent=True)
        try:
            return parse.decode_json(response.content)
        except ValueError:
            return None

    async def _get_json(self, path: str, params: Mapping[str, Any] | None = None, *, missing_ok: bool = False,
                        decode: Callable[[bytes], Any] = parse.decode_json) -> Any:
        """GET and decode exactly; a truncated or non-JSON 200 body is retried like a 5xx."""
        for attempt in range(1, self._retry.attempts + 1):
            response = await self._http.request(
                "GET", path, params=dict(params or {}), idempotent=True, raise_for_status=not missing_ok
            )
            if missing_ok and response.status_code == 404:
                return None
            if missing_ok and not response.is_success:
                raise self._http.error_for(response)
            try:
                return decode(response.content)
            except ValueError:
                if attempt == self._retry.attempts:
                    raise errors.UnexpectedResponseError(
                        f"{self.store_label} answered GET {path} with a body that is not JSON "
                        f"(HTTP {response.status_code}) {attempt} times; try again later.",
                        store=self.store_label,
                    ) from None
                log.info("GET %s: body is not valid JSON; will retry", path)
                await self._sleep(min(self._retry.max_delay, self._retry.base_delay * 2 ** (attempt - 1)))
        raise AssertionError("unreachable")

    async def _post_json(self, path: str, body: Mapping[str, Any]) -> Any:
        response = await self._http.request(
            "POST", path, content=inputs.encode(body), headers={"Content-Type": "application/json"}, idempotent=False
        )
        try:
            return parse.decode_json(response.content)
        except ValueError:
            raise errors.UnexpectedResponseError(
                f"{self.store_label} answered POST {path} with a body that is not JSON (HTTP {response.status_code})",
                store=self.store_label,
            ) from None

    async def _search(self, path: str, params: Mapping[str, Any], decode: Callable[[bytes], Any] = parse.decode_json) -> Mapping[str, Any]:
        envelope = await self._get_json(path, params, decode=decode)
        if not isinstance(envelope, Mapping) or not isinstance(envelope.get("items"), list):
            raise errors.UnexpectedResponseError(
                f"{self.store_label} answered GET {path} without an items list", store=self.store_label
            )
        return envelope

    # --- description -------------------------------------------------------------------------

    async def store_info(self) -> Store:
        """The store profile (name, currency, URL, email, logo); fetched once and cached."""
        async with self._store_lock:
            if self._store is None:
                raw = await self._get_json("/profile")
                try:
                    self._store = parse.parse_profile(raw, store_id=self.store_id)
                except parse.RecordError as exc:
                    raise errors.UnexpectedResponseError(
                        f"{self.store_label}: the store profile is unreadable ({exc})", store=self.store_label
                    ) from None
            return self._store

    async def _currency(self) -> str:
        return (await self.store_info()).currency

    async def capabilities(self) -> Capabilities:
        """Ecwid gives every buyer's email an account after an order (sign-in by an emailed one-time
        link): nothing to create or invite (:attr:`InviteMode.NOT_NEEDED`). ``unreachable`` comes
        from read-only scope probes and refused writes (:class:`ScopeProbe`)."""
        return Capabilities(invite_mode=InviteMode.NOT_NEEDED, discount_codes=True, customer_locked_codes=False,
                            unreachable=await self.access.unreachable())

    async def check_access(self) -> AccessReport:
        return await self.access.report()

    # --- reads -------------------------------------------------------------------------------

    def _reader(self, path: str, updated_of: SortKey, base: Mapping[str, Any], key_of: RecordKey | None = None, decode: Callable[[bytes], Any] = parse.decode_json) -> WindowedReader:
        async def fetch(params: dict[str, Any]) -> Mapping[str, Any]:
            return await self._search(path, params, decode)

        return pages.windowed(fetch, self.settings, updated_of, key_of, base)

    async def _translate(self, resource: Resource, raws: list[Any], parser: pages.Parser,
                         ts_of: SortKey, fast: pages.Parser | None = None) -> Page[Any]:
        return pages.translate(resource, raws, parser, ts_of, store_id=self.store_id,
                               currency=await self._currency(), store_label=self.store_label, fast=fast)

    async def customers(self, updated_since: datetime | None = None) -> AsyncIterator[Page[Customer]]:
        """Customers, updated at or after ``updated_since``, oldest first.

        Ecwid lists the basic accounts it creates for guest buyers too; their orders still carry no
        ``customerId``. A customer without ``updated`` is placed by ``registered``.
        """
        birth = self.settings.birth_date_field  # typed records read no extra fields: then come as dicts
        reader = self._reader("/customers", pages.customer_seconds, {"sortBy": "UPDATED_DATE_ASC", "responseFields":
                              fields.CUSTOMERS}, decode=parse.decode_json if birth else typed.decode_customers)
        parser = functools.partial(parse.parse_customer, birth_date_field=birth)
        async for raws in reader.pages(_seconds(updated_since)):
            yield await self._translate(Resource.CUSTOMERS, raws, parser, pages.customer_seconds, None if birth else typed.customer)

    async def orders(
        self, updated_since: datetime | None = None, *, full: bool = False
    ) -> AsyncIterator[Page[Order]]:
        """Orders updated at or after ``updated_since``, oldest first; ``full`` changes nothing
        (Ecwid has no bulk export). INCOMPLETE orders (abandoned checkouts) are left out."""
        reader = self._reader("/orders", pages.order_seconds, {"responseFields": fields.ORDERS},
                              key_of=pages.order_key, decode=typed.decode_orders)
        async for raws in reader.pages(_seconds(updated_since)):
            yield await self._translate(Resource.ORDERS, raws, parse.parse_order, pages.order_seconds, typed.order)

    async def products(self) -> AsyncIterator[Page[Product]]:
        # Ecwid sorts products by RELEVANCE unless told otherwise: ask for an order that offset
        # paging can rely on (new products go last).
        reader = self._reader("/products", pages.product_seconds, {"sortBy": "ADDED_TIME_ASC"})
        async for raws in reader.pages(0):
            yield await self._translate(Resource.PRODUCTS, raws, parse.parse_product, pages.product_seconds)

    deletion_resources: ClassVar[frozenset[Resource]] = frozenset(Resource)

    async def deletions(self, resource: Resource, deleted_since: datetime | None = None) -> AsyncIterator[DeletionPage]:
        """``GET /{resource}/deleted?from_date=`` (UNIX seconds, inclusive), oldest first.

        Ecwid documents no order for these lists, so every entry since ``deleted_since`` is read
        (ids and dates only: small) and sorted before the first page is handed out; a cursor
        taken from any committed page then never skips an earlier deletion. An entry without an
        id or a date is logged and skipped. A missing scope (403) is raised like any read.
        """
        async for page in deleted.deletion_pages(
            self._search, resource, deleted_since, page_size=self.settings.page_size, store_label=self.store_label
        ):
            yield page

    # --- writes ------------------------------------------------------------------------------

    async def find_discount_code(self, code: str) -> DiscountCode | None:
        """The coupon whose code equals ``code`` (case-insensitively, as Ecwid's checkout treats it).

        Ecwid's ``code`` filter is a search term (partial match), so results are compared exactly.
        """
        offset = 0
        for _ in range(_LOOKUP_PAGES):
            envelope = await self._search("/discount_coupons", {"code": code, "offset": offset, "limit": 100})
            for raw in envelope["items"]:
                if inputs.has_code(raw, code):
                    return parse.parse_coupon(raw, store_id=self.store_id)
            offset += len(envelope["items"])
            if not envelope["items"] or offset >= int(envelope.get("total", 0)):
                break
        return None

    async def create_discount_code(self, spec: DiscountCodeSpec) -> DiscountCode:
        """Create the coupon once. Ecwid cannot lock a coupon to a customer: ``spec.customer_id`` is
        not sent (``capabilities().customer_locked_codes`` is false)."""
        body = inputs.coupon_body(spec, self.store_label)

        async def create() -> DiscountCode:
            answer = await self._post_json("/discount_coupons", body)
            if not isinstance(answer, Mapping) or answer.get("id") is None:
                raise errors.UnexpectedResponseError(
                    f"{self.store_label} created a coupon but returned no id", store=self.store_label
                )
            return inputs.created_coupon(str(answer["id"]), spec, body, self.store_id)

        async def adopt() -> DiscountCode | None:
            # After an ambiguous failure, adopt only the coupon winback meant (value, usage, dates,
            # name; Ecwid has no customer lock), as Shopify's connector does: a merchant's own coupon
            # with a colliding code is not ours; retrying then meets Ecwid's 409 (code taken).
            found = await self.find_discount_code(spec.code)
            return found if found is not None and found.matches(spec, customer_locked=False) else None

        return await self.access.noting_refusal("create_discount_coupons", lambda: create_at_most_once(create=create, lookup=adopt))

    async def find_customer_by_email(self, email: str) -> Customer | None:
        currency = await self._currency()
        offset = 0
        for _ in range(_LOOKUP_PAGES):
            envelope = await self._search("/customers", {"email": email.strip(), "offset": offset, "limit": 100})
            for raw in envelope["items"]:
                if inputs.has_email(raw, email):
                    return parse.parse_customer(raw, store_id=self.store_id, currency=currency)
            offset += len(envelope["items"])
            if not envelope["items"] or offset >= int(envelope.get("total", 0)):
                break
        return None

    async def create_customer(self, spec: NewCustomer) -> Customer:
        """Create a customer account (the buyer signs in by emailed link); at most once per email.

        Rarely needed: Ecwid creates an account for each buyer's email by itself (not for stores
        with a German company address or the legacy password sign-in). Ecwid has no customer tags,
        so ``spec.tags`` is not sent.
        """
        body = inputs.customer_body(spec)
        currency = await self._currency()

        async def create() -> Customer:
            answer = await self._post_json("/customers", body)
            if not isinstance(answer, Mapping) or answer.get("id") is None:
                raise errors.UnexpectedResponseError(
                    f"{self.store_label} created a customer but returned no id", store=self.store_label
                )
            raw = await self._get_json(f"/customers/{answer['id']}", missing_ok=True)
            if raw is None:
                found = await self.find_customer_by_email(spec.email)
                if found is None:
                    raise errors.UnexpectedResponseError(
                        f"{self.store_label} created customer {answer['id']} but cannot show it yet",
                        store=self.store_label,
                    )
                return found
            return parse.parse_customer(raw, store_id=self.store_id, currency=currency)

        return await self.access.noting_refusal(
            "create_customers", lambda: create_at_most_once(create=create, lookup=lambda: self.find_customer_by_email(spec.email)))

    async def send_account_invite(self, customer_id: str) -> None:
        raise errors.NotSupportedError(
            f"{self.store_label}: Ecwid has no account invites: it gives every buyer's email an account "
            f"after an order, and customers sign in with a one-time link Ecwid emails on request "
            f"(invite mode {InviteMode.NOT_NEEDED.value}).",
            store=self.store_label,
        )

    async def set_email_marketing(self, email: str, subscribed: bool) -> ConsentWrite:
        """``PUT /customers/{id}`` with ``acceptMarketing`` (scope update_customers); only
        ``false`` forbids promotions on Ecwid, so an unsubscribe already made reads back false."""
        customer = await self.find_customer_by_email(email)
        if customer is None:
            return ConsentWrite.NO_CUSTOMER
        wanted = ConsentState.SUBSCRIBED if subscribed else ConsentState.NOT_SUBSCRIBED
        if customer.consent.state == wanted:
            return ConsentWrite.ALREADY
        body = inputs.encode({"acceptMarketing": subscribed})
        await self._http.request("PUT", f"/customers/{customer.id}", content=body,
                                 headers={"Content-Type": "application/json"}, idempotent=True)
        return ConsentWrite.WRITTEN
