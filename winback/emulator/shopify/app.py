"""The Shopify Admin GraphQL emulator as an HTTP :class:`~winback.emulator.server.App`.

Routes: ``POST /admin/api/{YYYY-MM}/graphql.json`` (the Admin API), ``GET /bulk/<n>.jsonl``
(bulk-operation results, streamed) and ``/admin/oauth/access_token`` and ``/admin/oauth/authorize``
(:mod:`winback.emulator.shopify.oauth`). Everything else is 404, except the test hook
``GET /_emulator/writes`` (see :meth:`ShopifyEmulator.writes`), which is NOT part of Shopify's API.

Order of checks per request, as Shopify answers them: token (401), shop state (402 frozen, 423
locked), JSON body, parse/validation (200 with ``errors``), requested cost over 1000
(MAX_COST_EXCEEDED), bucket (THROTTLED, 200 or the ``throttled_status`` knob), then execution with
``extensions.cost`` on every GraphQL answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from graphql import build_schema

from winback.emulator.server import EmulatorServer, FaultPlan, Request, Response, iter_jsonl
from winback.emulator.webhooks import WebhookEmitter, shopify_sender
from winback.emulator.shopify import customer_writes, deletions
from winback.emulator.shopify.bulk import BulkOperations, parse_bulk_number
from winback.emulator.shopify.cost import LeakyBucket
from winback.emulator.shopify.graphql_endpoint import answer_graphql
from winback.emulator.shopify.mutations import build_mutation_resolvers
from winback.emulator.shopify.oauth import OAuthEndpoints
from winback.emulator.shopify.resolvers import attach_resolvers
from winback.emulator.shopify.schema import SCHEMA_PATH
from winback.emulator.shopify.state import Record, ShopState
from winback.emulator.world import World

ALL_SCOPES = (
    "read_customers",
    "write_customers",
    "read_orders",
    "read_all_orders",
    "read_products",
    "read_discounts",
    "write_discounts",
)
_GRAPHQL_PATH = re.compile(r"^/admin/api/(\d{4}-\d{2}|unstable)/graphql\.json$")
WRITES_PATH = "/_emulator/writes"
"""Test hook, not Shopify's API: every write the emulator accepted, for tests in other processes."""
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ShopifyEmulator:
    """An in-process Shopify shop serving a :class:`World` through the Admin GraphQL API.

    Knobs (all keyword-only): ``shop_domain``, ``access_token``, ``scopes`` (granted access scopes;
    ``write_x`` implies ``read_x``), ``throttle`` (``False`` disables the bucket for benchmarks),
    ``bucket_size``, ``restore_rate``, ``throttled_status`` (200 or 429 for THROTTLED answers),
    ``customer_accounts`` (``NEW_CUSTOMER_ACCOUNTS``, the only choice for new stores since February
    2026: buyers sign in with a one-time code and the account invite is refused; or ``CLASSIC``,
    a legacy shop where the invite works), ``client_id``, ``client_secret``, ``token_lifetime`` (seconds
    a client-credentials token lives; expired tokens get a 401), ``offline_token_lifetime``,
    ``refresh_token_lifetime`` and ``refresh_retention_s`` (expiring offline tokens) and ``redirect_uris`` (the app's
    allowed install redirects; ``None``: any) for the OAuth endpoints (:mod:`.oauth`), ``shop_state`` (``active``,
    ``frozen`` -> 402, ``locked`` -> 423), ``bulk_polls_to_complete`` and ``bulk_complete_after_s``.

    Test hooks: :meth:`touch_orders`, :meth:`corrupt_record`, and read access to what is served
    (:attr:`customers`, :attr:`orders`, :attr:`products`) and what writes did
    (:attr:`discount_codes`, :attr:`invites_sent`, :attr:`customers_created`, and :meth:`writes`, also
    served at ``GET /_emulator/writes`` for tests in another process).
    """

    def __init__(
        self,
        world: World,
        *,
        shop_domain: str = "winback-demo.myshopify.com",
        access_token: str = "shpat_emulator_token",
        scopes: Iterable[str] = ALL_SCOPES,
        throttle: bool = True,
        bucket_size: float = 2000.0,
        restore_rate: float = 100.0,
        throttled_status: int = 200,
        customer_accounts: str = "NEW_CUSTOMER_ACCOUNTS",
        shop_state: str = "active",
        shop_email: str = "owner@winback-demo.example",
        iana_timezone: str = "Etc/UTC",
        bulk_polls_to_complete: int = 2,
        bulk_complete_after_s: float = 2.0,
        client_id: str = "emulator-client-id",
        client_secret: str = "emulator-client-secret",
        token_lifetime: int = 86399,
        offline_token_lifetime: int = 3600,
        refresh_token_lifetime: int = 90 * 86400,
        refresh_retention_s: float = 30 * 86400.0,
        redirect_uris: Iterable[str] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_retry_base_s: float = 0.5,
        birthday_metafield: str | None = None,
    ) -> None:
        if customer_accounts not in ("CLASSIC", "NEW_CUSTOMER_ACCOUNTS"):
            raise ValueError("customer_accounts must be CLASSIC or NEW_CUSTOMER_ACCOUNTS")
        if shop_state not in ("active", "frozen", "locked"):
            raise ValueError("shop_state must be active, frozen or locked")
        if throttled_status not in (200, 429):
            raise ValueError("throttled_status must be 200 or 429")
        self.world = world
        self.shop_domain = shop_domain
        self.access_token = access_token
        self.scopes = tuple(scopes)
        self.throttled_status = throttled_status
        self.customer_accounts = customer_accounts
        self.shop_state = shop_state
        self.shop_email = shop_email
        self.iana_timezone = iana_timezone
        self.public_url = f"https://{shop_domain}"
        """Base of bulk result URLs; set to the server's URL by :func:`start_shopify_emulator`."""
        self.bucket = LeakyBucket(bucket_size, restore_rate, enabled=throttle)
        self.state = ShopState(world, shop_domain=shop_domain)
        self.bulk = BulkOperations(self, polls_to_complete=bulk_polls_to_complete,
                                   complete_after_s=bulk_complete_after_s)
        self.schema = build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))
        attach_resolvers(self.schema, self, {**build_mutation_resolvers(self), **customer_writes.build_tag_resolvers(self)})
        customer_writes.attach(self.schema)
        if birthday_metafield:
            customer_writes.seed_birthdays(self, birthday_metafield, datetime.now(timezone.utc).date())
        self.graphql_requests = 0
        self.unauthorized_requests = 0
        """GraphQL requests answered 401 (wrong or expired token), for tests."""
        self.oauth = OAuthEndpoints(
            shop_domain=shop_domain, scopes=self.scopes, static_token=access_token, client_id=client_id,
            client_secret=client_secret, token_lifetime=token_lifetime,
            offline_token_lifetime=offline_token_lifetime, refresh_token_lifetime=refresh_token_lifetime,
            refresh_retention_s=refresh_retention_s,
            redirect_uris=tuple(redirect_uris) if redirect_uris is not None else None,
        )
        self.webhooks: WebhookEmitter | None = None
        """Set with ``webhook_url`` and ``webhook_secret``: order and customer changes are sent,
        signed, to that URL (see :mod:`winback.emulator.webhooks`)."""
        self._emit: Any = None
        if webhook_url and webhook_secret:
            self.webhooks = WebhookEmitter(webhook_url, retry_base_s=webhook_retry_base_s)
            self._emit = shopify_sender(self.webhooks, webhook_secret, shop_domain)

    # --- knobs and hooks -------------------------------------------------------------------------

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or (scope.startswith("read_") and "write_" + scope[5:] in self.scopes)

    def shop_record(self) -> Record:
        return {
            "id": "gid://shopify/Shop/60000000001",
            "name": self.world.store_name,
            "email": self.shop_email,
            "myshopifyDomain": self.shop_domain,
            "url": f"https://{self.shop_domain}",
            "currencyCode": self.world.currency,
            "ianaTimezone": self.iana_timezone,
            "shopAddress": {
                "id": "gid://shopify/ShopAddress/60000000001", "company": self.world.store_name,
                "city": "Portland", "zip": "97201", "country": "United States",
                "formatted": [self.world.store_name, "100 Main Street", "Portland OR 97201", "United States"],
            },
            "customerAccountsV2": {
                "customerAccountsVersion": self.customer_accounts,
                "loginLinksVisibleOnStorefrontAndCheckout": True,
                "loginRequiredAtCheckout": False,
                "url": "https://shopify.com/60000000001/account" if self.customer_accounts != "CLASSIC" else None,
            },
        }

    @property
    def customers(self) -> list[Record]:
        """Every customer as served (internal ``_`` keys included), by id."""
        return list(self.state.customers.index("ID")[1])

    @property
    def orders(self) -> list[Record]:
        return list(self.state.orders.index("ID")[1])

    @property
    def products(self) -> list[Record]:
        return list(self.state.products.index("ID")[1])

    @property
    def discount_codes(self) -> list[Record]:
        """DiscountCodeNode dicts created through ``discountCodeBasicCreate``, in order."""
        return list(self.state.discounts_created)

    @property
    def invites_sent(self) -> list[dict[str, Any]]:
        return list(self.state.invites_sent)

    @property
    def customers_created(self) -> list[Record]:
        return list(self.state.customers_created)

    def writes(self) -> dict[str, list[dict[str, Any]]]:
        """Every accepted write, in order, as served by ``GET /_emulator/writes``.

        A test hook for process-level tests (the emulator runs in its own process), not part of
        Shopify's API. Each accepted create is listed, so a duplicate intent shows up as two entries.
        """
        with self.state.lock:
            return {
                "discount_codes": [
                    {"id": node["id"], "code": node["_code"],
                     "customer_ids": [c["id"] for c in node["codeDiscount"]["context"].get("customers", ())]}
                    for node in self.state.discounts_created
                ],
                "customers_created": [{"id": c["id"], "email": c["email"]} for c in self.state.customers_created],
                "invites_sent": [dict(invite) for invite in self.state.invites_sent],
                "consent_updates": [dict(update) for update in self.state.consent_updates],
                "tag_writes": [dict(write) for write in self.state.tag_writes],
                "webhook_subscriptions": [dict(sub) for sub in self.state.webhook_subscriptions],
            }

    def delete_record(self, resource: str, key: int | str) -> Record:
        """Delete an order, customer or product (GID or world key) as the merchant would in the
        admin; ``events`` then lists its ``destroy`` event (see :mod:`.deletions`)."""
        return deletions.delete_record(self.state, resource, key)

    @property
    def events(self) -> list[Record]:
        return list(self.state.events.index("ID")[1])

    def touch_orders(self, fraction: float, seed: int = 0) -> list[str]:
        """Bump ``updatedAt`` of that share of orders to the write clock; returns their ids
        (and sends ``orders/updated`` for each when webhooks are on)."""
        touched = self.state.touch_orders(fraction, seed)
        for order in touched:
            self.emit("orders/updated", order_webhook(order))
        return [order["id"] for order in touched]

    def emit(self, topic: str, payload: dict[str, Any]) -> str | None:
        """Send a webhook (when configured); its ``X-Shopify-Webhook-Id``."""
        return None if self._emit is None else str(self._emit(topic, payload))

    def corrupt_record(self, collection: str, key: int) -> Record:
        """Make one record's payload malformed in a way a client can detect (an amount that is not a
        decimal, ``"12.3.4"``, still passes the Decimal scalar as a string)."""
        records = {"orders": self.state.orders, "customers": self.state.customers, "products": self.state.products}
        record = records[collection].by_num[key]
        with self.state.lock:
            if collection == "orders":
                record["totalPriceSet"] = {"shopMoney": {"amount": "12.3.4", "currencyCode": self.world.currency},
                                           "presentmentMoney": {"amount": "12.3.4", "currencyCode": self.world.currency}}
            elif collection == "customers":
                record["amountSpent"] = {"amount": "12.3.4", "currencyCode": self.world.currency}
            else:
                bad = {"amount": "12.3.4", "currencyCode": self.world.currency}
                record["priceRangeV2"] = {"minVariantPrice": bad, "maxVariantPrice": bad}
        return record

    # --- HTTP ------------------------------------------------------------------------------------

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "429":
            return Response.json(
                {"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."},
                status=429,
                headers={"Retry-After": "2.0"},
            )
        return Response.json({"errors": "Internal Server Error"}, status=int(kind))

    def handle(self, request: Request) -> Response:
        if request.path == WRITES_PATH:
            return self._writes_hook(request)
        if request.method == "GET" and request.path.startswith("/bulk/"):
            return self._bulk_file(request)
        if request.path.startswith("/admin/oauth/"):
            return self.oauth.handle(request)
        if not _GRAPHQL_PATH.match(request.path):
            return Response.json({"errors": "Not Found"}, status=404)
        if request.method != "POST":
            return Response.json({"errors": "Not Found"}, status=404)
        if not self.oauth.token_valid(request.headers.get("x-shopify-access-token")):
            self.unauthorized_requests += 1
            return Response.json(
                {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}, status=401
            )
        if self.shop_state == "frozen":
            return Response.json({"errors": "Unavailable Shop"}, status=402)
        if self.shop_state == "locked":
            return Response.json({"errors": "This shop is unavailable"}, status=423)
        self.graphql_requests += 1
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            return Response.json({"errors": {"query": "Required parameter missing or invalid"}}, status=400)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return Response.json({"errors": {"query": "Required parameter missing or invalid"}}, status=400)
        variables = body.get("variables") or {}
        return answer_graphql(self, body["query"], variables if isinstance(variables, dict) else {},
                              body.get("operationName"))

    def _writes_hook(self, request: Request) -> Response:
        # No token: the hook is for tests on this machine. The server cannot see the peer's address
        # here, so a request naming a non-loopback host (the emulator exposed on purpose) gets a 404.
        host = urlsplit("//" + request.headers.get("host", "")).hostname
        if request.method != "GET" or host not in _LOOPBACK_HOSTS:
            return Response.json({"errors": "Not Found"}, status=404)
        return Response.json(self.writes())

    def _bulk_file(self, request: Request) -> Response:
        number = parse_bulk_number(request.path)
        lines = self.bulk.jsonl(number) if number is not None else None
        if lines is None:
            return Response(status=404, body=b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code></Error>",
                            content_type="application/xml")
        return Response(status=200, body=iter_jsonl(lines), content_type="application/jsonl")


