"""What :mod:`winback.connectors.shopify.decode_orders` keeps between batches (times and amounts made
once) never changes a record, and a bulk row's keys are read without decoding the rest."""

from __future__ import annotations

import json
from datetime import timezone
from typing import Any

import pytest

from tests.unit.shopify_fakes import line_node, money, order_node, page
from winback.connectors.shopify import decode, decode_orders, parse

STORE = "acme.myshopify.com"


def _answer(nodes: list[dict[str, Any]]) -> bytes:
    return json.dumps({"data": page("orders", nodes), "extensions": {}}).encode()


def _varied(n: int) -> dict[str, Any]:
    """An order whose times and amounts differ from its neighbours' (and repeat inside it)."""
    day = f"2026-01-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z"
    return order_node(
        n,
        updated=day,
        createdAt=day,
        totalPriceSet=money(f"{n}.{n % 100:02d}", "EUR" if n % 2 else "USD"),
        currentTotalPriceSet=money(f"{n}.{n % 100:02d}", "EUR" if n % 2 else "USD"),
        lines=[line_node(n, originalUnitPriceSet=money(f"{n % 7}.50"))],
    )


def _address(n: int) -> dict[str, Any]:
    return {"firstName": f"Ann{n}", "lastName": "Lee", "company": None, "address1": f"{n} Main St", "address2": None,
            "city": "Austin", "province": "Texas", "provinceCode": "TX", "country": "United States",
            "countryCodeV2": "US", "zip": "78745", "phone": None}


def test_records_are_the_same_when_the_kept_values_are_emptied_midway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode_orders, "_KEPT", 3)
    monkeypatch.setattr(decode_orders, "_ADDRESSES_KEPT", 3)
    monkeypatch.setattr(decode_orders, "_times", {})
    monkeypatch.setattr(decode_orders, "_money", {})
    monkeypatch.setattr(decode_orders, "_addresses", {})
    nodes = [_varied(n) for n in range(1, 40)]
    for n, node in enumerate(nodes):
        node["billingAddress"] = _address(n % 5)  # five addresses, repeating: found, forgotten, made again
    orders, _, _ = decode_orders.orders_answer(_answer(nodes), STORE)
    assert orders == [parse.parse_order(node, STORE) for node in nodes]
    assert len(decode_orders._times) <= 3 and len(decode_orders._money) <= 3 and len(decode_orders._addresses) <= 3


def test_equal_addresses_share_one_frozen_instance() -> None:
    """So the store writes an address's JSON once for a buyer's orders (rows.address_text
    remembers texts by instance)."""
    nodes = [order_node(1), order_node(2), order_node(3)]
    nodes[0]["billingAddress"] = nodes[1]["billingAddress"] = _address(7)
    nodes[2]["billingAddress"] = _address(8)
    first, second, third = decode_orders.orders_answer(_answer(nodes), STORE)[0]
    assert first.billing_address is second.billing_address
    assert first.billing_address == parse.parse_order(nodes[0], STORE).billing_address
    assert third.billing_address is not first.billing_address
    assert third.billing_address == parse.parse_order(nodes[2], STORE).billing_address


def test_equal_amounts_share_one_frozen_money_and_times_are_utc() -> None:
    nodes = [order_node(1), order_node(2)]
    first, second = decode_orders.orders_answer(_answer(nodes), STORE)[0]
    assert first.total is second.total
    assert first.total == parse.parse_order(nodes[0], STORE).total
    assert first.updated_at.tzinfo is timezone.utc
    with pytest.raises(Exception):
        first.total.amount = 0  # type: ignore[misc]


def test_a_time_in_another_zone_is_kept_as_its_utc_instant() -> None:
    node = order_node(1, createdAt="2026-01-01T02:00:00+02:00")
    (order,), _, _ = decode_orders.orders_answer(_answer([node]), STORE)
    assert order.created_at == parse.parse_order(node, STORE).created_at
    assert order.created_at.isoformat() == "2026-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    "text", ["2026-02-30T10:00:00Z", "2026-01-01T10:00:00", "1767225600", "0001-01-01T00:00:00+01:00"]
)
def test_a_time_fromisoformat_or_the_usual_form_refuses_refuses_the_batch(text: str) -> None:
    with pytest.raises(decode_orders.Refused):
        decode_orders.orders_answer(_answer([order_node(1, updatedAt=text)]), STORE)


def test_a_bulk_row_gives_its_id_and_parent_only() -> None:
    keys = decode.row_keys(b'{"id":"gid://shopify/LineItem/1","title":"x","__parentId":"gid://shopify/Order/1"}')
    assert keys is not None and (keys.id, keys.parent) == ("gid://shopify/LineItem/1", "gid://shopify/Order/1")
    order = decode.row_keys(b'{"id":"gid://shopify/Order/1","name":"#1"}')
    assert order is not None and (order.id, order.parent) == ("gid://shopify/Order/1", None)


@pytest.mark.parametrize("line", [b'{"id":"gid://shopify/Order/1","na', b"[1, 2]", b"17", b""])
def test_a_bulk_row_that_is_not_one_whole_object_has_no_keys(line: bytes) -> None:
    assert decode.row_keys(line) is None


@pytest.mark.parametrize("body", [b'{"data": {"orders": {"nodes": [{"id": "gid://shopify/Or', b"not json", b""])
def test_an_answer_cut_off_or_not_json_is_refused_not_raised(body: bytes) -> None:
    from pydantic import ValidationError

    for decoder in (decode.orders_page(STORE), decode.customers_page(STORE), decode.orders_list(STORE)):
        with pytest.raises(ValidationError):
            decoder.validate_json(body)
