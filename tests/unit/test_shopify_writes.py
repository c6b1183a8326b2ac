"""Shopify writes: discount codes, customers, invites, capabilities, access check."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.unit.shopify_fakes import SHOP, FakeShopify, connector, customer_node
from winback import errors
from winback.connectors.base import InviteMode
from winback.model import DiscountCodeSpec, DiscountKind, NewCustomer

STARTS = datetime(2026, 3, 1, tzinfo=timezone.utc)
ENDS = datetime(2026, 4, 1, tzinfo=timezone.utc)


def _spec(**overrides) -> DiscountCodeSpec:
    values = dict(code="BACK-ADA-10", title="Welcome back Ada", kind=DiscountKind.PERCENTAGE, value=Decimal("15"),
                  starts_at=STARTS, ends_at=ENDS, usage_limit=1, customer_id="gid://shopify/Customer/7")
    values.update(overrides)
    return DiscountCodeSpec(**values)


def _node(spec: DiscountCodeSpec, percentage: float | None = 0.15) -> dict:
    value = {"__typename": "DiscountPercentage", "percentage": percentage} if percentage is not None else {
        "__typename": "DiscountAmount", "amount": {"amount": str(spec.value), "currencyCode": "EUR"}, "appliesOnEachItem": False}
    return {
        "id": "gid://shopify/DiscountCodeNode/55",
        "codeDiscount": {
            "__typename": "DiscountCodeBasic", "title": spec.title, "startsAt": "2026-03-01T00:00:00Z",
            "endsAt": "2026-04-01T00:00:00Z", "appliesOncePerCustomer": True, "usageLimit": 1,
            "context": {"__typename": "DiscountCustomers", "customers": [{"id": spec.customer_id}]} if spec.customer_id else {"__typename": "DiscountBuyerSelectionAll"},
            "customerGets": {"value": value},
        },
    }


async def test_create_percentage_code_locked_to_a_customer(httpx_mock) -> None:
    spec = _spec()
    fake = FakeShopify(httpx_mock)
    fake.add("DiscountCodeBasicCreate", {"discountCodeBasicCreate": {"codeDiscountNode": _node(spec), "userErrors": []}})
    async with connector() as c:
        created = await c.create_discount_code(spec)
    sent = fake.requests[0][1]["input"]
    assert sent["code"] == "BACK-ADA-10" and sent["title"] == "Welcome back Ada"
    assert sent["customerGets"] == {"value": {"percentage": 0.15}, "items": {"all": True}}
    assert sent["context"] == {"customers": {"add": ["gid://shopify/Customer/7"]}}
    assert sent["startsAt"] == "2026-03-01T00:00:00Z" and sent["endsAt"] == "2026-04-01T00:00:00Z"
    assert sent["appliesOncePerCustomer"] is True and sent["usageLimit"] == 1
    assert "customerSelection" not in sent
    assert created.kind == DiscountKind.PERCENTAGE and created.value == Decimal("15")
    assert created.customer_ids == ("gid://shopify/Customer/7",) and created.store_id == SHOP


async def test_create_fixed_amount_code_for_everyone(httpx_mock) -> None:
    spec = _spec(kind=DiscountKind.FIXED_AMOUNT, value=Decimal("5.50"), customer_id=None, ends_at=None, usage_limit=None)
    fake = FakeShopify(httpx_mock)
    fake.add("DiscountCodeBasicCreate", {"discountCodeBasicCreate": {"codeDiscountNode": _node(spec, percentage=None), "userErrors": []}})
    async with connector() as c:
        created = await c.create_discount_code(spec)
    sent = fake.requests[0][1]["input"]
    assert sent["customerGets"]["value"] == {"discountAmount": {"amount": "5.50", "appliesOnEachItem": False}}
    assert sent["context"] == {"all": "ALL"}
    assert "endsAt" not in sent and "usageLimit" not in sent
    assert created.kind == DiscountKind.FIXED_AMOUNT and created.value == Decimal("5.50")


async def test_taken_code_raises_discount_code_taken(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("DiscountCodeBasicCreate", {"discountCodeBasicCreate": {"codeDiscountNode": None, "userErrors": [
        {"field": ["basicCodeDiscount", "code"], "message": "Code must be unique. Please try a different code.", "code": "TAKEN", "extraInfo": None}]}})
    with pytest.raises(errors.DiscountCodeTakenError) as raised:
        async with connector() as c:
            await c.create_discount_code(_spec())
    assert raised.value.field == "basicCodeDiscount.code" and "BACK-ADA-10" in str(raised.value)


async def test_taken_after_an_ambiguous_attempt_returns_our_own_code(httpx_mock) -> None:
    spec = _spec()
    fake = FakeShopify(httpx_mock)
    fake.add("DiscountCodeBasicCreate", status=503, body={"errors": "unavailable"})
    fake.add("DiscountByCode", {"codeDiscountNodeByCode": None})  # not visible yet
    fake.add("DiscountCodeBasicCreate", {"discountCodeBasicCreate": {"codeDiscountNode": None, "userErrors": [
        {"field": ["basicCodeDiscount", "code"], "message": "Code must be unique.", "code": "TAKEN", "extraInfo": None}]}})
    fake.add("DiscountByCode", {"codeDiscountNodeByCode": _node(spec)})
    async with connector() as c:
        found = await c.create_discount_code(spec)
    assert found.id == "gid://shopify/DiscountCodeNode/55"
    assert fake.names() == ["DiscountCodeBasicCreate", "DiscountByCode", "DiscountCodeBasicCreate", "DiscountByCode"]


async def test_ambiguous_create_found_by_lookup_is_not_resent(httpx_mock) -> None:
    spec = _spec()
    fake = FakeShopify(httpx_mock)
    fake.add("DiscountCodeBasicCreate", status=500, body={"errors": "boom"})
    fake.add("DiscountByCode", {"codeDiscountNodeByCode": _node(spec)})
    async with connector() as c:
        found = await c.create_discount_code(spec)
    assert found.code == "BACK-ADA-10"
    assert fake.names() == ["DiscountCodeBasicCreate", "DiscountByCode"]


async def test_other_user_errors_are_platform_rejections(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("DiscountCodeBasicCreate", {"discountCodeBasicCreate": {"codeDiscountNode": None, "userErrors": [
        {"field": ["basicCodeDiscount", "endsAt"], "message": "Ends at needs to be after starts_at", "code": "END_DATE_BEFORE_START_DATE", "extraInfo": None}]}})
    with pytest.raises(errors.PlatformRejectedError) as raised:
        async with connector() as c:
            await c.create_discount_code(_spec())
    assert not isinstance(raised.value, errors.DiscountCodeTakenError)
    assert raised.value.code == "END_DATE_BEFORE_START_DATE" and raised.value.field == "basicCodeDiscount.endsAt"


async def test_find_discount_code(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("DiscountByCode", {"codeDiscountNodeByCode": None})
    fake.add("DiscountByCode", {"codeDiscountNodeByCode": _node(_spec())})
    async with connector() as c:
        assert await c.find_discount_code("NOPE") is None
        found = await c.find_discount_code("BACK-ADA-10")
    assert found.title == "Welcome back Ada" and found.usage_limit == 1 and found.once_per_customer


# --- customers ---------------------------------------------------------------------------------


async def test_find_customer_by_email_uses_customer_by_identifier(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("CustomerByEmail", {"customerByIdentifier": customer_node(1)})
    fake.add("CustomerByEmail", {"customerByIdentifier": None})
    async with connector() as c:
        assert (await c.find_customer_by_email("buyer1@example.com")).id == "gid://shopify/Customer/1"
        assert await c.find_customer_by_email("nobody@example.com") is None
    assert fake.requests[0][1] == {"email": "buyer1@example.com"}


async def test_create_customer_and_taken_email(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("CustomerCreate", {"customerCreate": {"customer": customer_node(9, state="DISABLED"), "userErrors": []}})
    fake.add("CustomerCreate", {"customerCreate": {"customer": None, "userErrors": [{"field": ["email"], "message": "Email has already been taken"}]}})
    async with connector() as c:
        created = await c.create_customer(NewCustomer(email="new@example.com", first_name="New", tags=("winback",), accepts_marketing=True))
        with pytest.raises(errors.CustomerExistsError) as raised:
            await c.create_customer(NewCustomer(email="buyer1@example.com"))
    sent = fake.requests[0][1]["input"]
    assert sent["email"] == "new@example.com" and sent["firstName"] == "New" and sent["tags"] == ["winback"]
    assert sent["emailMarketingConsent"]["marketingState"] == "SUBSCRIBED"
    assert "emailMarketingConsent" not in fake.requests[1][1]["input"]
    assert created.id == "gid://shopify/Customer/9"
    assert raised.value.field == "email"


async def test_ambiguous_customer_create_is_looked_up_by_email(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("CustomerCreate", status=502, body={"errors": "bad gateway"})
    fake.add("CustomerByEmail", {"customerByIdentifier": customer_node(4)})
    async with connector() as c:
        found = await c.create_customer(NewCustomer(email="buyer4@example.com"))
    assert found.id == "gid://shopify/Customer/4"
    assert fake.names() == ["CustomerCreate", "CustomerByEmail"]


# --- invites, capabilities, access -------------------------------------------------------------


def _shop(version: str) -> dict:
    return {"shop": {"name": "Acme", "currencyCode": "EUR", "url": "https://acme.example", "myshopifyDomain": SHOP,
                     "email": "o@acme.example", "ianaTimezone": "UTC", "customerAccountsV2": {"customerAccountsVersion": version}}}


async def test_invite_is_sent_with_classic_accounts(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("ShopInfo", _shop("CLASSIC"))
    fake.add("CustomerSendAccountInvite", {"customerSendAccountInviteEmail": {"customer": {"id": "gid://shopify/Customer/1", "state": "INVITED"}, "userErrors": []}})
    async with connector() as c:
        caps = await c.capabilities()
        await c.send_account_invite("gid://shopify/Customer/1")
    assert caps.invite_mode == InviteMode.SEND_INVITE and caps.customer_locked_codes and caps.bulk_export
    assert fake.requests[-1][1] == {"customerId": "gid://shopify/Customer/1"}


async def test_invite_is_not_supported_with_new_customer_accounts(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("ShopInfo", _shop("NEW_CUSTOMER_ACCOUNTS"))
    async with connector() as c:
        assert (await c.capabilities()).invite_mode == InviteMode.NOT_NEEDED
        with pytest.raises(errors.NotSupportedError, match="new customer accounts"):
            await c.send_account_invite("gid://shopify/Customer/1")
    assert fake.names() == ["ShopInfo"]


async def test_invite_user_error_is_a_rejection(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("ShopInfo", _shop("CLASSIC"))
    fake.add("CustomerSendAccountInvite", {"customerSendAccountInviteEmail": {"customer": None, "userErrors": [{"field": ["customerId"], "message": "Customer is already enabled", "code": "INVALID"}]}})
    with pytest.raises(errors.PlatformRejectedError, match="already enabled"):
        async with connector() as c:
            await c.send_account_invite("gid://shopify/Customer/1")


async def test_check_access_reports_missing_scopes(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("AccessScopes", {"currentAppInstallation": {"accessScopes": [{"handle": h} for h in ("write_customers", "read_orders", "read_products", "write_discounts")]}})
    async with connector() as c:
        report = await c.check_access()
    assert report.missing == frozenset({"read_all_orders"})
    assert "read_customers" in report.granted  # implied by write_customers
