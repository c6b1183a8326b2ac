"""The Shopify connector: Admin GraphQL API → :mod:`winback.model`, and the few writes rules need.

It translates and never decides. Reads are async generators of :class:`Page`; writes that create
something go through :func:`~winback.connectors.http.create_at_most_once` so an ambiguous failure
(a 5xx or a dropped connection during the mutation) leads to a lookup, never to a blind re-send.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Self, TypeVar

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
from winback.connectors.http import AmbiguousWriteError, Auth, HttpClient, RetryPolicy, StaticToken, create_at_most_once
from winback.connectors.shopify import documents as docs
from winback.connectors.shopify import inputs, parse
from winback.connectors.shopify.bulk import BulkExporter, BulkOrder
from winback.connectors.shopify.graphql import REQUIRED_SCOPES, GraphQLClient, make_error_mapper
from winback.connectors.shopify.settings import MAX_PAGE_SIZE, ShopifySettings
from winback.connectors.shopify.throttle import CostBucket, largest_page
from winback.model import (
    Customer,
    DiscountCode,
    DiscountCodeSpec,
    NewCustomer,
    Order,
    Product,
    Store,
)

log = logging.getLogger("winback.connectors.shopify")

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


def search_since(updated_since: datetime) -> str:
    """``updated_at:>='2026-01-01T00:00:00Z'`` (Shopify search syntax wants dates quoted)."""
    if updated_since.tzinfo is None:
        raise ValueError("updated_since must be timezone-aware")
    stamp = updated_since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"updated_at:>='{stamp}'"


class ShopifyConnector(Connector):
    """One Shopify store. Use as an async context manager (one HTTP client per connector)."""

    platform = "shopify"
    settings_model = ShopifySettings

    def __init__(
        self,
        settings: ShopifySettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        token_provider: Auth | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        if token_provider is None:
            if settings.access_token is None:
                raise errors.ConfigError(
                    f"{settings.shop}: no access_token is configured; give the Admin API access token of "
                    f"the app installed on the shop (or a token provider).",
                    key="access_token",
                )
            token_provider = StaticToken(
                settings.access_token.get_secret_value(), header="X-Shopify-Access-Token", prefix=""
            )
        self._transport = transport
        self._sleep = sleep
        mapper = make_error_mapper(settings.api_version)
        self.http = HttpClient(
            base_url=settings.base_url or f"https://{settings.shop}",
            auth=token_provider,
            store_label=settings.shop,
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            retry=RetryPolicy(attempts=settings.max_attempts, base_delay=settings.retry_base_delay_s),
            error_mapper=mapper,
            transport=transport,
        )
        self.bucket = CostBucket(clock=clock, sleep=sleep)
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

    @classmethod
    def from_settings(
        cls,
        settings: BaseModel | Mapping[str, Any],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        token_provider: Auth | None = None,
    ) -> Self:
        if not isinstance(settings, ShopifySettings):
            raw = settings.model_dump() if isinstance(settings, BaseModel) else settings
            settings = ShopifySettings.model_validate(raw)
        return cls(settings, transport=transport, token_provider=token_provider)

    @property
    def store_label(self) -> str:
        return self.settings.shop

    @property
    def store_id(self) -> str:
        return self.settings.shop

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
        )

    async def capabilities(self) -> Capabilities:
        shop = await self._shop_payload()
        version = parse._obj(shop, "customerAccountsV2", "customerAccountsVersion")
        invite = InviteMode.SEND_INVITE if version == "CLASSIC" else InviteMode.NOT_NEEDED
        return Capabilities(
            invite_mode=invite,
            customer_locked_codes=True,
            bulk_export=True,
            marketing_consent_timestamps=True,
        )

    async def check_access(self) -> AccessReport:
        data = await self.gql.execute(docs.ACCESS_SCOPES)
        scopes = parse._obj(data, "currentAppInstallation", "accessScopes") or []
        granted = {str(s["handle"]) for s in scopes if isinstance(s, Mapping) and s.get("handle")}
        # A write scope implies its read scope on Shopify.
        granted |= {"read_" + s[len("write_") :] for s in granted if s.startswith("write_")}
        return AccessReport(granted=frozenset(granted), required=REQUIRED_SCOPES)

    # --- reads -------------------------------------------------------------------------------

    async def _paged(
        self, document: docs.Document, variables: dict[str, Any], connection: str
    ) -> AsyncIterator[list[dict[str, Any]]]:
        after: str | None = None
        while True:
            data = await self.gql.execute(document, {**variables, "after": after})
            page = data.get(connection)
            if not isinstance(page, Mapping):
                raise errors.UnexpectedResponseError(
                    f"{self.store_label} answered {document.name} without {connection}", store=self.store_label
                )
            yield [n for n in page.get("nodes") or []]
            info = page.get("pageInfo") or {}
            after = info.get("endCursor")
            if not info.get("hasNextPage") or not after:
                return

    def _page(
        self,
        nodes: list[Any],
        resource: Resource,
        parser: Callable[[Mapping[str, Any]], T],
        updated_since: datetime | None,
    ) -> Page[T] | None:
        if updated_since is not None:
            nodes = [n for n in nodes if not _older(n, updated_since)]
        records, rejected, newest = parse.translate(nodes, resource, parser, store=self.store_label)
        if not records and not rejected:
            return None
        return Page(records=records, rejected=rejected, newest_updated_at=newest)

    def _first(self, document: docs.Document, variables: Mapping[str, Any]) -> int:
        return min(self.settings.page_size, largest_page(document.text, variables, ceiling=MAX_PAGE_SIZE))

    async def customers(self, updated_since: datetime | None = None) -> AsyncIterator[Page[Customer]]:
        variables: dict[str, Any] = {
            "first": self._first(docs.CUSTOMERS_PAGE, {}),
            "query": search_since(updated_since) if updated_since else None,
        }

        def parser(node: Mapping[str, Any]) -> Customer:
            return parse.parse_customer(node, self.store_id)

        async for nodes in self._paged(docs.CUSTOMERS_PAGE, variables, "customers"):
            page = self._page(nodes, Resource.CUSTOMERS, parser, updated_since)
            if page is not None:
                yield page

    async def products(self) -> AsyncIterator[Page[Product]]:
        variables = {"first": self._first(docs.PRODUCTS_PAGE, {})}

        def parser(node: Mapping[str, Any]) -> Product:
            return parse.parse_product(node, self.store_id, self.settings.shop)

        async for nodes in self._paged(docs.PRODUCTS_PAGE, variables, "products"):
            page = self._page(nodes, Resource.PRODUCTS, parser, None)
            if page is not None:
                yield page

    async def orders(
        self, updated_since: datetime | None = None, *, full: bool = False
    ) -> AsyncIterator[Page[Order]]:
        search = search_since(updated_since) if updated_since else None
        if full and await self._use_bulk(search):
            async for page in self._orders_bulk(search, updated_since):
                yield page
            return
        lines = self.settings.order_line_items
        variables: dict[str, Any] = {
            "first": self._first(docs.ORDERS_PAGE, {"lineItems": lines}),
            "lineItems": lines,
            "query": search,
        }

        def parser(node: Mapping[str, Any]) -> Order:
            return parse.parse_order(node, self.store_id)

        async for nodes in self._paged(docs.ORDERS_PAGE, variables, "orders"):
            complete = [await self._complete_line_items(n) for n in nodes]
            page = self._page(complete, Resource.ORDERS, parser, updated_since)
            if page is not None:
                yield page

    async def _complete_line_items(self, node: Any) -> Any:
        """Fetch the remaining line items of an order that has more than fit in the page query."""
        if not isinstance(node, Mapping):
            return node
        connection = node.get("lineItems")
        info = parse._obj(connection, "pageInfo") or {}
        if not info.get("hasNextPage"):
            return node
        items = list(parse.line_item_nodes(node))
        after = info.get("endCursor")
        first = largest_page(docs.ORDER_LINE_ITEMS.text, {}, ceiling=MAX_PAGE_SIZE)
        while after:
            data = await self.gql.execute(docs.ORDER_LINE_ITEMS, {"id": node["id"], "first": first, "after": after})
            more = parse._obj(data, "order", "lineItems")
            if not isinstance(more, Mapping):
                break  # the order vanished meanwhile; keep what we have, the next sync sees it again
            items.extend(more.get("nodes") or [])
            page_info = more.get("pageInfo") or {}
            after = page_info.get("endCursor") if page_info.get("hasNextPage") else None
        return {**node, "lineItems": {"nodes": items, "pageInfo": {"hasNextPage": False, "endCursor": None}}}

    async def _use_bulk(self, search: str | None) -> bool:
        threshold = self.settings.bulk_threshold
        if threshold is None or threshold < 0:
            return False
        if threshold == 0:
            return True
        data = await self.gql.execute(docs.ORDERS_COUNT, {"query": search, "limit": threshold})
        count = parse._obj(data, "ordersCount", "count")
        return isinstance(count, int) and count >= threshold

    def _exporter(self) -> BulkExporter:
        if self._download is None:
            # A separate client: the signed download URL is on another host and must never receive
            # the access token, which HttpClient adds to every request.
            self._download = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(self.settings.timeout_s, connect=self.settings.connect_timeout_s),
                follow_redirects=True,
            )
        return BulkExporter(
            self.gql,
            download=self._download,
            store=self.store_label,
            sleep=self._sleep,
            poll_interval_s=self.settings.bulk_poll_interval_s,
            poll_max_interval_s=self.settings.bulk_poll_max_interval_s,
            timeout_s=self.settings.bulk_timeout_s,
            download_attempts=self.settings.max_attempts,
        )

    async def _orders_bulk(self, search: str | None, updated_since: datetime | None) -> AsyncIterator[Page[Order]]:
        exporter = self._exporter()
        operation = await exporter.start(docs.bulk_orders_query(search))
        log.info("%s: orders bulk export %s started", self.store_label, operation)
        result = await exporter.wait(operation)
        log.info("%s: orders bulk export %s completed (%d rows)", self.store_label, operation, result.object_count)

        def parser(node: Mapping[str, Any]) -> Order:
            return parse.parse_order(node, self.store_id)

        nodes: list[dict[str, Any]] = []
        orphans: list[RejectedRecord] = []
        async for item in exporter.orders(result):
            if isinstance(item, BulkOrder):
                nodes.append({**item.row, "lineItems": {"nodes": item.children}})
            else:
                parent = item.row.get("__parentId")
                log.warning("%s: bulk row %s arrived away from its order %s", self.store_label, item.row.get("id"), parent)
                orphans.append(
                    RejectedRecord(
                        resource=Resource.ORDERS,
                        record_id=str(parent) if parent else None,
                        reason="a line item arrived away from its order in the bulk export",
                        raw=item.row,
                    )
                )
            if len(nodes) >= self.settings.page_size:
                page = self._bulk_page(nodes, orphans, parser, updated_since)
                nodes, orphans = [], []
                if page is not None:
                    yield page
        page = self._bulk_page(nodes, orphans, parser, updated_since)
        if page is not None:
            yield page

    def _bulk_page(
        self,
        nodes: list[dict[str, Any]],
        orphans: list[RejectedRecord],
        parser: Callable[[Mapping[str, Any]], Order],
        updated_since: datetime | None,
    ) -> Page[Order] | None:
        page = self._page(nodes, Resource.ORDERS, parser, updated_since)
        if not orphans:
            return page
        if page is None:
            return Page(records=[], rejected=orphans)
        return Page(records=page.records, rejected=page.rejected + orphans, newest_updated_at=page.newest_updated_at)

    # --- writes ------------------------------------------------------------------------------

    async def find_discount_code(self, code: str) -> DiscountCode | None:
        data = await self.gql.execute(docs.DISCOUNT_BY_CODE, {"code": code})
        node = data.get("codeDiscountNodeByCode")
        if not isinstance(node, Mapping):
            return None
        return parse.parse_discount_node(node, self.store_id, code)

    async def create_discount_code(self, spec: DiscountCodeSpec) -> DiscountCode:
        variables = {"input": inputs.discount_input(spec, self.store_label)}
        ambiguous = False

        async def create() -> DiscountCode:
            nonlocal ambiguous
            try:
                data = await self.gql.execute(docs.DISCOUNT_CODE_BASIC_CREATE, variables)
            except AmbiguousWriteError:
                ambiguous = True
                raise
            payload = data.get("discountCodeBasicCreate") or {}
            user_errors = payload.get("userErrors") or []
            if user_errors:
                first = user_errors[0]
                code, field = first.get("code"), inputs.user_error_field(first)
                message = f"{self.store_label} refused discount code {spec.code!r}: {first.get('message')}"
                if code == "TAKEN":
                    if ambiguous:
                        # Our earlier, ambiguous attempt may be the one that took the code.
                        found = await self.find_discount_code(spec.code)
                        if found is not None and inputs.same_discount(found, spec):
                            return found
                    raise errors.DiscountCodeTakenError(message, store=self.store_label, code=code, field=field)
                raise errors.PlatformRejectedError(
                    message + (f" (field {field})" if field else ""), store=self.store_label, code=code, field=field
                )
            node = payload.get("codeDiscountNode")
            if not isinstance(node, Mapping):
                raise errors.UnexpectedResponseError(
                    f"{self.store_label} created discount code {spec.code!r} but returned no node",
                    store=self.store_label,
                )
            return parse.parse_discount_node(node, self.store_id, spec.code)

        async def lookup() -> DiscountCode | None:
            found = await self.find_discount_code(spec.code)
            return found if found is not None and inputs.same_discount(found, spec) else None

        return await create_at_most_once(create=create, lookup=lookup)

    async def find_customer_by_email(self, email: str) -> Customer | None:
        data = await self.gql.execute(docs.CUSTOMER_BY_EMAIL, {"email": email})
        node = data.get("customerByIdentifier")
        if not isinstance(node, Mapping):
            return None
        return self._customer_or_raise(node)

    def _customer_or_raise(self, node: Mapping[str, Any]) -> Customer:
        try:
            return parse.parse_customer(node, self.store_id)
        except parse.TRANSLATION_ERRORS as exc:
            raise errors.UnexpectedResponseError(
                f"{self.store_label} returned customer {node.get('id')} in a shape we cannot read: {exc}",
                store=self.store_label,
            ) from None

    async def create_customer(self, spec: NewCustomer) -> Customer:
        customer_input = inputs.customer_input(spec, datetime.now(timezone.utc))
        ambiguous = False

        async def create() -> Customer:
            nonlocal ambiguous
            try:
                data = await self.gql.execute(docs.CUSTOMER_CREATE, {"input": customer_input})
            except AmbiguousWriteError:
                ambiguous = True
                raise
            payload = data.get("customerCreate") or {}
            user_errors = payload.get("userErrors") or []
            if user_errors:
                first = user_errors[0]
                field, text = inputs.user_error_field(first), str(first.get("message"))
                message = f"{self.store_label} refused to create customer {spec.email}: {text}"
                if "taken" in text.lower():
                    if ambiguous:
                        found = await self.find_customer_by_email(spec.email)
                        if found is not None:
                            return found
                    raise errors.CustomerExistsError(message, store=self.store_label, code="TAKEN", field=field)
                raise errors.PlatformRejectedError(
                    message + (f" (field {field})" if field else ""), store=self.store_label, field=field
                )
            node = payload.get("customer")
            if not isinstance(node, Mapping):
                raise errors.UnexpectedResponseError(
                    f"{self.store_label} created customer {spec.email} but returned none", store=self.store_label
                )
            return self._customer_or_raise(node)

        return await create_at_most_once(create=create, lookup=lambda: self.find_customer_by_email(spec.email))

    async def send_account_invite(self, customer_id: str) -> None:
        caps = await self.capabilities()
        if caps.invite_mode != InviteMode.SEND_INVITE:
            raise errors.NotSupportedError(
                f"{self.store_label} uses new customer accounts (passwordless sign-in by emailed code): "
                f"there is no account invite to send, buyers can sign in with their email already.",
                store=self.store_label,
            )
        data = await self.gql.execute(docs.CUSTOMER_SEND_ACCOUNT_INVITE, {"customerId": customer_id})
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


# --- helpers -----------------------------------------------------------------------------------


def _older(node: Any, since: datetime) -> bool:
    """True when the node's updatedAt is known and before ``since`` (Shopify search is per day)."""
    if not isinstance(node, Mapping):
        return False
    updated = parse.parse_datetime(node.get("updatedAt"))
    return updated is not None and updated < since
