"""Ecwid scopes as a new custom app has them (faked network): ``check`` names what is out of reach
with the real remedy, capabilities say which needs are unreachable, a refused write is remembered,
and the one scope table lives in the profile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from pytest_httpx import HTTPXMock

from winback import errors
from winback.connectors.base import Need
from winback.connectors.ecwid import EcwidConnector, EcwidSettings
from winback.connectors.ecwid import profile as ecwid_profile
from winback.connectors.ecwid.connector import NEED_SCOPES
from winback.connectors.http import AmbiguousWriteError
from winback.connectors.retry import RetryPolicy
from winback.connectors.shopify import graphql as shopify_graphql
from winback.connectors.shopify import profile as shopify_profile
from winback.model import DiscountCodeSpec, DiscountKind

BASE = "https://app.ecwid.com/api/v3/1003"
PROFILE = {"generalInfo": {"storeId": 1003}, "settings": {"storeName": "Shop"}, "formatsAndUnits": {"currency": "USD"}}
EMPTY = {"total": 0, "count": 0, "offset": 0, "limit": 1, "items": []}


def connector() -> EcwidConnector:
    settings = EcwidSettings(store_id="1003", token="secret_unit_token_123", requests_per_minute=60_000)
    return EcwidConnector(settings, retry=RetryPolicy(attempts=1, base_delay=0, max_delay=0))


def new_app_token(httpx_mock: HTTPXMock) -> None:
    """What a new custom app's token gets: profile, orders and products; 403 for the rest."""
    httpx_mock.add_response(url=f"{BASE}/profile", json=PROFILE, is_reusable=True, is_optional=True)
    for path in ("orders", "products"):
        httpx_mock.add_response(url=f"{BASE}/{path}?limit=1", json=EMPTY, is_optional=True)
    for path, scope in (("customers", "read_customers"), ("discount_coupons", "read_discount_coupons")):
        httpx_mock.add_response(url=f"{BASE}/{path}?limit=1", status_code=403, is_optional=True,
                                json={"errorMessage": f"Access token doesn't have {scope} scope",
                                      "errorCode": "ACCESS_DENIED"})


async def test_check_names_the_missing_read_scopes_and_leaves_create_scopes_unknown(httpx_mock: HTTPXMock) -> None:
    new_app_token(httpx_mock)
    async with connector() as c:
        report = await c.check_access()
    assert report.missing == {"read_customers", "read_discount_coupons"}
    assert report.unknown == {"create_discount_coupons", "create_customers", "update_customers"}
    assert all(r.method == "GET" for r in httpx_mock.get_requests())  # read-only probes
    fix = EcwidConnector.profile.scope_fix("read_customers", "Ecwid store 1003")
    assert "ask Ecwid" in fix and "does not add a scope" in fix and "Reinstall" not in fix


async def test_capabilities_mark_customers_and_coupons_unreachable(httpx_mock: HTTPXMock) -> None:
    new_app_token(httpx_mock)
    async with connector() as c:
        caps = await c.capabilities()
        again = await c.capabilities()
    assert set(caps.unreachable) == {Need.READ_CUSTOMERS, Need.READ_DISCOUNT_CODES,
                                     Need.CREATE_DISCOUNT_CODES, Need.CREATE_CUSTOMERS, Need.UPDATE_CUSTOMERS}
    assert "read_discount_coupons" in caps.unreachable[Need.CREATE_DISCOUNT_CODES]
    assert "ask Ecwid" in caps.unreachable[Need.READ_CUSTOMERS]
    assert again == caps
    assert len(httpx_mock.get_requests()) == 4  # orders, products, customers, coupons: once each


def spec() -> DiscountCodeSpec:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    return DiscountCodeSpec(code="BACK-ABC", title="Winback 10%", kind=DiscountKind.PERCENTAGE,
                            value=Decimal("10"), starts_at=now, ends_at=now + timedelta(days=14), usage_limit=1)


async def test_a_refused_create_is_remembered_as_missing(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=f"{BASE}/discount_coupons", status_code=403,
                            json={"errorMessage": "Access token doesn't have create_discount_coupons scope"})
    httpx_mock.add_response(method="GET", json=EMPTY, is_reusable=True)
    async with connector() as c:
        with pytest.raises(errors.MissingScopeError, match="ask Ecwid"):
            await c.create_discount_code(spec())
        report = await c.check_access()
        caps = await c.capabilities()
    assert "create_discount_coupons" in report.missing
    assert Need.CREATE_DISCOUNT_CODES in caps.unreachable and Need.CREATE_CUSTOMERS not in caps.unreachable


def coupon(**changes) -> dict:
    raw = {"id": 7, "code": "BACK-ABC", "name": "Winback 10%", "discountType": "PERCENT", "discount": 10,
           "status": "ACTIVE", "usesLimit": "SINGLE", "launchDate": "2026-06-01 00:00:00 +0000",
           "expirationDate": "2026-06-15 00:00:00 +0000"}
    return {**raw, **changes}


@pytest.mark.parametrize(("existing", "adopted"), [(coupon(), True), (coupon(discount=50, usesLimit="UNLIMITED"), False)])
async def test_after_an_ambiguous_create_only_the_coupon_winback_meant_is_adopted(
    httpx_mock: HTTPXMock, existing: dict, adopted: bool
) -> None:
    httpx_mock.add_response(url=f"{BASE}/profile", json=PROFILE, is_optional=True)
    httpx_mock.add_exception(httpx.ReadTimeout("lost"), method="POST")
    httpx_mock.add_response(method="GET", json={**EMPTY, "total": 1, "count": 1, "items": [existing]}, is_reusable=True)
    httpx_mock.add_response(method="POST", status_code=409, json={"errorMessage": "Coupon with this code already exists"},
                            is_optional=True, is_reusable=True)
    async with connector() as c:
        if adopted:
            assert (await c.create_discount_code(spec())).id == "7"
        else:
            with pytest.raises((errors.DiscountCodeTakenError, AmbiguousWriteError)):
                await c.create_discount_code(spec())


def test_the_profile_is_the_one_scope_table() -> None:
    assert set(NEED_SCOPES.values()) <= set(ecwid_profile.SCOPES)
    assert set(ecwid_profile.READ_PROBES) | ecwid_profile.WRITE_SCOPES == set(ecwid_profile.SCOPES)
    assert shopify_graphql.REQUIRED_SCOPES == frozenset(shopify_profile.SCOPES)
    assert ecwid_profile.DEFAULT_SCOPES <= set(ecwid_profile.READ_PROBES)
