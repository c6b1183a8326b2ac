"""The Ecwid emulator's kept search results answer exactly as filtering and sorting every request.

The reference below is the plain implementation (filter the whole table, sort, slice) the kept
results replaced; every query is asked twice (the second answer comes from what was kept), and
again after the store changes, so a stale result would show.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from winback.emulator.ecwid import ALL_SCOPES, EcwidEmulator, reads, render
from winback.emulator.ecwid.protocol import filter_dates, page
from winback.emulator.ecwid.sample import tiny_world
from winback.emulator.ecwid.state import EcwidState, Record
from winback.emulator.server import Request


def _request(**params: Any) -> Request:
    return Request("GET", "/x", {k: [str(v)] for k, v in params.items()}, {}, b"")


def _reference_orders(state: EcwidState, request: Request) -> dict[str, Any]:
    records = filter_dates(list(state.orders.values()), request, dates=True)
    if not request.param("paymentStatus"):
        records = [r for r in records if r.body.get("paymentStatus") != "INCOMPLETE"]
    if email := request.param("email"):
        records = [r for r in records if str(r.body.get("email", "")).casefold() == email.casefold()]
    for name in ("paymentStatus", "fulfillmentStatus"):
        if value := request.param(name):
            allowed = {v.strip().upper() for v in value.split(",")}
            records = [r for r in records if str(r.body.get(name)) in allowed]
    records.sort(key=lambda r: (r.created, r.body.get("internalId", 0)), reverse=True)
    return page(records, request)


def _sorted_page(records: list[Record], request: Request, key: Any, reverse: bool, default_limit: int = 100) -> dict[str, Any]:
    records = sorted(records, key=lambda r: (key(r), r.body.get("id", 0)), reverse=reverse)
    return page(records, request, default_limit=default_limit)


def _answer(response: Any) -> Any:
    return json.loads(response.body)


def _wire(payload: dict[str, Any]) -> Any:
    return json.loads(render.dumps(payload))


@pytest.fixture
def app() -> EcwidEmulator:
    return EcwidEmulator(tiny_world(customers=60, orders=400), scopes=ALL_SCOPES)


def _order_queries(state: EcwidState) -> list[dict[str, Any]]:
    stamps = sorted(r.updated for r in state.orders.values())
    created = sorted(r.created for r in state.orders.values())
    low, mid, high = stamps[len(stamps) // 5], stamps[len(stamps) // 2], stamps[-len(stamps) // 5]
    email = next(iter(state.orders.values())).body["email"]
    queries: list[dict[str, Any]] = [
        {}, {"offset": 37, "limit": 20}, {"limit": 1}, {"offset": 3, "limit": 2}, {"offset": 10_000},
        {"updatedFrom": low, "updatedTo": high}, {"updatedFrom": mid, "limit": 1},
        {"updatedFrom": low, "updatedTo": mid, "offset": 50}, {"updatedTo": stamps[0]},
        {"createdFrom": created[len(created) // 3], "updatedFrom": low, "offset": 5},
        {"email": email.upper()}, {"paymentStatus": "PAID,INCOMPLETE", "limit": 50},
        {"fulfillmentStatus": "SHIPPED", "updatedFrom": low}, {"limit": 0},
    ]
    return queries


@pytest.mark.parametrize("probe_threshold", [2_000, 0])
def test_orders_match_filtering_every_request(app: EcwidEmulator, probe_threshold: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reads, "PROBE_MIN_RECORDS", probe_threshold)
    state = app.state

    def check() -> None:
        for params in _order_queries(state):
            request = _request(**params)
            expected = _reference_orders(state, request)
            assert _answer(reads.search_orders(state, request)) == _wire(expected), params
            assert _answer(reads.search_orders(state, request)) == _wire(expected), params

    check()
    state.touch_orders(0.1, seed=3)
    check()
    state.add_abandoned_checkout("left@example.com")
    state.delete_record("orders", next(iter(state.orders)))
    check()


def test_customers_and_products_match_filtering_every_request(app: EcwidEmulator) -> None:
    state = app.state
    stamps = sorted(r.updated for r in state.customers.values())
    for sort in ("NAME_ASC", "UPDATED_DATE_ASC", "SALES_VALUE_DESC", "LAST_ORDER_DATE_DESC"):
        for params in ({}, {"offset": 7, "limit": 15}, {"updatedFrom": stamps[len(stamps) // 2], "limit": 100},
                       {"acceptMarketing": "true", "limit": 100}):
            request = _request(sortBy=sort, **params)
            key, reverse = reads._CUSTOMER_SORTS[sort]
            records = filter_dates(list(state.customers.values()), request)
            if "acceptMarketing" in params:
                records = [r for r in records if r.body.get("acceptMarketing") is True]
            expected = {**_sorted_page(records, request, key, reverse, default_limit=10),
                        "allCustomerCount": len(state.customers)}
            for _ in range(2):
                assert _answer(reads.search_customers(state, request)) == _wire(expected)
    state.add_customer({"email": "new@example.com", "billingPerson": {"name": "Aaron New"}})
    request = _request(sortBy="NAME_ASC", limit=100)
    assert "new@example.com" in [c["email"] for c in _answer(reads.search_customers(state, request))["items"]]

    for sort in ("ADDED_TIME_ASC", "PRICE_DESC", "NAME_ASC"):
        request = _request(sortBy=sort, offset=2, limit=5)
        key, reverse = reads._PRODUCT_SORTS[sort]
        expected = _sorted_page(list(state.products.values()), request, key, reverse)
        for _ in range(2):
            assert _answer(reads.search_products(state, request)) == _wire(expected)