def order_webhook(order: Record) -> dict[str, Any]:
    """The REST-shaped ``orders/*`` payload: numeric id plus the GraphQL id, email, updated_at."""
    return {"id": int(str(order["id"]).rsplit("/", 1)[-1]), "admin_graphql_api_id": order["id"],
            "email": order.get("email"), "updated_at": order.get("updatedAt"), "name": order.get("name")}


def start_shopify_emulator(
    world: World, *, faults: FaultPlan | None = None, host: str = "127.0.0.1", port: int = 0, **knobs: Any
) -> tuple[EmulatorServer, ShopifyEmulator]:
    """Start a :class:`ShopifyEmulator` on loopback in a background thread.

    Returns ``(server, emulator)``; the Admin API is at ``server.url + "/admin/api/2026-07/graphql.json"``.
    Stop with ``server.stop()`` (or use the server as a context manager).
    """
    emulator = ShopifyEmulator(world, **knobs)
    server = EmulatorServer(emulator, host=host, port=port, faults=faults)
    emulator.public_url = server.url
    server.start()
    return server, emulator


def graphql_url(server: EmulatorServer, version: str = "2026-07") -> str:
    return f"{server.url}/admin/api/{version}/graphql.json"


__all__ = ["ALL_SCOPES", "ShopifyEmulator", "graphql_url", "start_shopify_emulator"]
