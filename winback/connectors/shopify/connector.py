"""The Shopify connector: Admin GraphQL API → :mod:`winback.model`, and the few writes rules need.

It translates and never decides. Reads are async generators of :class:`Page`; writes that create
something go through :mod:`.creates`, so an ambiguous failure (a 5xx or a dropped connection during
the mutation) leads to a lookup, never to a blind re-send.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Self, TypeVar

import httpx
from pydantic import BaseModel
from winback import errors
from winback.connectors.base import (
    ConnectorProfile,
    AccessReport,
    Capabilities,
    Connector,
    ConsentWrite,
    DeletionPage,
    InviteMode,
    Page,
    Resource,
    TierWrite,
)
from winback.connectors.http import Auth, HttpClient, RetryPolicy
from winback.connectors.shopify import documents as docs
from winback.connectors.shopify import write_documents as write_docs
from winback.connectors.shopify import creates, decode, inputs, parse
from winback.connectors.shopify.bulk import BulkExporter, bulk_wanted, download_client
from winback.connectors.shopify.deletions import deletion_pages
from winback.connectors.shopify.graphql import REQUIRED_SCOPES, Decoder, GraphQLClient, make_error_mapper
from winback.connectors.shopify.paging import Records, complete_line_items, page_size, paged, search_since, to_page
from winback.connectors.shopify.profile import NEED_SCOPES, SHOPIFY
from winback.connectors.secret_store import SecretStore
from winback.connectors.shopify.settings import ShopifySettings, normalise_shop
from winback.connectors.shopify.throttle import CostBucket
from winback.connectors.shopify.tokens import describe_auth, token_provider_for
from winback.model import (
    Customer,
    DiscountCode,
    DiscountCodeSpec,
    NewCustomer,
    Order,
    Product,
    Store,
)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class ShopifyConnector(Connector):
    """One Shopify store. Use as an async context manager (one HTTP client per connector)."""

    platform = "shopify"
    profile: ClassVar[ConnectorProfile] = SHOPIFY
    settings_model = ShopifySettings

    def __init__(
        self,
        settings: ShopifySettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        token_provider: Auth | None = None,
        secret_store: SecretStore | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        if token_provider is None:
            token_provider = token_provider_for(settings, secret_store)
        self._transport = transport
        self._sleep = sleep
        mapper = make_error_mapper(settings.api_version)
        self.http = HttpClient(
            base_url=settings.base,
            auth=token_provider,
            store_label=settings.shop,
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            retry=RetryPolicy(attempts=settings.max_attempts, base_delay=settings.retry_base_delay_s),
            error_mapper=mapper,
            transport=transport,
        )
        self.bucket = CostBucket(clock=clock, sleep=sleep, store=settings.shop)
        self.gql = GraphQLClient(
            self.http,
            endpoint=settings.endpoint,
            store=settings.shop,
            bucket=self.bucket,
            error_mapper=mapper,
            max_throttle_retries=settings.max_throttle_retries,
            backoff_s=max(settings.retry_base_delay_s, 0.01),
        )
        self._download: httpx.AsyncClient | None = None
        self._shop: dict[str, Any] | None = None
        self._granted: frozenset[str] | None = None
        """The installation's scopes, read with the shop (``None`` until then or if not said)."""

    @classmethod
    def from_settings(
        cls,
        settings: BaseModel | Mapping[str, Any],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        token_provider: Auth | None = None,
        secret_store: SecretStore | None = None,
    ) -> Self:
        """``secret_store`` keeps renewed credentials (an expiring offline token's new pair);
        :meth:`winback.config.ClientConfig.build_connector` passes the client's secrets file."""
        if not isinstance(settings, ShopifySettings):
            raw = settings.model_dump() if isinstance(settings, BaseModel) else settings
            settings = ShopifySettings.model_validate(raw)
        return cls(settings, transport=transport, token_provider=token_provider, secret_store=secret_store)

    @classmethod
    def label_of(cls, settings: BaseModel | Mapping[str, Any]) -> str:
        return cls.store_id_of(settings)

    @classmethod
    def normalise_store(cls, value: str) -> str:
        return normalise_shop(value)

    @property
    def store_label(self) -> str:
        return self.label_of(self.settings)

    @property
    def store_id(self) -> str:
        return self.settings.shop

    def describe_auth(self) -> str | None:
        return describe_auth(self.settings, self.http.auth)

    async def aclose(self) -> None:
        await self.http.aclose()
        if self._download is not None:
            await self._download.aclose()
            self._download = None

    # --- description -------------------------------------------------------------------------

    async def _shop_payload(self) -> dict[str, Any]:
        if self._shop is None:
            data = await self.gql.execute(docs.SHOP_INFO)
            shop = data.get("shop")
            if not isinstance(shop, Mapping):
                raise errors.UnexpectedResponseError(f"{self.store_label} answered ShopInfo without a shop")
            self._shop = dict(shop)
            installation = data.get("currentAppInstallation")
            if isinstance(installation, Mapping):
                self._granted = parse.granted_scopes(installation)
        return self._shop

    async def store_info(self) -> Store:
        shop = await self._shop_payload()
        return Store(
            platform=self.platform,
            store_id=self.store_id,
            name=shop.get("name") or self.store_label,
            currency=shop["currencyCode"],
            url=shop.get("url") or f"https://{shop.get('myshopifyDomain') or self.store_label}",
            email=shop.get("email"),
            timezone=shop.get("ianaTimezone"),
            postal_address=parse.postal_address(shop.get("shopAddress")),
        )

    async def capabilities(self) -> Capabilities:
        shop = await self._shop_payload()
        version = parse._obj(shop, "customerAccountsV2", "customerAccountsVersion")
        invite = InviteMode.SEND_INVITE if version == "CLASSIC" else InviteMode.NOT_NEEDED
        return Capabilities(
            invite_mode=invite,
            customer_locked_codes=True,
            bulk_export=True,
            unreachable=self._unreachable(),
        )

    def _unreachable(self) -> dict[str, str]:
        """Needs whose scope the installation lacks, each with the remedy; empty when Shopify did
        not say (then the first refused request names the scope instead)."""
        if self._granted is None:
            return {}
        return {
            need.value: f"{self.store_label}'s app lacks the {scope} scope. {SHOPIFY.scope_fix(scope, self.store_label)}"
            for need, scope in NEED_SCOPES.items() if scope not in self._granted
        }

    async def check_access(self) -> AccessReport:
        data = await self.gql.execute(docs.ACCESS_SCOPES)
        installation = data.get("currentAppInstallation")
        granted = parse.granted_scopes(installation) if isinstance(installation, Mapping) else frozenset()
        return AccessReport(granted=granted, required=REQUIRED_SCOPES)

    # --- reads -------------------------------------------------------------------------------

    async def customers(self, updated_since: datetime | None = None) -> AsyncIterator[Page[Customer]]:
        variables: dict[str, Any] = {
            "first": page_size(docs.CUSTOMERS_PAGE, {}, wanted=self.settings.page_size),
            "query": search_since(updated_since),
        }
        if self.settings.birth_date_metafield:
            namespace, key = self.settings.birth_date_metafield.split(".", 1)
            variables.update(withBirthDate=True, birthDateNamespace=namespace, birthDateKey=key)
        parser = functools.partial(parse.parse_customer, store_id=self.store_id)
        pages = self._read(
            docs.CUSTOMERS_PAGE, variables, "customers", Resource.CUSTOMERS, parser, updated_since,
            decoder=decode.customers_page(self.store_id),
        )
        async for page in pages:
            yield page

    async def products(self) -> AsyncIterator[Page[Product]]:
        variables = {"first": page_size(docs.PRODUCTS_PAGE, {}, wanted=self.settings.page_size)}
        parser = functools.partial(parse.parse_product, store_id=self.store_id, shop_domain=self.settings.shop)
        async for page in self._read(docs.PRODUCTS_PAGE, variables, "products", Resource.PRODUCTS, parser, None):
            yield page

    async def orders(
        self, updated_since: datetime | None = None, *, full: bool = False
    ) -> AsyncIterator[Page[Order]]:
        search = search_since(updated_since)
        pages: AsyncIterator[Page[Order]]
        if full and await bulk_wanted(self.gql, search, self.settings.bulk_threshold):
            pages = self._exporter().order_pages(
                search, updated_since, store_id=self.store_id, page_size=self.settings.page_size
            )
        else:
            lines = self.settings.order_line_items
            variables = {
                "first": page_size(docs.ORDERS_PAGE, {"lineItems": lines}, wanted=self.settings.page_size),
                "lineItems": lines,
                "query": search,
            }
            parser = functools.partial(parse.parse_order, store_id=self.store_id)
            pages = self._read(
                docs.ORDERS_PAGE, variables, "orders", Resource.ORDERS, parser, updated_since, with_line_items=True,
                decoder=decode.orders_page(self.store_id),
            )
        async for page in pages:
            yield page

    deletion_resources: ClassVar[frozenset[Resource]] = frozenset(Resource)

    async def deletions(self, resource: Resource, deleted_since: datetime | None = None) -> AsyncIterator[DeletionPage]:
        """``destroy`` events of ``resource`` (see :mod:`.deletions` for what they cover)."""
        pages = deletion_pages(
            self.gql, resource, deleted_since, wanted=self.settings.page_size, store=self.store_label
        )
        async for page in pages:
            yield page

    async def _read(
        self,
        document: docs.Document,
        variables: dict[str, Any],
        connection: str,
        resource: Resource,
        parser: Callable[[Mapping[str, Any]], T],
        updated_since: datetime | None,
        *,
        with_line_items: bool = False,
        decoder: Decoder | None = None,
    ) -> AsyncIterator[Page[T]]:
        """Page through ``connection``; ``with_line_items`` fetches the line items an order page cut
        off; ``decoder`` reads pages straight into records (see :mod:`.decode`)."""
        pages = paged(self.gql, document, variables, connection, store=self.store_label, decoder=decoder)
        async for nodes in pages:
            if with_line_items and not isinstance(nodes, Records):
                nodes = [await complete_line_items(self.gql, n) for n in nodes]
            page = to_page(nodes, resource, parser, updated_since, store=self.store_label)
            if page is not None:
                yield page

    def _exporter(self) -> BulkExporter:
        if self._download is None:
            self._download = download_client(self.settings, self._transport)
        return BulkExporter(self.gql, self.settings, download=self._download, store=self.store_label, sleep=self._sleep)

    # --- writes ------------------------------------------------------------------------------

    async def find_discount_code(self, code: str) -> DiscountCode | None:
        data = await self.gql.execute(write_docs.DISCOUNT_BY_CODE, {"code": code})
        node = data.get("codeDiscountNodeByCode")
        if not isinstance(node, Mapping):
            return None
        return parse.parse_discount_node(node, self.store_id, code)

    async def create_discount_code(self, spec: DiscountCodeSpec) -> DiscountCode:
        return await creates.create_discount_code(
            self.gql, spec, store_id=self.store_id, store=self.store_label, find=self.find_discount_code
        )

    async def find_customer_by_email(self, email: str) -> Customer | None:
        data = await self.gql.execute(write_docs.CUSTOMER_BY_EMAIL, {"email": email})
        node = data.get("customerByIdentifier")
        if not isinstance(node, Mapping):
            return None
        return creates.customer_from(node, store_id=self.store_id, store=self.store_label)

    async def create_customer(self, spec: NewCustomer) -> Customer:
        return await creates.create_customer(
            self.gql, spec, store_id=self.store_id, store=self.store_label, find=self.find_customer_by_email
        )

    async def send_account_invite(self, customer_id: str) -> None:
        caps = await self.capabilities()
        if caps.invite_mode != InviteMode.SEND_INVITE:
            raise errors.NotSupportedError(
                f"{self.store_label} uses new customer accounts (passwordless sign-in by emailed code): "
                f"there is no account invite to send, buyers can sign in with their email already.",
                store=self.store_label,
            )
        data = await self.gql.execute(write_docs.CUSTOMER_SEND_ACCOUNT_INVITE, {"customerId": customer_id})
        payload = data.get("customerSendAccountInviteEmail") or {}
        user_errors = payload.get("userErrors") or []
        if user_errors:
            first = user_errors[0]
            raise errors.PlatformRejectedError(
                f"{self.store_label} did not send the account invite to {customer_id}: {first.get('message')}",
                store=self.store_label,
                code=first.get("code"),
                field=inputs.user_error_field(first),
            )

    async def set_email_marketing(self, email: str, subscribed: bool) -> ConsentWrite:
        from winback.connectors.shopify import consent

        return await consent.set_email_marketing(self, email, subscribed)

    async def set_customer_tier(self, customer_id: str, tier: str | None, tiers: Sequence[str]) -> TierWrite:
        """The tier as a customer tag (see :mod:`winback.connectors.shopify.tiers`)."""
        from winback.connectors.shopify import tiers as tier_tags

        return await tier_tags.set_customer_tier(self, customer_id, tier, tiers)
