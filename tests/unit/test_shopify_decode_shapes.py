"""Shapes the Rust decoder reads without Python per record (literal tables, C callables, unions)
and the page's pass after it: each is either taken as exactly the record :mod:`.parse` builds,
with the same types (enum members, UTC ``timezone.utc`` times, tuples), or it refuses the page."""

from __future__ import annotations

import copy
import json
from datetime import timezone
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from tests.unit.shopify_fakes import ENDPOINT, customer_node, line_node, money, order_node, page
from winback.connectors.shopify import decode, parse
from winback.connectors.shopify import documents as docs
from winback.connectors.shopify.graphql import request_body

STORE = "acme.myshopify.com"


def _orders(nodes: list[dict[str, Any]]) -> list[Any]:
    body = {"data": page("orders", nodes), "extensions": {}}
    return decode.orders_page(STORE).validate_json(json.dumps(body))["data"]["orders"]["nodes"]


def _customers(nodes: list[dict[str, Any]]) -> list[Any]:
    body = {"data": page("customers", nodes), "extensions": {}}
    return decode.customers_page(STORE).validate_json(json.dumps(body))["data"]["customers"]["nodes"]


def _same(decoded: Any, expected: Any) -> None:
    assert decoded == expected
    for name, value in expected.__dict__.items():
        got = decoded.__dict__[name]
        assert type(got) is type(value), name
        if hasattr(value, "tzinfo"):
            assert got.tzinfo is value.tzinfo is timezone.utc, name


def _shipment(created: Any, delivered: Any = None, status: Any = "SUCCESS") -> dict[str, Any]:
    return {"createdAt": created, "deliveredAt": delivered, "status": status}


ORDERS_TAKEN = {
    "financial status in lower case": order_node(1, displayFinancialStatus="paid"),
    "financial status blank": order_node(1, displayFinancialStatus=""),
    "financial status a number": order_node(1, displayFinancialStatus=5),
    "financial status absent": {k: v for k, v in order_node(1).items() if k != "displayFinancialStatus"},
    "every financial status": order_node(1, displayFinancialStatus="PARTIALLY_PAID"),
    "fulfilment status blank": order_node(1, displayFulfillmentStatus=""),
    "fulfilled without a successful shipment": order_node(
        1, displayFulfillmentStatus="FULFILLED", fulfillments=[_shipment("2026-01-02T10:00:00Z", status="CANCELLED")]
    ),
    "fulfilled, shipments in other zones": order_node(
        1,
        displayFulfillmentStatus="FULFILLED",
        fulfillments=[
            _shipment("2026-01-02T10:00:00+05:30", "2026-01-03T10:00:00-08:00"),
            _shipment("2026-01-02T04:00:00.5Z", "2026-01-03T09:00:00Z"),
        ],
    ),
    "fulfilled, a shipment without its times": order_node(
        1,
        displayFulfillmentStatus="FULFILLED",
        fulfillments=[{"status": "SUCCESS"}, _shipment("2026-01-02T10:00:00Z", "2026-01-03T10:00:00Z")],
    ),
    "fulfilled, shipments empty": order_node(1, displayFulfillmentStatus="FULFILLED", fulfillments=[]),
    "discount codes null": order_node(1, discountCodes=None),
    "discount codes blank": order_node(1, discountCodes=["", "", "B"]),
    "line items null": {**order_node(1), "lineItems": None},
    "sku null and blank": order_node(1, lines=[line_node(1, sku=None), line_node(2, sku="")]),
    "amount as an integer": order_node(1, totalPriceSet=money("12")),
    "time with a fraction and an offset": order_node(1, createdAt="2026-01-01T10:00:00.123456789-03:00"),
    # parse.parse_datetime (fromisoformat) truncates past microseconds, as the fast path does
    "shipment time with seven digits": order_node(
        1, displayFulfillmentStatus="FULFILLED", fulfillments=[_shipment("2026-01-02T10:00:00.1234567Z")]
    ),
}


@pytest.mark.parametrize("name", sorted(ORDERS_TAKEN))
def test_an_order_it_takes_is_the_record_parse_order_builds(name: str) -> None:
    node = ORDERS_TAKEN[name]
    (decoded,) = _orders([node])
    _same(decoded, parse.parse_order(copy.deepcopy(node), STORE))


