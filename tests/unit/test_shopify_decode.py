"""The Rust decoder of orders pages (:mod:`winback.connectors.shopify.decode`): for every node it
takes, exactly the record :func:`parse.parse_order` builds; anything else refuses the page."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from tests.unit.shopify_fakes import customer_node, line_node, money, order_node, page
from winback.connectors.shopify import decode, parse

STORE = "acme.myshopify.com"

ADDRESS = {
    "firstName": "Ada", "lastName": "Lovelace", "company": None, "address1": "1 Analytical Way",
    "address2": None, "city": "London", "province": "England", "provinceCode": "ENG",
    "country": "United Kingdom", "countryCodeV2": "GB", "zip": "N1 7AA", "phone": "+44 20 7946 0000",
}


def _answer(nodes: list[dict[str, Any]], **top: Any) -> bytes:
    body = {"data": page("orders", nodes, next_cursor="c2"), "extensions": {"cost": {"requestedQueryCost": 3}}}
    body.update(top)
    return json.dumps(body).encode()


def _decoded(nodes: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    return decode.orders_page(STORE).validate_json(_answer(nodes, **top))


def _rich(n: int = 1) -> dict[str, Any]:
    return order_node(
        n,
        lines=[line_node(1), line_node(2, sku="", currentQuantity=0, product=None, originalUnitPriceSet=None)],
        billingAddress=ADDRESS,
        customerAcceptsMarketing=True,
        discountCodes=["WELCOME10", ""],
        displayFulfillmentStatus="FULFILLED",
        fulfillments=[
            {"createdAt": "2026-01-02T10:00:00Z", "deliveredAt": "2026-01-04T09:00:00Z", "status": "SUCCESS"},
            {"createdAt": "2026-01-03T10:00:00+02:00", "deliveredAt": "2026-01-05T09:00:00Z", "status": "SUCCESS"},
            {"createdAt": "2026-01-09T10:00:00Z", "deliveredAt": None, "status": "CANCELLED"},
        ],
        cancelledAt="2026-02-01T12:30:00.123456+01:00",
        displayFinancialStatus="PARTIALLY_REFUNDED",
        test=True,
    )


TAKEN = {
    "rich": _rich(),
    "plain": order_node(2),
    "guest without lines": order_node(3, customer=None, lines=[], email=None, name=None),
    "no lineItems": {k: v for k, v in order_node(4).items() if k != "lineItems"},
    "lower-case fulfilment status": {**_rich(12), "displayFulfillmentStatus": "fulfilled"},
    "partly fulfilled": {**_rich(5), "displayFulfillmentStatus": "PARTIALLY_FULFILLED"},
    "fulfilled, one not delivered": {**_rich(6), "fulfillments": [
        {"createdAt": "2026-01-02T10:00:00Z", "deliveredAt": None, "status": "SUCCESS"}]},
    "unknown financial status": order_node(7, displayFinancialStatus="SOMETHING_NEW"),
    "no financial status": order_node(8, displayFinancialStatus=None),
    "nulls": order_node(9, processedAt=None, discountCodes=None, fulfillments=None, displayFulfillmentStatus=None,
                        currentTotalPriceSet=None, totalRefundedSet=None, customerAcceptsMarketing=None),
    "currentQuantity null": order_node(14, lines=[line_node(1, currentQuantity=None)]),
    "no currentQuantity": order_node(10, lines=[{k: v for k, v in line_node(1).items() if k != "currentQuantity"}]),
}


@pytest.mark.parametrize("name", sorted(TAKEN))
def test_a_node_it_takes_becomes_the_record_parse_order_builds(name: str) -> None:
    node = TAKEN[name]
    decoded = _decoded([node])
    assert decoded["data"]["orders"]["nodes"] == [parse.parse_order(copy.deepcopy(node), STORE)]
    assert decoded["data"]["orders"]["nodes"][0].model_dump() == parse.parse_order(node, STORE).model_dump()


def test_the_answer_keeps_the_cursor_and_the_cost() -> None:
    decoded = _decoded([order_node(1), order_node(2)])
    assert decoded["data"]["orders"]["pageInfo"] == {"hasNextPage": True, "endCursor": "c2"}
    assert decoded["extensions"] == {"cost": {"requestedQueryCost": 3}}
    assert [o.id for o in decoded["data"]["orders"]["nodes"]] == ["gid://shopify/Order/1", "gid://shopify/Order/2"]


REFUSED = {
    # malformed: the ordinary path quarantines these with their reason
    "total missing": order_node(1, totalPriceSet=None),
    "currency not ISO": order_node(1, totalPriceSet=money("1.00", "euro")),
    "amount not a number": order_node(1, totalPriceSet=money("1,00")),
    "no id": order_node(1, id=None),
    "naive time": order_node(1, updatedAt="2026-03-01T10:00:00"),
    "line without title": order_node(1, lines=[line_node(1, title=None)]),
    # other shapes the ordinary parser converts its own way
    "id as a number": order_node(1, id=7),
    "quantity as text": order_node(1, lines=[line_node(1, quantity="2")]),
    "test null": order_node(1, test=None),
    "test as text": order_node(1, test="no"),
    "discount code as a number": order_node(1, discountCodes=[10]),
    "empty address": order_node(1, billingAddress={}),
    "address with the old country code": order_node(1, billingAddress={**ADDRESS, "countryCode": "GB"}),
    "line items cut off": order_node(1, more_lines_cursor="l2"),
    "line items as edges": order_node(1, lineItems={"edges": [{"node": line_node(1)}]}),
    "times as unix seconds": order_node(1, createdAt=1767225600, processedAt=1767225600.5),
    "amounts as JSON numbers": order_node(1, totalPriceSet={"shopMoney": {"amount": 0.1, "currencyCode": "EUR"}}),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_node_it_does_not_take_refuses_the_whole_page(name: str) -> None:
    with pytest.raises(ValidationError):
        _decoded([order_node(9), REFUSED[name]])


@pytest.mark.parametrize("top", [
    {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]},
    {"errors": [{"message": "boom"}], "data": page("orders", [order_node(1)])},
    {"data": None},
    {"data": {"orders": None}},
])
def test_an_answer_with_errors_or_without_data_is_refused(top: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _decoded([order_node(1)], **top)


def test_bulk_rows_put_together_decode_like_their_nodes() -> None:
    rows = [order_node(1, lines=[]), order_node(2, lines=[])]
    for row in rows:
        del row["lineItems"]
    lines = {1: [line_node(11), line_node(12)], 2: []}
    groups = [
        (json.dumps(row).encode(), [json.dumps({**line, "__parentId": row["id"]}).encode() for line in lines[n]])
        for n, row in zip((1, 2), rows)
    ]
    decoded = decode.bulk_orders(STORE, groups)
    expected = [parse.parse_order({**row, "lineItems": {"nodes": lines[n]}}, STORE) for n, row in zip((1, 2), rows)]
    assert decoded == expected
    assert [len(o.line_items) for o in decoded] == [2, 0]


# --- customers ---------------------------------------------------------------------------------


def _customers(nodes: list[dict[str, Any]]) -> list[Any]:
    body = {"data": page("customers", nodes), "extensions": {}}
    return decode.customers_page(STORE).validate_json(json.dumps(body))["data"]["customers"]["nodes"]


CUSTOMERS_TAKEN = {
    "plain": customer_node(1),
    "with address and phone": customer_node(2, defaultAddress=ADDRESS, defaultPhoneNumber={"phoneNumber": "+1 555"}),
    "phone from the address": customer_node(3, defaultAddress=ADDRESS, defaultPhoneNumber=None),
    "blank phone, address without one": customer_node(4, defaultAddress={**ADDRESS, "phone": ""},
                                                      defaultPhoneNumber={"phoneNumber": ""}),
    "guest without email": customer_node(5, state=None, defaultEmailAddress=None, tags=None, amountSpent=None,
                                         numberOfOrders=None, createdAt=None),
    "no marketing state": customer_node(6, defaultEmailAddress={"emailAddress": "x@example.com", "marketingState": None,
                                                                "marketingUpdatedAt": "2025-01-01T00:00:00Z"}),
    "unknown marketing state": customer_node(7, defaultEmailAddress={"emailAddress": "y@example.com",
                                                                     "marketingState": "SOMETHING_NEW",
                                                                     "marketingUpdatedAt": None}),
    "orders as a number": customer_node(8, numberOfOrders=12),
    "orders with spaces": customer_node(9, numberOfOrders=" 7"),
    "birth date": customer_node(10, birthDate={"value": "1990-05-17"}),
    "birth date unreadable": customer_node(11, birthDate={"value": "17th of May"}),
    "birth date absent": customer_node(12, birthDate=None),
    "invited": customer_node(13, state="INVITED"),
    "legacy keys null": customer_node(14, email=None, phone=None, emailMarketingConsent=None),
}


@pytest.mark.parametrize("name", sorted(CUSTOMERS_TAKEN))
def test_a_customer_it_takes_becomes_the_record_parse_customer_builds(name: str) -> None:
    node = CUSTOMERS_TAKEN[name]
    expected = parse.parse_customer(copy.deepcopy(node), STORE)
    (decoded,) = _customers([node])
    assert decoded == expected
    assert decoded.model_dump() == expected.model_dump()


CUSTOMERS_REFUSED = {
    "unknown account state": customer_node(1, state="SUSPENDED"),
    "orders not a number": customer_node(1, numberOfOrders="many"),
    "no updatedAt": customer_node(1, updatedAt=None),
    "empty address": customer_node(1, defaultAddress={}),
    "tag as a number": customer_node(1, tags=[1]),
    "legacy email key": customer_node(1, email="old@example.com"),
    "legacy phone key": customer_node(1, phone="+1 555"),
    "legacy consent": customer_node(1, emailMarketingConsent={"marketingState": "SUBSCRIBED"}),
}


@pytest.mark.parametrize("name", sorted(CUSTOMERS_REFUSED))
def test_a_customer_it_does_not_take_refuses_the_whole_page(name: str) -> None:
    with pytest.raises(ValidationError):
        _customers([customer_node(9), CUSTOMERS_REFUSED[name]])
