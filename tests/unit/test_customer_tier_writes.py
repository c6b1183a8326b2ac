"""A customer's tier on each platform (faked network): read first, write only what differs.

Shopify: a tag via ``tagsAdd``/``tagsRemove`` keeping the merchant's own tags; Ecwid: a customer
group, found by name or created once, set with ``PUT /customers/{id}``, a merchant's own group left
alone; the birth-date metafield is asked for only when configured."""

from __future__ import annotations

import json

from pytest_httpx import HTTPXMock

from tests.unit.shopify_fakes import FakeShopify, connector, page
from winback import errors
from winback.connectors.base import TierWrite
from winback.connectors.ecwid import EcwidConnector, EcwidSettings
from winback.connectors.retry import RetryPolicy

LABELS = ["VIP Silver", "VIP Gold"]
GID = "gid://shopify/Customer/7"
BASE = "https://app.ecwid.com/api/v3/1003"


def tags(*values: str) -> dict:
    return {"customer": {"id": GID, "tags": list(values)}}


async def test_shopify_adds_the_tier_and_removes_the_other_tiers_only(httpx_mock: HTTPXMock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("CustomerTags", tags("wholesale", "vip silver"))
    fake.add("TagsAdd", {"tagsAdd": {"userErrors": []}})
    fake.add("TagsRemove", {"tagsRemove": {"userErrors": []}})
    async with connector() as c:
        assert await c.set_customer_tier(GID, "VIP Gold", LABELS) is TierWrite.WRITTEN
    assert [(name, variables) for name, variables, _ in fake.requests] == [
        ("CustomerTags", {"id": GID}),
        ("TagsAdd", {"id": GID, "tags": ["VIP Gold"]}),
        ("TagsRemove", {"id": GID, "tags": ["vip silver"]}),
    ]


async def test_shopify_writes_nothing_when_the_tier_is_shown(httpx_mock: HTTPXMock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("CustomerTags", tags("VIP Gold", "wholesale"))
    fake.add("CustomerTags", tags("wholesale"))
    fake.add("CustomerTags", {"customer": None})
    async with connector() as c:
        assert await c.set_customer_tier("7", "VIP Gold", LABELS) is TierWrite.ALREADY
        assert await c.set_customer_tier(GID, None, LABELS) is TierWrite.ALREADY
        assert await c.set_customer_tier(GID, "VIP Gold", LABELS) is TierWrite.NO_CUSTOMER
    assert [name for name, _, _ in fake.requests] == ["CustomerTags"] * 3
    assert fake.requests[0][1] == {"id": GID}


async def test_shopify_user_errors_are_rejections(httpx_mock: HTTPXMock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("CustomerTags", tags())
    fake.add("TagsAdd", {"tagsAdd": {"userErrors": [{"field": ["tags"], "message": "Tags is invalid"}]}})
    async with connector() as c:
        try:
            await c.set_customer_tier(GID, "VIP Gold", LABELS)
        except errors.PlatformRejectedError as exc:
            assert "Tags is invalid" in str(exc)
        else:
            raise AssertionError("a user error must be raised")


async def test_shopify_reads_the_birth_date_metafield_only_when_configured(httpx_mock: HTTPXMock) -> None:
    fake = FakeShopify(httpx_mock)
    node = {"id": GID, "updatedAt": "2026-03-01T10:00:00Z", "tags": [], "birthDate": {"value": "1990-05-17"}}
    fake.add("CustomersPage", page("customers", [node]))
    fake.add("CustomersPage", page("customers", [{**node, "birthDate": None}]))
    async with connector(birth_date_metafield="facts.birth_date") as c:
        [first] = [p async for p in c.customers()]
    async with connector() as c:
        [second] = [p async for p in c.customers()]
    assert first.records[0].birth_date.isoformat() == "1990-05-17" and second.records[0].birth_date is None
    configured, plain = fake.requests[0][1], fake.requests[1][1]
    assert (configured["withBirthDate"], configured["birthDateNamespace"], configured["birthDateKey"]) == (
        True, "facts", "birth_date")
    assert "withBirthDate" not in plain  # the document's default (false) leaves the field out


def ecwid() -> EcwidConnector:
    settings = EcwidSettings(store_id="1003", token="secret_unit_token_123", requests_per_minute=60_000)
    return EcwidConnector(settings, retry=RetryPolicy(attempts=1, base_delay=0, max_delay=0))


def customer(group_id: int = 0, group: str = "General") -> dict:
    return {"id": 7, "email": "ann@example.com", "customerGroupId": group_id, "customerGroupName": group}


def groups(*items: tuple[int, str]) -> dict:
    listed = [{"id": gid, "name": name} for gid, name in items]
    return {"total": len(listed), "count": len(listed), "offset": 0, "limit": 100, "items": listed}


async def test_ecwid_creates_the_tier_group_once_and_moves_the_customer(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{BASE}/customers/7", json=customer())
    httpx_mock.add_response(url=f"{BASE}/customer_groups?keyword=VIP+Gold&offset=0&limit=100", json=groups((0, "General")))
    httpx_mock.add_response(url=f"{BASE}/customer_groups", method="POST", json={"id": 9367001})
    httpx_mock.add_response(url=f"{BASE}/customers/7", method="PUT", json={"updateCount": 1})
    httpx_mock.add_response(url=f"{BASE}/customers/8", json={**customer(), "id": 8})
    httpx_mock.add_response(url=f"{BASE}/customers/8", method="PUT", json={"updateCount": 1})
    async with ecwid() as c:
        assert await c.set_customer_tier("7", "VIP Gold", LABELS) is TierWrite.WRITTEN
        assert await c.set_customer_tier("8", "VIP Gold", LABELS) is TierWrite.WRITTEN  # the group id is kept
    posts = [r for r in httpx_mock.get_requests() if r.method in ("POST", "PUT")]
    assert [(r.method, r.url.path, json.loads(r.content)) for r in posts] == [
        ("POST", "/api/v3/1003/customer_groups", {"name": "VIP Gold"}),
        ("PUT", "/api/v3/1003/customers/7", {"customerGroupId": 9367001}),
        ("PUT", "/api/v3/1003/customers/8", {"customerGroupId": 9367001}),
    ]


async def test_ecwid_leaves_a_shown_tier_and_a_merchants_group_alone(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{BASE}/customers/7", json=customer(9367001, "VIP Gold"))
    httpx_mock.add_response(url=f"{BASE}/customers/8", json=customer(42, "Wholesale"))
    httpx_mock.add_response(url=f"{BASE}/customers/9", status_code=404, json={"errorMessage": "Customer #9 not found"})
    httpx_mock.add_response(url=f"{BASE}/customers/10", json=customer(9367001, "VIP Gold"))
    httpx_mock.add_response(url=f"{BASE}/customers/10", method="PUT", json={"updateCount": 1})
    async with ecwid() as c:
        assert await c.set_customer_tier("7", "VIP Gold", LABELS) is TierWrite.ALREADY
        assert await c.set_customer_tier("8", "VIP Gold", LABELS) is TierWrite.KEPT
        assert await c.set_customer_tier("9", "VIP Gold", LABELS) is TierWrite.NO_CUSTOMER
        assert await c.set_customer_tier("10", None, LABELS) is TierWrite.WRITTEN  # back to General
    [put] = [r for r in httpx_mock.get_requests() if r.method == "PUT"]
    assert json.loads(put.content) == {"customerGroupId": 0}


async def test_ecwid_a_refused_update_is_remembered_as_a_missing_scope(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{BASE}/customers/7", json=customer())
    httpx_mock.add_response(url=f"{BASE}/customer_groups?keyword=VIP+Gold&offset=0&limit=100",
                            json=groups((0, "General"), (5, "VIP Gold")))
    httpx_mock.add_response(url=f"{BASE}/customers/7", method="PUT", status_code=403,
                            json={"errorMessage": "Access token doesn't have update_customers scope"})
    async with ecwid() as c:
        try:
            await c.set_customer_tier("7", "VIP Gold", LABELS)
        except errors.MissingScopeError:
            pass
        else:
            raise AssertionError("a 403 must be a missing scope")
        assert "update_customers" in c.access.refused
