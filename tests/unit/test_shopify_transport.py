"""The Shopify GraphQL transport: HTTP errors, GraphQL errors, throttling, retries, secrecy."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.unit.shopify_fakes import SHOP, TOKEN, FakeShopify, Sleeps, connector, cost, throttled_body
from winback import errors
from winback.connectors.auth import RefreshingToken
from winback.connectors.retry import AmbiguousWriteError
from winback.connectors.shopify import ShopifyConnector, ShopifySettings
from winback.connectors.shopify import write_documents as write_docs
from winback.connectors.shopify.throttle import CostBucket

SHOP_DATA = {
    "shop": {
        "name": "Acme",
        "currencyCode": "EUR",
        "url": "https://acme.example",
        "myshopifyDomain": SHOP,
        "email": "owner@acme.example",
        "ianaTimezone": "Europe/Paris",
        "customerAccountsV2": {"customerAccountsVersion": "CLASSIC"},
    }
}


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shop", ["acme", "acme.myshopify.com", "https://acme.myshopify.com/", "HTTP://ACME.myshopify.com/admin"])
def test_shop_is_normalised_to_the_myshopify_domain(shop: str) -> None:
    settings = ShopifySettings(shop=shop, access_token="x" * 10)
    assert settings.shop == SHOP
    assert settings.endpoint == "https://acme.myshopify.com/admin/api/2026-07/graphql.json"


@pytest.mark.parametrize("shop", ["", "acme.com", "https://shop.acme.com", "ac me", "-acme"])
def test_invalid_shop_is_a_clear_validation_error(shop: str) -> None:
    with pytest.raises(ValueError, match="not a Shopify shop"):
        ShopifySettings(shop=shop)


def test_settings_validate_version_page_size_and_base_url() -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        ShopifySettings(shop="acme", api_version="2026-7")
    with pytest.raises(ValueError):
        ShopifySettings(shop="acme", page_size=251)
    settings = ShopifySettings(shop="acme", base_url="http://127.0.0.1:9999/", api_version="2025-10")
    assert settings.endpoint == "http://127.0.0.1:9999/admin/api/2025-10/graphql.json"
    assert not ShopifySettings(shop="acme", bulk_threshold=-1).bulk_enabled
    assert not ShopifySettings(shop="acme", bulk_threshold=None).bulk_enabled
    assert ShopifySettings(shop="acme", bulk_threshold=0).bulk_enabled


def test_store_label_and_id_are_the_myshopify_domain() -> None:
    c = ShopifyConnector.from_settings({"shop": "https://acme.myshopify.com/", "access_token": TOKEN})
    assert c.store_label == c.store_id == SHOP
    assert c.platform == "shopify"
    assert TOKEN not in repr(c.http.auth)


def test_a_missing_token_is_a_config_error() -> None:
    with pytest.raises(errors.ConfigError, match="access_token"):
        ShopifyConnector.from_settings({"shop": "acme"})


# --- request shape -----------------------------------------------------------------------------


async def test_request_carries_token_header_and_query_variables(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("ShopInfo", SHOP_DATA)
    async with connector() as c:
        store = await c.store_info()
    assert store.name == "Acme" and store.currency == "EUR" and store.timezone == "Europe/Paris"
    assert store.store_id == SHOP and store.platform == "shopify"
    _, variables, headers = fake.requests[0]
    assert headers["X-Shopify-Access-Token"] == TOKEN
    assert "authorization" not in headers
    assert variables == {}


async def test_token_provider_is_used_and_refreshed_after_401(httpx_mock) -> None:
    tokens = iter(["shpat_first_token_aaaa", "shpat_second_token_bbbb"])

    async def fetch():
        return next(tokens), None

    provider = RefreshingToken(fetch, header="X-Shopify-Access-Token", prefix="")
    fake = FakeShopify(httpx_mock)
    fake.add("ShopInfo", status=401, body={"errors": "[API] Invalid API key or access token"})
    fake.add("ShopInfo", SHOP_DATA)
    c = ShopifyConnector.from_settings({"shop": "acme", "retry_base_delay_s": 0}, token_provider=provider)
    async with c:
        await c.store_info()
    assert [h["X-Shopify-Access-Token"] for _, _, h in fake.requests] == ["shpat_first_token_aaaa", "shpat_second_token_bbbb"]


# --- HTTP errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, errors.AuthenticationError, ["the access token for acme.myshopify.com was rejected"]),
        (402, errors.StoreFrozenError, ["acme.myshopify.com is frozen"]),
        (403, errors.MissingScopeError, ["acme.myshopify.com", "read_orders", "Add it"]),
        (404, errors.StoreNotFoundError, ["acme.myshopify.com", "2026-07"]),
        (423, errors.StoreLockedError, ["acme.myshopify.com is locked"]),
    ],
)
async def test_http_errors_map_to_shopify_wording(httpx_mock, caplog, status, error, words) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeShopify(httpx_mock)
    fake.add("ShopInfo", status=status, body={"errors": "[API] This action requires merchant approval for read_orders scope."})
    with pytest.raises(error) as raised:
        async with connector() as c:
            await c.store_info()
    message = str(raised.value)
    for word in words:
        assert word in message
    assert raised.value.store == SHOP
    assert TOKEN not in message and TOKEN not in caplog.text
    assert len(fake.requests) == 1  # none of these is retried
    if status == 403:
        assert raised.value.scope == "read_orders"


async def test_429_then_success_waits_and_retries(httpx_mock) -> None:
    sleeps = Sleeps()
    fake = FakeShopify(httpx_mock)
    fake.add("ShopInfo", status=429, body={"errors": "Exceeded 2 calls per second"}, headers={"Retry-After": "2.0"})
    fake.add("ShopInfo", SHOP_DATA)
    async with connector(sleeps) as c:
        assert (await c.store_info()).name == "Acme"
    assert sleeps == [2.0]
    assert c.gql.throttled == 1


async def test_429_with_a_throttled_body_waits_from_throttle_status(httpx_mock) -> None:
    sleeps = Sleeps()
    fake = FakeShopify(httpx_mock)
    fake.add("ShopInfo", status=429, body=throttled_body(requested=400, available=100, rate=50))
    fake.add("ShopInfo", SHOP_DATA)
    async with connector(sleeps) as c:
        await c.store_info()
    assert sleeps[0] == pytest.approx((400 - 100) / 50)


async def test_throttled_on_200_waits_requested_minus_available_over_restore_rate(httpx_mock) -> None:
    sleeps = Sleeps()
    fake = FakeShopify(httpx_mock)
    fake.add("ShopInfo", body=throttled_body(requested=752, available=152, rate=100))
    fake.add("ShopInfo", SHOP_DATA)
    async with connector(sleeps) as c:
        await c.store_info()
    # The retry itself may also wait for the modelled bucket; the throttle wait comes first.
    assert sleeps[0] == pytest.approx(6.0)
    assert fake.names() == ["ShopInfo", "ShopInfo"]


async def test_throttling_is_bounded(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    for _ in range(3):
        fake.add("ShopInfo", body=throttled_body())
    with pytest.raises(errors.RateLimitedError, match="acme.myshopify.com"):
        async with connector(max_throttle_retries=2) as c:
            await c.store_info()
    assert len(fake.requests) == 3


async def test_bucket_waits_before_sending_when_the_expected_cost_is_not_available(httpx_mock) -> None:
    sleeps = Sleeps()
    fake = FakeShopify(httpx_mock)
    fake.add("ShopInfo", SHOP_DATA, query_cost=cost(requested=300, available=50, maximum=1000, rate=50))
    fake.add("AccessScopes", {"currentAppInstallation": {"accessScopes": []}}, query_cost=cost(requested=2, available=48))
    now = [100.0]
    c = connector(sleeps)
    c.bucket._clock = lambda: now[0]  # noqa: SLF001 - freeze time: no refill between requests
    async with c:
        await c.store_info()
        assert sleeps == []
        c.bucket.observe("AccessScopes", {"requestedQueryCost": 300})  # pretend it is expensive
        await c.check_access()
    assert sleeps == [pytest.approx((300 - 50) / 50)]


def test_bucket_extrapolates_with_time() -> None:
    now = [0.0]
    bucket = CostBucket(clock=lambda: now[0])
    bucket.observe("Q", cost(requested=100, available=200, maximum=1000, rate=100))
    assert bucket.wait_for(500) == pytest.approx(3.0)
    now[0] = 2.0
    assert bucket.projected_available() == pytest.approx(400)
    assert bucket.wait_for(500) == pytest.approx(1.0)
    now[0] = 100.0
    assert bucket.projected_available() == 1000
    assert bucket.expected_cost("Q", 7) == 100 and bucket.expected_cost("Other", 7) == 7


# --- GraphQL errors ----------------------------------------------------------------------------


async def test_access_denied_names_the_scope_and_the_store(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add(
        "ShopInfo",
        errors=[
            {
                "message": "Access denied for orders field. Required access: `read_orders` access scope. Also: `read_all_orders` ...",
                "extensions": {"code": "ACCESS_DENIED", "requiredAccess": "`read_all_orders` access scope."},
            }
        ],
    )
    with pytest.raises(errors.MissingScopeError) as raised:
        async with connector() as c:
            await c.store_info()
    assert raised.value.scope == "read_all_orders"
    assert "read_all_orders" in str(raised.value) and SHOP in str(raised.value)
    assert "Add read_all_orders" in str(raised.value)


@pytest.mark.parametrize("code", ["MAX_COST_EXCEEDED", "PARSE_ERROR", "INTERNAL_SERVER_ERROR"])
async def test_other_graphql_errors_are_query_errors_with_their_code(httpx_mock, code) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("ShopInfo", errors=[{"message": "nope", "extensions": {"code": code}}])
    with pytest.raises(errors.QueryError) as raised:
        async with connector() as c:
            await c.store_info()
    assert raised.value.code == code and SHOP in str(raised.value)


# --- retries -----------------------------------------------------------------------------------


async def test_5xx_on_a_read_is_retried(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("ShopInfo", status=503, body={"errors": "unavailable"})
    fake.add("ShopInfo", status=500, body={"errors": "boom"})
    fake.add("ShopInfo", SHOP_DATA)
    async with connector() as c:
        assert (await c.store_info()).name == "Acme"
    assert len(fake.requests) == 3


async def test_5xx_on_a_read_gives_up_with_platform_unavailable(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    for _ in range(3):
        fake.add("ShopInfo", status=502, body={"errors": "bad gateway"})
    with pytest.raises(errors.PlatformUnavailableError, match="acme.myshopify.com"):
        async with connector() as c:
            await c.store_info()


async def test_malformed_json_on_a_read_is_retried_then_fails_clearly(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("ShopInfo", content=b'{"data": {"shop": {"na')
    fake.add("ShopInfo", SHOP_DATA)
    async with connector() as c:
        assert (await c.store_info()).name == "Acme"

    for _ in range(4):
        fake.add("AccessScopes", content=b"<html>oops")
    with pytest.raises(errors.UnexpectedResponseError, match="not JSON"):
        async with connector() as c:
            await c.check_access()


async def test_5xx_on_a_mutation_is_not_resent_before_a_lookup(httpx_mock) -> None:
    from datetime import datetime, timezone
    from decimal import Decimal

    from winback.model import DiscountCodeSpec, DiscountKind

    spec = DiscountCodeSpec(
        code="BACK10", title="Welcome back", kind=DiscountKind.PERCENTAGE, value=Decimal("10"),
        starts_at=datetime(2026, 3, 1, tzinfo=timezone.utc),
    )
    fake = FakeShopify(httpx_mock)
    fake.add("DiscountCodeBasicCreate", status=502, body={"errors": "bad gateway"})
    fake.add("DiscountByCode", {"codeDiscountNodeByCode": None})
    fake.add(
        "DiscountCodeBasicCreate",
        {"discountCodeBasicCreate": {"codeDiscountNode": {"id": "gid://shopify/DiscountCodeNode/1", "codeDiscount": {"__typename": "DiscountCodeBasic", "title": "Welcome back"}}, "userErrors": []}},
    )
    async with connector() as c:
        created = await c.create_discount_code(spec)
    assert created.id == "gid://shopify/DiscountCodeNode/1"
    assert fake.names() == ["DiscountCodeBasicCreate", "DiscountByCode", "DiscountCodeBasicCreate"]


async def test_dropped_connection_on_a_mutation_is_ambiguous(httpx_mock) -> None:
    httpx_mock.add_exception(httpx.ReadError("connection reset"))
    with pytest.raises(AmbiguousWriteError):
        async with connector() as c:
            await c.gql.execute(write_docs.CUSTOMER_SEND_ACCOUNT_INVITE, {"customerId": "gid://shopify/Customer/1"})


async def test_token_never_appears_in_errors_or_logs(httpx_mock, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeShopify(httpx_mock)
    fake.add("ShopInfo", status=500, body={"errors": "boom"})
    fake.add("ShopInfo", body=throttled_body())
    fake.add("ShopInfo", status=401, body={"errors": f"[API] Invalid API key or access token {TOKEN}"})
    with pytest.raises(errors.AuthenticationError) as raised:
        async with connector() as c:
            await c.store_info()
    assert TOKEN not in str(raised.value)
    assert TOKEN not in caplog.text
