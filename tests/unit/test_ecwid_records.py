"""The Ecwid connector on bodies shaped as Ecwid documents them (faked network): records without
``updated`` or ``id``, accounts for guest buyers, and what a 404 means."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from pytest_httpx import HTTPXMock

from winback import errors
from winback.connectors.base import InviteMode
from winback.connectors.ecwid import EcwidConnector, EcwidSettings
from winback.connectors.ecwid.http_errors import map_error
from winback.connectors.retry import RetryPolicy
from winback.model import ConsentState, NewCustomer

TOKEN = "secret_unit_token_123"
BASE = "https://app.ecwid.com/api/v3/1003"
PROFILE = {"generalInfo": {"storeId": 1003}, "settings": {"storeName": "Shop"}, "formatsAndUnits": {"currency": "USD"}}
# A customer as Ecwid's documentation shows one: no ``updated``, no ``acceptMarketing``.
CUSTOMER = {"id": 277137633, "email": "guest@example.com", "registered": "2024-08-21 07:52:09 +0000",
            "name": "Gia Guest", "billingPerson": {"name": "Gia Guest"}}


def connector(**overrides) -> EcwidConnector:
    settings = EcwidSettings(store_id="1003", token=TOKEN, requests_per_minute=60_000, **overrides)
    return EcwidConnector(settings, retry=RetryPolicy(attempts=2, base_delay=0, max_delay=0))


def envelope(items: list[dict]) -> dict:
    return {"total": len(items), "count": len(items), "offset": 0, "limit": 100, "items": items}


async def test_lookup_of_a_customer_without_updated(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{BASE}/profile", json=PROFILE)
    httpx_mock.add_response(method="GET", json=envelope([CUSTOMER]))
    async with connector() as c:
        found = await c.find_customer_by_email("GUEST@example.com")
    assert found is not None and found.id == "277137633"
    assert found.updated_at == found.created_at
    assert found.consent.state == ConsentState.SUBSCRIBED  # acceptMarketing left out: null, may be emailed


async def test_creating_a_customer_whose_body_has_no_updated(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{BASE}/profile", json=PROFILE)
    httpx_mock.add_response(method="POST", url=f"{BASE}/customers", json={"id": 277137633})
    httpx_mock.add_response(method="GET", url=f"{BASE}/customers/277137633", json=CUSTOMER)
    async with connector() as c:
        created = await c.create_customer(NewCustomer(email="guest@example.com", first_name="Gia"))
    assert created.id == "277137633" and created.updated_at == created.created_at


async def test_orders_without_id_are_read_by_internal_id(httpx_mock: HTTPXMock) -> None:
    orders = [
        {"internalId": 492512057, "total": Decimal("5.10"), "paymentStatus": "PAID", "email": "a@x.com",
         "createTimestamp": 100, "updateTimestamp": 110, "items": [], "acceptMarketing": None},
        {"id": "EBJFT", "internalId": 492512058, "total": Decimal("2.00"), "paymentStatus": "PAID", "email": "b@x.com",
         "createTimestamp": 100, "updateTimestamp": 120, "items": []},
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/profile"):
            return httpx.Response(200, json=PROFILE)
        offset = int(request.url.params["offset"])
        limit = int(request.url.params["limit"])
        body = {**envelope(orders[offset:offset + limit]), "total": len(orders), "offset": offset}
        return httpx.Response(200, content=json.dumps(body, default=str).encode())

    httpx_mock.add_callback(answer, is_reusable=True)
    async with connector() as c:
        pages = [page async for page in c.orders()]
    records = [o for page in pages for o in page.records]
    assert [o.id for o in records] == ["492512057", "EBJFT"]
    assert all(not page.rejected for page in pages)
    assert records[0].accepts_marketing is True


@pytest.mark.parametrize("resource", ["orders", "customers"])
async def test_an_item_that_is_not_an_object_is_quarantined(httpx_mock: HTTPXMock, resource: str) -> None:
    """A list item that is not a JSON object used to stop the sync while the window was sorted."""
    good = ({"id": "A1", "total": 5, "createTimestamp": 100, "updateTimestamp": 110, "items": []}
            if resource == "orders" else CUSTOMER)
    items = [good, "garbage", 7, None, ["x"]]
    httpx_mock.add_response(url=f"{BASE}/profile", json=PROFILE)
    httpx_mock.add_response(method="GET", json=envelope(items), is_reusable=True)
    async with connector() as c:
        pages = [page async for page in (c.orders() if resource == "orders" else c.customers())]
    assert [r.id for page in pages for r in page.records] == ["A1" if resource == "orders" else "277137633"]
    rejected = [r for page in pages for r in page.rejected]
    assert [r.raw for r in rejected] == [{"value": "garbage"}, {"value": 7}, {"value": None}, {"value": ["x"]}]
    assert {r.reason for r in rejected} == {f"{resource[:-1]} is not an object"}


async def test_products_ask_for_a_stable_order(httpx_mock: HTTPXMock) -> None:
    """Ecwid sorts products by RELEVANCE unless told: offset paging needs a fixed order."""
    httpx_mock.add_response(method="GET", json=envelope([]), is_reusable=True)
    async with connector() as c:
        assert [page async for page in c.products()] == []
    searches = [r for r in httpx_mock.get_requests() if r.url.path.endswith("/products")]
    assert searches and all(r.url.params["sortBy"] == "ADDED_TIME_ASC" for r in searches)


async def test_ecwid_needs_no_account_creation_or_invite(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="GET", json=envelope([]), is_reusable=True)  # the scope probes
    async with connector() as c:
        assert (await c.capabilities()).invite_mode is InviteMode.NOT_NEEDED
        with pytest.raises(errors.NotSupportedError, match="one-time link"):
            await c.send_account_invite("1")
    assert EcwidConnector.offline_capabilities().invite_mode is InviteMode.NOT_NEEDED


@pytest.mark.parametrize(("path", "message"), [
    ("/orders/EBJFT", "Order #EBJFT not found"),
    ("/customers/5", "Customer #5 not found"),
    ("/discount_coupons/BACK10", "Coupon is not found"),
])
def test_a_missing_record_is_not_a_missing_store(path: str, message: str) -> None:
    response = httpx.Response(404, json={"errorMessage": message},
                              request=httpx.Request("GET", f"{BASE}{path}"))
    error = map_error(response, "Ecwid store 1003")
    assert isinstance(error, errors.PlatformRejectedError)
    assert "store_id" not in str(error) and message in str(error)


def test_an_unknown_store_is_still_a_missing_store() -> None:
    response = httpx.Response(404, json={"errorMessage": "Store with id '42' is not found"},
                              request=httpx.Request("GET", "https://app.ecwid.com/api/v3/42/profile"))
    assert isinstance(map_error(response, "Ecwid store 42"), errors.StoreNotFoundError)
