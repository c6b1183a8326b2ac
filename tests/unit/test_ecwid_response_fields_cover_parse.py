"""The fields the Ecwid connector asks for (``responseFields``) are all its parser reads.

Every order and customer of the emulator's store (with birthdays, refunds, coupons, guests and
accounts) is parsed twice, whole and narrowed to :mod:`winback.connectors.ecwid.fields` the way
the emulator (and Ecwid) narrows an answer; the two must be equal, as must the sort keys the
windowed reader takes from a raw record.
"""

from __future__ import annotations

import json

import pytest

from winback.connectors.ecwid import fields as wanted
from winback.connectors.ecwid import parse
from winback.emulator.ecwid import EcwidEmulator
from winback.emulator.ecwid import fields as selection
from winback.emulator.ecwid.sample import tiny_world


@pytest.fixture(scope="module")
def emulator() -> EcwidEmulator:
    return EcwidEmulator(tiny_world(seed=7, customers=60, orders=400), birthday_field="birthday")


def _narrowed(raw: dict, spec: str) -> dict:
    page = json.loads(json.dumps({"total": 1, "count": 1, "offset": 0, "limit": 100, "items": [raw]}, default=str))
    narrow = selection.select(page, selection.parse(spec))
    assert set(narrow) == {"total", "count", "offset", "limit", "items"}
    return narrow["items"][0]


def _whole(raw: dict) -> dict:
    return json.loads(json.dumps(raw, default=str))


def test_orders_parse_the_same_whole_and_narrowed(emulator: EcwidEmulator) -> None:
    bodies = [r.body for r in emulator.state.orders.values()]
    assert len(bodies) >= 300
    assert any(b.get("refunds") or b.get("refundedAmount") for b in bodies)
    coupon = {"id": 5, "name": "Back", "code": "BACK-10", "discountType": "PERCENT", "discount": 10, "status": "ACTIVE"}
    bodies += [{**b, "discountCoupon": coupon} for b in bodies[:20]]
    for body in bodies:
        whole, narrow = _whole(body), _narrowed(body, wanted.ORDERS)
        assert len(json.dumps(narrow)) < len(json.dumps(whole))
        assert parse.is_real_order(narrow) == parse.is_real_order(whole)
        assert parse.sort_key_seconds(narrow, "updateTimestamp", "updateDate") == parse.sort_key_seconds(
            whole, "updateTimestamp", "updateDate"
        )
        if parse.is_real_order(whole):
            expected = parse.parse_order(whole, store_id="1003", currency="USD")
            assert parse.parse_order(narrow, store_id="1003", currency="USD") == expected


def test_customers_parse_the_same_whole_and_narrowed(emulator: EcwidEmulator) -> None:
    bodies = [r.body for r in emulator.state.customers.values()]
    assert any(parse.extra_field(b, "birthday") for b in bodies)
    for body in bodies:
        whole, narrow = _whole(body), _narrowed(body, wanted.CUSTOMERS)
        expected = parse.parse_customer(whole, store_id="1003", currency="USD", birth_date_field="birthday")
        assert parse.parse_customer(narrow, store_id="1003", currency="USD", birth_date_field="birthday") == expected
        assert parse.customer_updated(narrow) == parse.customer_updated(whole)
