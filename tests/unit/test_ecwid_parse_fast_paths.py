"""The Ecwid parser reads the common value shapes in line (a ``str`` text, a finite ``Decimal``
amount, an ``int`` count or UNIX seconds) and hands every other shape to the general readers of
:mod:`winback.connectors.ecwid.values`: whatever a field holds, the order or customer must carry
what those readers make of it, or fail with the error they raise (the quarantine reason).

Each case puts one value of one shape (plain, padded, empty, a subclass, of the wrong type, out of
range...) into one field of a good record and compares the parsed field with the general reader's
reading of the same value.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from winback.connectors.ecwid import pages, parse, values
from winback.connectors.base import Resource
from winback.model import FinancialStatus


class _Text(str):
    pass


class _Count(int):
    pass


SHAPES: list[Any] = [
    None, "", "   ", "plain", "  padded \t", "two\nlines", " \n lead", "tail \n ", _Text(" sub "), _Text(""),
    0, 7, -3, _Count(5), _Count(0), True, False, 2**33 - 1, 2**33, -(2**31), -(2**31) - 1, 10**20,
    Decimal("1.10"), Decimal("-0.0"), Decimal("1E+1"), Decimal("NaN"), Decimal("-Infinity"), 1.5, 0.1,
    "12.50", " 3 ", "abc", [], {}, ["x"], {"code": "X"}, "2024-03-10 11:40:47 +0000", "2024-02-30 11:40:47 +0000",
]

ORDER: dict[str, Any] = {
    "id": "1X9MK", "internalId": 490000196, "createTimestamp": 1710070847, "createDate": "2024-03-10 11:40:47 +0000",
    "updateTimestamp": 1710402047, "updateDate": "2024-03-14 07:40:47 +0000", "paymentStatus": "PAID",
    "fulfillmentStatus": "DELIVERED", "total": Decimal("80.50"), "refundedAmount": Decimal("0.00"),
    "customerId": 170000179, "email": "v@example.com", "acceptMarketing": True,
    "billingPerson": {"name": "Val Mart", "firstName": "Val", "lastName": "Mart", "street": "117 Oak Avenue",
                      "companyName": "Acme", "city": "Portland", "countryCode": "US", "countryName": "United States",
                      "postalCode": "97242", "stateOrProvinceCode": "OR", "stateOrProvinceName": "Oregon",
                      "phone": "+19537135062"},
    "items": [{"id": 49000019600, "productId": 690000072, "sku": "MT-DRS-0072", "name": "Field Cotton Dress",
               "quantity": 1, "price": Decimal("80.50")}],
}

CUSTOMER: dict[str, Any] = {
    "id": 170000026, "name": "Chloe Carter", "email": "c@example.com", "registered": "2023-11-05 00:25:54 +0000",
    "updated": "2023-11-05 14:05:02 +0000", "acceptMarketing": False,
    "billingPerson": {"firstName": "Chloe", "lastName": "Carter", "city": "Vancouver", "phone": "+1604"},
    "stats": {"numberOfOrders": 1, "salesValue": Decimal("247.00")},
}


def _reading(read: Callable[[], Any]) -> str:
    try:
        value = read()
    except Exception as exc:  # the general reader's error is the expected quarantine reason
        return f"error {type(exc).__name__}: {exc}"
    return f"{type(value).__name__} {value}"


def _order_with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    raw = {**ORDER, "billingPerson": dict(ORDER["billingPerson"]), "items": [dict(ORDER["items"][0])]}
    target = raw["items"][0] if path[0] == "items" else raw["billingPerson"] if path[0] == "billingPerson" else raw
    target[path[-1]] = value
    return raw


def _text(value: Any) -> str | None:
    return values.text_or_none(value)


def _general_street(value: Any) -> tuple[str | None, str | None]:
    street = values.text_or_none(value)
    if not street:
        return None, None
    line1, line2 = (street.split("\n", 1) + [None])[:2]
    return values.text_or_none(line1), values.text_or_none(line2)


# field → (what the parsed order shows, what the general readers make of the raw order)
ORDER_FIELDS: dict[tuple[str, ...], tuple[Callable[[Any], Any], Callable[[dict[str, Any]], Any]]] = {
    ("id",): (lambda o: o.id, lambda r: parse.order_key(r)),
    ("createTimestamp",): (lambda o: o.created_at, lambda r: values.timestamp_of(r, "createTimestamp", "createDate")),
    ("updateTimestamp",): (lambda o: o.updated_at, lambda r: values.timestamp_of(r, "updateTimestamp", "updateDate")),
    ("total",): (lambda o: o.total.amount, lambda r: values.amount(r["total"], "total")),
    ("refundedAmount",): (lambda o: o.refunded and o.refunded.amount, lambda r: parse.refunded_amount(r)),
    ("paymentStatus",): (lambda o: (o.financial_status, o.is_cancelled),
                         lambda r: (parse.FINANCIAL.get(str(r["paymentStatus"] or "").upper(), FinancialStatus.UNKNOWN),
                                    str(r["paymentStatus"] or "").upper() == "CANCELLED")),
    ("fulfillmentStatus",): (lambda o: o.fulfillment_status, lambda r: str(r["fulfillmentStatus"] or "").lower() or None),
    ("customerId",): (lambda o: o.customer_id,
                      lambda r: str(r["customerId"]) if r["customerId"] not in (None, 0, "") else None),
    ("email",): (lambda o: o.email, lambda r: _text(r["email"])),
    ("items", "quantity"): (lambda o: type(o.line_items[0].quantity).__name__ + str(o.line_items[0].quantity),
                            lambda r: _count(r["items"][0]["quantity"])),
    ("items", "price"): (lambda o: o.line_items[0].unit_price and o.line_items[0].unit_price.amount,
                         lambda r: None if r["items"][0]["price"] is None
                         else values.amount(r["items"][0]["price"], "items[0].price")),
    ("items", "productId"): (lambda o: o.line_items[0].product_id,
                             lambda r: str(v) if (v := r["items"][0]["productId"]) not in (None, 0, "") else None),
    ("items", "id"): (lambda o: o.line_items[0].id, lambda r: str(v) if (v := r["items"][0]["id"]) is not None else "1X9MK-0"),
    ("items", "sku"): (lambda o: o.line_items[0].sku, lambda r: _text(r["items"][0]["sku"])),
    ("items", "name"): (lambda o: o.line_items[0].title, lambda r: _text(r["items"][0]["name"]) or ""),
    ("billingPerson", "firstName"): (lambda o: o.billing_address.first_name,
                                     lambda r: _text(r["billingPerson"]["firstName"])),
    ("billingPerson", "street"): (lambda o: (o.billing_address.address1, o.billing_address.address2),
                                  lambda r: _general_street(r["billingPerson"]["street"])),
    **{("billingPerson", key): (lambda o, f=field: getattr(o.billing_address, f),
                                lambda r, k=key: _text(r["billingPerson"][k]))
       for key, field in [("lastName", "last_name"), ("companyName", "company"), ("city", "city"),
                          ("stateOrProvinceName", "province"), ("stateOrProvinceCode", "province_code"),
                          ("countryName", "country"), ("countryCode", "country_code"), ("postalCode", "zip"),
                          ("phone", "phone")]},
}


def _general_name(value: Any) -> tuple[str | None, str | None]:
    name = values.text_or_none(value)
    if not name:
        return None, None
    head, _, tail = name.partition(" ")
    return head, tail.strip() or None


def _count(value: Any) -> str:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise values.RecordError(f"items[0].quantity is not a count: {value!r}")
    return f"int{int(value)}"


@pytest.mark.parametrize("path", list(ORDER_FIELDS), ids="/".join)
def test_every_shape_of_an_order_field_reads_as_the_general_readers_read_it(path: tuple[str, ...]) -> None:
    shown, general = ORDER_FIELDS[path]
    for value in SHAPES:
        raw = _order_with(path, value)
        if path == ("refundedAmount",):
            raw["refunds"] = None
        expected = _reading(lambda: general(raw))
        got = _reading(lambda: shown(parse.parse_order(raw, store_id="1", currency="USD")))
        assert got == expected, (path, value)


def test_the_shapes_cover_the_fast_and_the_general_paths() -> None:
    kinds = {type(v) for v in SHAPES}
    assert {str, _Text, int, _Count, bool, Decimal, float, list, dict, type(None)} <= kinds
    assert any(type(v) is int and v not in values.PLAIN_SECONDS and -(2**62) < v < 2**62 for v in SHAPES)
    assert any(type(v) is Decimal and not v.is_finite() for v in SHAPES)


@pytest.mark.parametrize("field", ["id", "email", "name", "stats.salesValue", "billingPerson.phone"])
def test_every_shape_of_a_customer_field_reads_as_the_general_readers_read_it(field: str) -> None:
    for value in SHAPES:
        raw: dict[str, Any] = {**CUSTOMER, "billingPerson": {**CUSTOMER["billingPerson"]}, "stats": {**CUSTOMER["stats"]}}
        if field == "name":
            raw["billingPerson"] = {"city": "Vancouver"}
        head, _, tail = field.partition(".")
        (raw[head] if tail else raw)[tail or head] = value
        expected = _reading({
            "id": lambda: values.id_text(raw),
            "email": lambda: _text(value),
            "name": lambda: _general_name(value),
            "stats.salesValue": lambda: None if value is None else values.amount(value, "stats.salesValue"),
            "billingPerson.phone": lambda: _text(value),
        }[field])
        got = _reading(lambda: (lambda c: {
            "id": c.id, "email": c.email, "name": (c.first_name, c.last_name),
            "stats.salesValue": c.amount_spent and c.amount_spent.amount, "billingPerson.phone": c.phone,
        }[field])(parse.parse_customer(raw, store_id="1", currency="USD")))
        assert got == expected, (field, value)


def test_an_amount_keeps_its_exact_text_through_the_fast_path() -> None:
    for text in ["1.10", "1E+1", "-0.0", "80.50", "0.00"]:
        raw = _order_with(("total",), Decimal(text))
        raw["items"][0]["price"] = Decimal(text)
        order = parse.parse_order(raw, store_id="1", currency="USD")
        assert str(order.total.amount) == text and str(order.line_items[0].unit_price.amount) == text


def test_a_page_quarantines_what_the_parser_refuses_and_keeps_the_newest_time() -> None:
    good, late = _order_with(("id",), "A1"), _order_with(("id",), "A2")
    late["updateTimestamp"] = 1710402047 + 10
    bad = _order_with(("total",), "abc")
    bad["updateTimestamp"] = 1710402047 + 20
    incomplete = {**_order_with(("id",), "A3"), "paymentStatus": "INCOMPLETE"}
    page = pages.translate(Resource.ORDERS, [good, bad, late, incomplete, "junk"], parse.parse_order,
                           pages.order_seconds, store_id="1", currency="USD", store_label="shop")
    assert [o.id for o in page.records] == ["A1", "A2"]
    assert [(r.record_id, r.reason) for r in page.rejected] == [
        ("1X9MK", "total is not a number: 'abc'"), (None, "order is not an object")]
    assert page.rejected[1].raw == {"value": "junk"}
    assert int(page.newest_updated_at.timestamp()) == 1710402047 + 20


def test_the_order_sort_key_reads_every_shape_as_sort_key_seconds() -> None:
    for value in SHAPES:
        raw = _order_with(("updateTimestamp",), value)
        assert pages.order_seconds(raw) == parse.sort_key_seconds(raw, "updateTimestamp", "updateDate"), value
        raw["updateDate"] = "not a date"
        assert pages.order_seconds(raw) == parse.sort_key_seconds(raw, "updateTimestamp", "updateDate"), value
