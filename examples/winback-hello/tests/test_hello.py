"""The Hello Shop connector on its own: what winback relies on from any connector."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from winback_hello import SAMPLE, HelloConnector, HelloSettings

from winback.connectors.base import Connector, InviteMode, Resource
from winback.connectors.registry import clear_cache, load_connector_class
from winback.errors import (
    CustomerExistsError,
    DiscountCodeTakenError,
    NotSupportedError,
)
from winback.model import DiscountCodeSpec, DiscountKind, NewCustomer


def connector(**settings: object) -> HelloConnector:
    return HelloConnector.from_settings({"greeting_store": "Hello World Shop", **settings})


def test_registered_through_the_entry_point() -> None:
    clear_cache()
    cls = load_connector_class("hello")
    assert cls is HelloConnector and issubclass(cls, Connector)
    assert cls.settings_model is HelloSettings


async def test_store_and_capabilities() -> None:
    async with connector() as hello:
        store = await hello.store_info()
        assert (store.platform, store.store_id, store.name, store.currency) == ("hello", "hello-world-shop", "Hello World Shop", "EUR")
        assert (await hello.capabilities()).invite_mode is InviteMode.CREATE_CUSTOMER
        assert (await hello.check_access()).missing == frozenset()
    limited = connector(permissions=["read_customers"])
    assert "read_orders" in (await limited.check_access()).missing


async def test_reads_come_in_pages_oldest_first_with_rejects() -> None:
    async with connector(page_size=2) as hello:
        pages = [page async for page in hello.orders()]
    assert [len(p.records) for p in pages] == [2, 1]
    orders = [o for p in pages for o in p.records]
    assert [o.name for o in orders] == ["H-101", "H-102", "H-103"]
    assert orders[2].is_guest and orders[2].email == "guest@example.com"
    assert orders[0].total.amount == Decimal("42.00") and orders[0].line_items[0].current_quantity == 2
    rejected = [r for p in pages for r in p.rejected]
    assert len(rejected) == 1 and rejected[0].record_id == "104" and rejected[0].resource is Resource.ORDERS
    assert "total" in rejected[0].reason
    assert pages[0].newest_updated_at == orders[1].updated_at


async def test_updated_since_filters() -> None:
    since = datetime(2025, 3, 1, tzinfo=UTC)
    async with connector() as hello:
        customers = [c async for p in hello.customers(since) for c in p.records]
    assert [c.email for c in customers] == ["grace@example.com", "alan@example.com"]


async def test_data_file(tmp_path: Path) -> None:
    data = {"customers": SAMPLE["customers"][:1], "orders": [], "products": SAMPLE["products"]}
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    async with connector(data_file=str(path), page_size=10) as hello:
        assert len([c async for p in hello.customers() for c in p.records]) == 1
        assert [p async for p in hello.orders()] == []
        products = [x async for p in hello.products() for x in p.records]
    assert [p.title for p in products] == ["Hello Mug", "Hello Tote"]


async def test_writes_are_kept_in_memory() -> None:
    spec = DiscountCodeSpec(
        code="HELLO10", title="Welcome back", kind=DiscountKind.PERCENTAGE, value=Decimal(10),
        starts_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    async with connector() as hello:
        assert await hello.find_discount_code("HELLO10") is None
        created = await hello.create_discount_code(spec)
        assert (await hello.find_discount_code("hello10")) == created
        with pytest.raises(DiscountCodeTakenError):
            await hello.create_discount_code(spec)

        with pytest.raises(CustomerExistsError):
            await hello.create_customer(NewCustomer(email="ADA@example.com"))
        new = await hello.create_customer(NewCustomer(email="new@example.com", first_name="New"))
        assert (await hello.find_customer_by_email("new@example.com")) == new
        with pytest.raises(NotSupportedError):
            await hello.send_account_invite(new.id)
