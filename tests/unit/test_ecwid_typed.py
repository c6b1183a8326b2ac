"""Typed decoding of Ecwid order and customer pages (:mod:`winback.connectors.ecwid.typed`) gives
the same pages as decoding them into dicts and parsing those by hand.

Each page is read both ways, as the connector reads it (sorted, then :func:`pages.translate`):
records, rejected records (reason, id, raw record) and the cursor must be equal. Pages come from
the emulator's store as it writes them (exact amounts), and from records made malformed or odd
in the ways the hand-checked parser reads differently.
"""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from typing import Any

import pytest

from winback.connectors.base import Page, Resource
from winback.connectors.ecwid import fields as wanted
from winback.connectors.ecwid import pages, parse, typed
from winback.connectors.ecwid.reader import _plain_id
from winback.emulator.ecwid import EcwidEmulator
from winback.emulator.ecwid import fields as selection
from winback.emulator.ecwid import render
from winback.emulator.ecwid.sample import tiny_world

STORE = {"store_id": "1003", "currency": "USD", "store_label": "store 1003"}


@pytest.fixture(scope="module")
def emulator() -> EcwidEmulator:
    return EcwidEmulator(tiny_world(seed=11, customers=80, orders=500))


def _body(records: list[Any], spec: str) -> bytes:
    """A search page as the emulator answers it, narrowed to the fields the connector asks for."""
    page = {"total": len(records), "count": len(records), "offset": 0, "limit": 100, "items": records}
    return render.dumps(selection.select(page, selection.parse(spec)))


def _orders(content: bytes, decode: Any) -> Page[Any]:
    raws = sorted(decode(content)["items"], key=lambda r: (pages.order_seconds(r), str(pages.order_key(r) or "")))
    fast = typed.order if decode is typed.decode_orders else None
    return pages.translate(Resource.ORDERS, raws, parse.parse_order, pages.order_seconds, fast=fast, **STORE)


def _customers(content: bytes, decode: Any) -> Page[Any]:
    raws = sorted(decode(content)["items"], key=lambda r: (pages.customer_seconds(r), str(_plain_id(r) or "")))
    fast = typed.customer if decode is typed.decode_customers else None
    parser = functools.partial(parse.parse_customer, birth_date_field=None)
    return pages.translate(Resource.CUSTOMERS, raws, parser, pages.customer_seconds, fast=fast, **STORE)


def _same(read: Any, content: bytes) -> Page[Any]:
    expected, got = read(content, parse.decode_json), read(content, getattr(typed, f"decode_{read.__name__[1:]}"))
    assert got.records == expected.records
    assert [(r.record_id, r.reason, r.raw) for r in got.rejected] == [
        (r.record_id, r.reason, r.raw) for r in expected.rejected]
    assert got.newest_updated_at == expected.newest_updated_at
    return got


def test_emulator_pages_read_the_same_typed(emulator: EcwidEmulator) -> None:
    orders = [r.body for r in emulator.state.orders.values()]
    assert any(o.get("refunds") for o in orders) and any(o.get("paymentStatus") == "CANCELLED" for o in orders)
    coupon = {"id": 5, "name": "Back", "code": "BACK-10", "discountType": "PERCENT", "discount": 10}
    orders += [{**o, "discountCoupon": coupon, "paymentStatus": "INCOMPLETE" if n % 2 else "PAID"}
               for n, o in enumerate(orders[:20])]
    for start in range(0, len(orders), 100):
        content = _body(orders[start:start + 100], wanted.ORDERS)
        assert all(type(r) is typed.OrderRecord for r in typed.decode_orders(content)["items"])
        page = _same(_orders, content)
        assert page.records and not page.rejected
    customers = [r.body for r in emulator.state.customers.values()]
    for start in range(0, len(customers), 100):
        content = _body(customers[start:start + 100], wanted.CUSTOMERS)
        assert all(type(r) is typed.CustomerRecord for r in typed.decode_customers(content)["items"])
        assert _same(_customers, content).records


def _order(**changes: Any) -> dict[str, Any]:
    order = {
        "id": "EBJFT", "internalId": 7, "createTimestamp": 1700000000, "createDate": "2023-11-14 22:13:20 +0000",
        "updateTimestamp": 1700000100, "updateDate": "2023-11-14 22:15:00 +0000", "paymentStatus": "PAID",
        "fulfillmentStatus": "SHIPPED", "total": Decimal("20.50"), "refundedAmount": 0, "customerId": 5,
        "email": " Ann@Example.com ", "acceptMarketing": None,
        "billingPerson": {"name": "Ann Lee", "street": "1 Main St\nFlat 2", "countryCode": "US", "phone": "555"},
        "items": [{"id": 1, "productId": 9, "sku": "S", "name": " Mug ", "quantity": 2, "price": Decimal("10.25")},
                  {"productId": 0, "quantity": 0, "price": 3}],
    }
    return {k: v for k, v in {**order, **changes}.items() if v is not ...}


