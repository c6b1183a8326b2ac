"""Ecwid connector HTTP behaviour with a faked network: errors, retries, writes, pacing, paging."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from decimal import Decimal

import httpx
import pytest
from pytest_httpx import HTTPXMock

from winback import errors
from winback.connectors import ratelimit as ratelimit_module
from winback.connectors.ecwid import EcwidConnector, EcwidSettings
from winback.connectors.ratelimit import RateLimiter
from winback.connectors.retry import RetryPolicy
from winback.model import DiscountCodeSpec, DiscountKind

TOKEN = "secret_unit_token_123"
BASE = "https://app.ecwid.com/api/v3/1003"
PROFILE = {"generalInfo": {"storeId": 1003}, "settings": {"storeName": "Shop"}, "formatsAndUnits": {"currency": "USD"}}


SLEPT: list[float] = []


async def _record_sleep(seconds: float) -> None:
    SLEPT.append(seconds)


def connector(**overrides) -> EcwidConnector:
    settings = EcwidSettings(store_id="1003", token=TOKEN, requests_per_minute=60_000, **overrides)
    return EcwidConnector(settings, retry=RetryPolicy(attempts=4, base_delay=0, max_delay=0), sleep=_record_sleep)


@pytest.fixture
def sleeps() -> list[float]:
    """Back-off sleeps the connector asked for (none of them is really waited)."""
    SLEPT.clear()
    return SLEPT


def error_body(message: str, code: str = "ERR") -> dict:
    return {"errorMessage": message, "errorCode": code}


async def test_429_with_retry_after_then_success(httpx_mock: HTTPXMock, sleeps: list[float]) -> None:
    httpx_mock.add_response(status_code=429, json=error_body("Too many requests"), headers={"Retry-After": "7"})
    httpx_mock.add_response(json=PROFILE)
    async with connector() as c:
        store = await c.store_info()
    assert store.currency == "USD"
    assert 7.0 in sleeps
    requests = httpx_mock.get_requests()
    assert len(requests) == 2 and requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


async def test_persistent_429_becomes_rate_limited_error(httpx_mock: HTTPXMock, sleeps) -> None:
    httpx_mock.add_response(status_code=429, json=error_body("Too many requests"), headers={"Retry-After": "0"},
                            is_reusable=True)
    async with connector() as c:
        with pytest.raises(errors.RateLimitedError, match="Ecwid store 1003"):
            await c.store_info()


async def test_5xx_is_retried_on_reads(httpx_mock: HTTPXMock, sleeps) -> None:
    httpx_mock.add_response(status_code=503, json=error_body("down"))
    httpx_mock.add_response(status_code=500, json=error_body("down"))
    httpx_mock.add_response(json=PROFILE)
    async with connector() as c:
        assert (await c.store_info()).name == "Shop"
    assert len(httpx_mock.get_requests()) == 3


def _spec() -> DiscountCodeSpec:
    return DiscountCodeSpec(
        code="BACK10", title="Back", kind=DiscountKind.PERCENTAGE, value=Decimal("10.5"),
        starts_at=datetime(2026, 1, 31, 12, tzinfo=timezone.utc),
    )


EMPTY = {"total": 0, "count": 0, "offset": 0, "limit": 100, "items": []}


async def test_post_5xx_looks_up_before_creating_again(httpx_mock: HTTPXMock, sleeps) -> None:
    httpx_mock.add_response(method="POST", status_code=503, json=error_body("down"))
    httpx_mock.add_response(method="GET", json=EMPTY)
    httpx_mock.add_response(method="POST", json={"id": 99, "code": "BACK10"})
    async with connector() as c:
        created = await c.create_discount_code(_spec())
    assert created.id == "99"
    requests = httpx_mock.get_requests()
    assert [r.method for r in requests] == ["POST", "GET", "POST"]
    assert requests[1].url.params["code"] == "BACK10"
    sent = json.loads(requests[0].content, parse_float=Decimal)
    assert sent["discount"] == Decimal("10.5") and sent["discountType"] == "PERCENT"
    assert sent["usesLimit"] == "ONCEPERCUSTOMER" and sent["launchDate"] == "2026-01-31 12:00:00 +0000"


async def test_post_5xx_then_lookup_finds_it_no_second_post(httpx_mock: HTTPXMock, sleeps) -> None:
    httpx_mock.add_response(method="POST", status_code=502, json=error_body("bad gateway"))
    httpx_mock.add_response(method="GET", json={**EMPTY, "total": 2, "count": 2, "items": [
        {"id": 5, "code": "BACK10X", "discountType": "ABS", "discount": 1},
        {"id": 6, "code": "back10", "name": "Back", "discountType": "PERCENT", "discount": 10.5,
         "usesLimit": "ONCEPERCUSTOMER", "launchDate": "2026-01-31 12:00:00 +0000"},
    ]})
    async with connector() as c:
        created = await c.create_discount_code(_spec())
    assert created.id == "6" and created.value == Decimal("10.5")
    assert [r.method for r in httpx_mock.get_requests()] == ["POST", "GET"]


async def test_duplicate_coupon_and_customer(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=f"{BASE}/discount_coupons", status_code=409,
                            json=error_body("The coupon with the given code already exists"))
    httpx_mock.add_response(method="GET", url=f"{BASE}/profile", json=PROFILE)
    httpx_mock.add_response(method="POST", url=f"{BASE}/customers", status_code=409,
                            json=error_body("The customer with the given email already exists"))
    from winback.model import NewCustomer

    async with connector() as c:
        with pytest.raises(errors.DiscountCodeTakenError):
            await c.create_discount_code(_spec())
        with pytest.raises(errors.CustomerExistsError):
            await c.create_customer(NewCustomer(email="a@example.com"))


async def test_malformed_json_is_retried_then_reported(httpx_mock: HTTPXMock, sleeps) -> None:
    httpx_mock.add_response(content=b'{"generalInfo": {"sto')
    httpx_mock.add_response(json=PROFILE)
    async with connector() as c:
        assert (await c.store_info()).currency == "USD"
    httpx_mock.add_response(content=b"<html>oops</html>", is_reusable=True)
    async with connector() as c:
        with pytest.raises(errors.UnexpectedResponseError, match="not JSON"):
            await c.store_info()


@pytest.mark.parametrize(
    ("status", "message", "error", "needle"),
    [
        (401, "Unauthorized", errors.AuthenticationError, "token"),
        (403, "Invalid token. Access denied.", errors.AuthenticationError, "token"),
        (403, "Token doesn't have required scope: read_orders", errors.MissingScopeError, "read_orders"),
        (402, "Please upgrade your account to access API", errors.StoreFrozenError, "plan"),
        (404, "Store not found", errors.StoreNotFoundError, "store_id"),
        (400, "Wrong parameter 'limit' value", errors.PlatformRejectedError, "limit"),
    ],
)
async def test_error_shapes(httpx_mock: HTTPXMock, caplog, status, message, error, needle) -> None:
    httpx_mock.add_response(status_code=status, json=error_body(message))
    caplog.set_level(logging.DEBUG)
    async with connector() as c:
        with pytest.raises(error) as caught:
            await c.store_info()
    text = str(caught.value)
    assert "Ecwid store 1003" in text and needle in text
    assert TOKEN not in text and TOKEN not in caplog.text
    if error is errors.MissingScopeError:
        assert caught.value.scope == "read_orders"


async def test_rate_limiter_paces_with_a_fake_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    waited: list[float] = []

    async def fake_sleep(seconds: float, *args, **kwargs) -> None:
        waited.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])
    monkeypatch.setattr(ratelimit_module.asyncio, "sleep", fake_sleep)
    for _ in range(6):
        await limiter.acquire()
    assert now[0] == pytest.approx(2.0)
    assert all(w == pytest.approx(0.5) for w in waited) and len(waited) == 4


async def test_connector_uses_requests_per_minute_for_its_limiter() -> None:
    c = EcwidConnector(EcwidSettings(store_id="1", token="secret_x_long", requests_per_minute=120))
    try:
        assert c.limiter.rate == pytest.approx(2.0)
    finally:
        await c.aclose()


def _order(i: int, updated: int) -> dict:
    return {"id": f"O{i}", "total": Decimal("1.10"), "paymentStatus": "PAID", "email": f"b{i}@x.com",
            "createTimestamp": updated - 10, "updateTimestamp": updated, "items": []}


async def test_page_quarantines_a_bad_record_and_keeps_the_rest(httpx_mock: HTTPXMock, caplog) -> None:
    orders = [_order(1, 300), {**_order(2, 200), "total": "12,5.x"}, _order(3, 100),
              {**_order(4, 50), "paymentStatus": "INCOMPLETE"}]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/profile"):
            return httpx.Response(200, json=PROFILE)
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        since = int(request.url.params["updatedFrom"])
        chosen = [o for o in orders if o["updateTimestamp"] >= since]
        body = {"total": len(chosen), "count": len(chosen[offset:offset + limit]), "offset": offset,
                "limit": limit, "items": chosen[offset:offset + limit]}
        return httpx.Response(200, content=json.dumps(body, default=str).encode())

    httpx_mock.add_callback(answer, is_reusable=True)
    async with connector() as c:
        pages = [p async for p in c.orders()]
    assert len(pages) == 1
    page = pages[0]
    assert [o.id for o in page.records] == ["O3", "O1"]
    assert [r.record_id for r in page.rejected] == ["O2"] and "total" in page.rejected[0].reason
    assert page.newest_updated_at == datetime.fromtimestamp(300, tz=timezone.utc)
    assert "quarantined" in caplog.text


async def test_large_sets_are_split_into_windows_read_oldest_first(httpx_mock: HTTPXMock) -> None:
    orders = [_order(i, 1_000_000 + i * 37) for i in range(250)]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/profile"):
            return httpx.Response(200, json=PROFILE)
        p = request.url.params
        lo, hi = int(p["updatedFrom"]), int(p.get("updatedTo", 10**12))
        chosen = [o for o in reversed(orders) if lo <= o["updateTimestamp"] <= hi]
        offset, limit = int(p["offset"]), int(p["limit"])
        body = {"total": len(chosen), "count": len(chosen[offset:offset + limit]), "offset": offset,
                "limit": limit, "items": chosen[offset:offset + limit]}
        return httpx.Response(200, content=json.dumps(body, default=str).encode())

    httpx_mock.add_callback(answer, is_reusable=True)
    async with connector(window_max_records=100, page_size=50) as c:
        seen = []
        async for page in c.orders(updated_since=datetime.fromtimestamp(1_000_000, tz=timezone.utc)):
            assert len(page.records) <= 50
            seen.extend(page.records)
    assert [o.id for o in seen] == [f"O{i}" for i in range(250)]
    windows = {(r.url.params["updatedFrom"], r.url.params.get("updatedTo")) for r in httpx_mock.get_requests()
               if r.url.params.get("limit") == "50"}
    assert len(windows) >= 3