ORDERS_REFUSED = {
    # parse.fulfilment reads these shipment times as "no time"; pydantic might read them as one
    "shipment time as unix seconds": order_node(
        1, displayFulfillmentStatus="FULFILLED", fulfillments=[_shipment(1767225600)]
    ),
    "shipment time without its zone": order_node(
        1, displayFulfillmentStatus="FULFILLED", fulfillments=[_shipment("2026-01-02T10:00:00")]
    ),
    "shipment on a day that does not exist": order_node(
        1, displayFulfillmentStatus="FULFILLED", fulfillments=[_shipment("2026-02-30T10:00:00Z")]
    ),
    "shipment not an object": order_node(1, displayFulfillmentStatus="FULFILLED", fulfillments=["SUCCESS"]),
    "fulfilment status a number": order_node(1, displayFulfillmentStatus=3),
    "line items without nodes": {**order_node(1), "lineItems": {"nodes": None}},
    "amount as a float-looking text with a comma": order_node(1, totalPriceSet=money("1,5")),
    "shipment time with ten digits": order_node(
        1, displayFulfillmentStatus="FULFILLED", fulfillments=[_shipment("2026-01-02T10:00:00.1234567891Z")]
    ),
    "amount with a plus sign": order_node(1, totalPriceSet=money("+1.00")),
    "amount in exponent form": order_node(1, totalPriceSet=money("1E+2")),
    "currency with a newline": order_node(1, totalPriceSet=money("1.00", "EUR\n")),
    "time with a space for the T": order_node(1, updatedAt="2026-03-01 10:00:00Z"),
    "address with every field null": order_node(1, billingAddress=dict.fromkeys(["firstName", "city"])),
}


@pytest.mark.parametrize("name", sorted(ORDERS_REFUSED))
def test_an_order_it_does_not_take_refuses_the_page(name: str) -> None:
    with pytest.raises(ValidationError):
        _orders([order_node(9), ORDERS_REFUSED[name]])


CUSTOMERS_TAKEN = {
    "account null": customer_node(1, state=None),
    "account disabled": customer_node(1, state="DISABLED"),
    "account declined": customer_node(1, state="DECLINED"),
    "blank marketing state with an unreadable time": customer_node(
        1, defaultEmailAddress={"emailAddress": "a@example.com", "marketingState": "", "marketingUpdatedAt": "soon"}
    ),
    "marketing state without a time": customer_node(
        1, defaultEmailAddress={"emailAddress": "a@example.com", "marketingState": "UNSUBSCRIBED"}
    ),
    "marketing state with an offset": customer_node(
        1,
        defaultEmailAddress={
            "emailAddress": "a@example.com",
            "marketingState": "SUBSCRIBED",
            "marketingUpdatedAt": "2025-06-01T12:00:00+02:00",
        },
    ),
    "blank email": customer_node(1, defaultEmailAddress={"emailAddress": "", "marketingState": "PENDING"}),
    "tags null": customer_node(1, tags=None),
    "orders with leading zeros": customer_node(1, numberOfOrders="0012"),
}


@pytest.mark.parametrize("name", sorted(CUSTOMERS_TAKEN))
def test_a_customer_it_takes_is_the_record_parse_customer_builds(name: str) -> None:
    node = CUSTOMERS_TAKEN[name]
    (decoded,) = _customers([node])
    _same(decoded, parse.parse_customer(copy.deepcopy(node), STORE))


CUSTOMERS_REFUSED = {
    "marketing state a number": customer_node(
        1, defaultEmailAddress={"emailAddress": "a@example.com", "marketingState": 5}
    ),
    "marketing time without its zone": customer_node(
        1,
        defaultEmailAddress={
            "emailAddress": "a@example.com",
            "marketingState": "SUBSCRIBED",
            "marketingUpdatedAt": "2025-06-01T12:00:00",
        },
    ),
    "default email not an object": customer_node(1, defaultEmailAddress="a@example.com"),
    "orders as a float": customer_node(1, numberOfOrders=3.0),
}


@pytest.mark.parametrize("name", sorted(CUSTOMERS_REFUSED))
def test_a_customer_it_does_not_take_refuses_the_page(name: str) -> None:
    with pytest.raises(ValidationError):
        _customers([customer_node(9), CUSTOMERS_REFUSED[name]])


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"first": 50, "after": None, "query": "updated_at:>='2026-01-01T00:00:00Z'"},
        {"query": "email:zoë@example.com \"quoted\" \\ back", "ids": ["gid://shopify/Order/1"], "flag": True},
    ],
)
def test_a_request_body_is_what_httpx_json_sends(variables: dict[str, Any]) -> None:
    for document in (docs.ORDERS_COUNT, docs.BULK_RUN_QUERY):
        expected = httpx.Request("POST", ENDPOINT, json={"query": document.text, "variables": variables}).content
        assert request_body(document, variables) == expected


def _bulk_group(n: int, **extra: Any) -> tuple[bytes, list[bytes]]:
    row = order_node(n, lines=[], **extra)
    del row["lineItems"]
    lines = [json.dumps({**line_node(10 * n + k), "__parentId": row["id"]}).encode() for k in range(n % 3)]
    return json.dumps(row).encode(), lines


def test_bulk_orders_are_the_records_of_their_nodes_in_order() -> None:
    groups = [_bulk_group(n) for n in range(1, 54)]
    expected = [
        parse.parse_order({**json.loads(row), "lineItems": {"nodes": [json.loads(line) for line in lines]}}, STORE)
        for row, lines in groups
    ]
    assert decode.bulk_orders(STORE, groups) == expected


def test_one_refused_order_late_in_a_bulk_page_refuses_the_page() -> None:
    groups = [_bulk_group(n) for n in range(1, 50)]
    groups.append(_bulk_group(99, billingAddress={}))
    with pytest.raises(ValidationError):
        decode.bulk_orders(STORE, groups)