ODD_ORDERS = [
    {"total": "20.50"}, {"total": " 7 "}, {"total": "NaN"}, {"total": True}, {"total": ...}, {"total": None},
    {"refundedAmount": "1.5"}, {"refundedAmount": "x"}, {"refunds": [{"amount": Decimal("-3.10")}]},
    {"refunds": [{"amount": "2"}, {"amount": 1}]}, {"refunds": "none"}, {"refunds": [5]},
    {"refunds": [{"amount": Decimal("25")}], "paymentStatus": "REFUNDED"}, {"paymentStatus": "CANCELLED"},
    {"paymentStatus": "incomplete"}, {"paymentStatus": None}, {"paymentStatus": 3}, {"fulfillmentStatus": None},
    {"id": ""}, {"id": ...}, {"id": 12}, {"id": None, "internalId": 55}, {"createTimestamp": ...},
    {"createTimestamp": 2**40}, {"updateTimestamp": "1700000000"}, {"updateTimestamp": Decimal("1.5")},
    {"updateTimestamp": True}, {"customerId": 0}, {"customerId": ""}, {"customerId": "77"}, {"customerId": True},
    {"email": 5}, {"email": "  "}, {"acceptMarketing": False}, {"acceptMarketing": "no"},
    {"billingPerson": {}}, {"billingPerson": {"other": 1}}, {"billingPerson": {"firstName": None}},
    {"billingPerson": "x"}, {"billingPerson": None}, {"billingPerson": {"city": 5}},
    {"billingPerson": {"firstName": " ", "lastName": "", "name": " Bo  Di "}},
    {"items": []}, {"items": None}, {"items": "x"}, {"items": [{"quantity": -1}]}, {"items": [{"quantity": "2"}]},
    {"items": [{"quantity": True}]}, {"items": [{"quantity": 1, "price": "4.5"}]}, {"items": [5]},
    {"items": [{"quantity": 1, "price": "abc"}]}, {"items": [{"quantity": 1, "id": Decimal("1.5")}]},
    {"items": [{"quantity": 1, "name": 5, "sku": ""}]}, {"discountCoupon": {"code": "BACK-10"}},
    {"discountCoupon": {"code": 12}}, {"discountCoupon": "x"},
]


@pytest.mark.parametrize("changes", ODD_ORDERS, ids=[json.dumps(c, default=str) for c in ODD_ORDERS])
def test_an_odd_order_reads_as_by_hand_and_its_page_goes_on(changes: dict[str, Any]) -> None:
    content = render.dumps({"total": 3, "items": [_order(id="A1"), _order(**changes), _order(id="Z9")]})
    page = _same(_orders, content)
    assert {"A1", "Z9"} <= {r.id for r in page.records}


ODD_CUSTOMERS = [
    {"id": "c7"}, {"id": ""}, {"id": True}, {"id": ...}, {"registered": True}, {"registered": "soon"},
    {"registered": 1700000000}, {"registered": ""}, {"updated": None}, {"updated": ..., "registered": ...},
    {"updated": "2023-11-14T22:13:20Z"}, {"stats": None}, {"stats": {"salesValue": "9.5"}},
    {"stats": {"salesValue": "x"}}, {"stats": {"numberOfOrders": True}}, {"stats": []}, {"totalOrderCount": 3},
    {"billingPerson": {}}, {"billingPerson": None}, {"billingPerson": 4}, {"billingPerson": {"phone": " 1 "}},
    {"name": 7, "billingPerson": {"firstName": ""}}, {"acceptMarketing": False}, {"email": None},
]


def _customer(**changes: Any) -> dict[str, Any]:
    customer = {
        "id": 5, "name": "Ann Lee", "email": "ann@example.com", "registered": "2023-11-14 22:13:20 +0400",
        "updated": "2023-11-15 01:00:00 -0100", "acceptMarketing": True,
        "billingPerson": {"firstName": "Ann", "lastName": "Lee", "companyName": "ACME", "postalCode": "10001"},
        "stats": {"numberOfOrders": 2, "salesValue": Decimal("41.00")}, "totalOrderCount": 2,
    }
    return {k: v for k, v in {**customer, **changes}.items() if v is not ...}


@pytest.mark.parametrize("changes", ODD_CUSTOMERS, ids=[json.dumps(c, default=str) for c in ODD_CUSTOMERS])
def test_an_odd_customer_reads_as_by_hand_and_its_page_goes_on(changes: dict[str, Any]) -> None:
    content = render.dumps({"total": 3, "items": [_customer(id=1), _customer(**changes), _customer(id=9)]})
    page = _same(_customers, content)
    assert {"1", "9"} <= {r.id for r in page.records}


@pytest.mark.parametrize("content", [
    b'{"total": 1, "items": [{"id": "A", "total": NaN}]}', b'{"total": 1}', b'{"total": true, "items": []}',
    b'{"items": [1, "x", null, []], "total": 4}', b'[]', b'{"total": 1, "items": [',
])
def test_a_body_typed_decoding_refuses_decodes_as_before(content: bytes) -> None:
    for decode in (typed.decode_orders, typed.decode_customers):
        try:
            expected: Any = parse.decode_json(content)
        except ValueError as exc:
            with pytest.raises(type(exc)):
                decode(content)
        else:
            assert decode(content) == expected


def test_a_record_left_to_the_hand_parser_is_its_own_raw_record() -> None:
    content = render.dumps({"total": 2, "items": [_order(id="A1", extra=1), _order(id="B2", total="2.5", x=[1])]})
    records = typed.decode_orders(content)["items"]
    assert [r.source() for r in records] == parse.decode_json(content)["items"]
    assert typed.order(records[1], store_id="1", currency="USD") is None
