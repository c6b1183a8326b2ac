"""Reading deletion feeds (faked network): Ecwid's ``/{resource}/deleted`` lists and Shopify's
``destroy`` events, parsed into :class:`~winback.connectors.base.Deletion` pages oldest first."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pytest_httpx import HTTPXMock

from tests.unit.shopify_fakes import FakeShopify, page
from tests.unit.shopify_fakes import connector as shopify_connector
from winback.connectors.base import Resource
from winback.connectors.ecwid import EcwidConnector, EcwidSettings
from winback.connectors.ecwid.deleted import parse_deleted
from winback.connectors.ecwid.parse import RecordError
from winback.connectors.retry import RetryPolicy
from winback.connectors.shopify.deletions import events_search, parse_deletion_event

BASE = "https://app.ecwid.com/api/v3/1003"
UTC = timezone.utc


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 1, hour, minute, tzinfo=UTC)


async def _collect(iterator):
    return [p async for p in iterator]


# --- Ecwid -------------------------------------------------------------------------------------


def test_an_ecwid_deleted_order_names_its_public_and_internal_ids() -> None:
    ids, when = parse_deleted({"id": 76543, "orderId": "XJ12H", "date": "2026-03-01 10:00:00 +0000"}, "orders")
    assert ids == ["XJ12H", "76543"] and when == _at(10)
    assert parse_deleted({"id": 76543, "date": 1772359200}, "orders") == (["76543"], _at(10))
    assert parse_deleted({"id": 5, "date": "2026-03-01 12:00:00 +0200"}, "customers") == (["5"], _at(10))


@pytest.mark.parametrize("raw", [{"date": "2026-03-01 10:00:00 +0000"}, {"id": 5}, {"id": 5, "date": "soon"},
                                 {"id": True, "date": 1}, "5"])
def test_an_unreadable_ecwid_entry_is_a_record_error(raw) -> None:
    with pytest.raises(RecordError):
        parse_deleted(raw, "products")


async def test_ecwid_deletions_are_read_whole_then_handed_out_oldest_first(httpx_mock: HTTPXMock) -> None:
    entries = [{"id": n, "date": f"2026-03-01 {10 + (n * 7) % 5:02d}:00:00 +0000"} for n in range(1, 8)]
    entries.insert(3, {"date": "2026-03-01 09:00:00 +0000"})  # no id: skipped, counted

    def answer(request: httpx.Request) -> httpx.Response:
        params = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        offset, limit = int(params["offset"]), int(params["limit"])
        assert params["from_date"] == str(int(_at(8).timestamp()))
        chunk = entries[offset : offset + 3]  # Ecwid may page smaller than asked
        return httpx.Response(200, json={"total": len(entries), "count": len(chunk), "offset": offset,
                                         "limit": limit, "items": chunk})

    httpx_mock.add_callback(answer, url=re.compile(rf"^{BASE}/products/deleted\?"), is_reusable=True)
    settings = EcwidSettings(store_id="1003", token="secret_unit_token_123", requests_per_minute=60_000, page_size=3)
    async with EcwidConnector(settings, retry=RetryPolicy(attempts=1, base_delay=0, max_delay=0)) as connector:
        pages = await _collect(connector.deletions(Resource.PRODUCTS, _at(8)))
    found = [d for p in pages for d in p.deletions]
    assert [d.deleted_at for d in found] == sorted(d.deleted_at for d in found)
    assert sorted(d.record_id for d in found) == [str(n) for n in range(1, 8)]
    assert [len(p.deletions) for p in pages] == [3, 3, 1]
    assert [p.skipped for p in pages] == [1, 0, 0]
    assert all(p.newest_deleted_at == max(d.deleted_at for d in p.deletions) for p in pages)
    assert {d.resource for d in found} == {Resource.PRODUCTS}


# --- Shopify -----------------------------------------------------------------------------------


def test_the_shopify_events_search_names_action_subject_and_time() -> None:
    assert events_search(Resource.ORDERS, None) == "action:destroy AND subject_type:ORDER"
    assert events_search(Resource.CUSTOMERS, _at(10, 5)) == (
        "action:destroy AND subject_type:CUSTOMER AND created_at:>='2026-03-01T10:05:00Z'"
    )


def _event(n: int, subject: str = "gid://shopify/Product/7", kind: str = "PRODUCT", action: str = "destroy",
           created: str = "2026-03-01T10:00:00Z") -> dict:
    return {"id": f"gid://shopify/BasicEvent/{n}", "action": action, "createdAt": created,
            "subjectId": subject, "subjectType": kind}


def test_a_shopify_destroy_event_becomes_a_deletion_and_anything_else_does_not() -> None:
    found = parse_deletion_event(_event(1), Resource.PRODUCTS)
    assert found is not None and (found.record_id, found.deleted_at) == ("gid://shopify/Product/7", _at(10))
    assert parse_deletion_event(_event(1, subject="7"), Resource.PRODUCTS).record_id == "gid://shopify/Product/7"
    assert parse_deletion_event(_event(1, action="update"), Resource.PRODUCTS) is None
    assert parse_deletion_event(_event(1, kind="COLLECTION"), Resource.PRODUCTS) is None
    assert parse_deletion_event(_event(1, created="yesterday"), Resource.PRODUCTS) is None
    assert parse_deletion_event({"id": "x", "action": "destroy"}, Resource.PRODUCTS) is None  # a CommentEvent


async def test_shopify_deletions_page_through_destroy_events(httpx_mock) -> None:
    fake = FakeShopify(httpx_mock)
    fake.add("DeletionEvents", page("events", [_event(1, "gid://shopify/Order/1", "ORDER")], next_cursor="e1"))
    fake.add("DeletionEvents", page("events", [
        _event(2, "gid://shopify/Order/2", "ORDER", created="2026-03-01T11:00:00Z"),
        {"id": "gid://shopify/CommentEvent/3", "action": "comment", "createdAt": "2026-03-01T11:30:00Z"},
    ]))
    async with shopify_connector(page_size=50) as c:
        pages = await _collect(c.deletions(Resource.ORDERS, _at(9)))
    assert [[d.record_id for d in p.deletions] for p in pages] == [["gid://shopify/Order/1"], ["gid://shopify/Order/2"]]
    assert [p.skipped for p in pages] == [0, 1]
    assert pages[1].newest_deleted_at == _at(11)
    assert [v["after"] for _, v, _ in fake.requests] == [None, "e1"]
    assert fake.requests[0][1]["query"] == "action:destroy AND subject_type:ORDER AND created_at:>='2026-03-01T09:00:00Z'"
