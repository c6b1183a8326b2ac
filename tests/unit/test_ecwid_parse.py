"""Translation of Ecwid payloads into the common model."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from winback.connectors.ecwid import EcwidSettings
from winback.connectors.ecwid import parse
from winback.model import AccountState, ConsentState, FinancialStatus, ProductStatus

ORDER_JSON = b"""{
  "id": "EBJFT", "internalId": 492512057, "orderNumber": 492512057,
  "email": "guest@example.com", "paymentStatus": "PAID", "fulfillmentStatus": "SHIPPED",
  "subtotal": 0.3, "total": 0.3, "refundedAmount": 0,
  "createDate": "2024-05-01 05:26:28 +0000", "updateDate": "2024-05-01 05:26:29 +0000",
  "createTimestamp": 1714541188, "updateTimestamp": 1714541189, "acceptMarketing": true,
  "items": [
    {"id": 1, "productId": 10, "sku": "A", "name": "Pen", "quantity": 1, "price": 0.1},
    {"id": 2, "productId": 11, "sku": "B", "name": "Ink", "quantity": 2, "price": 0.1}
  ],
  "billingPerson": {"name": "Ann Lee", "street": "1 Main St\\nApt 2", "city": "Springfield",
                    "countryCode": "US", "postalCode": "62701", "phone": "+1555"}
}"""


def order(**changes):
    raw = parse.decode_json(ORDER_JSON)
    raw.update(changes)
    return raw


def test_guest_order_and_money_exactness() -> None:
    o = parse.parse_order(order(), store_id="1003", currency="EUR")
    assert o.is_guest and o.customer_id is None and o.email == "guest@example.com"
    assert o.id == "EBJFT" and o.name == "#EBJFT"
    assert o.total.amount == Decimal("0.3") and o.total.currency == "EUR"
    assert sum(li.unit_price.amount * li.quantity for li in o.line_items) == Decimal("0.3")
    assert o.financial_status == FinancialStatus.PAID and o.counts_as_purchase
    assert o.updated_at == datetime(2024, 5, 1, 5, 26, 29, tzinfo=timezone.utc)
    assert o.billing_address.first_name == "Ann" and o.billing_address.address2 == "Apt 2"
    assert o.accepts_marketing is True and o.test is False


def test_registered_order_keeps_customer_id() -> None:
    o = parse.parse_order(order(customerId=177737165), store_id="1003", currency="EUR")
    assert o.customer_id == "177737165" and not o.is_guest


@pytest.mark.parametrize(
    ("status", "financial", "cancelled", "purchase"),
    [
        ("AWAITING_PAYMENT", FinancialStatus.PENDING, False, True),
        ("CANCELLED", FinancialStatus.VOIDED, True, False),
        ("REFUNDED", FinancialStatus.REFUNDED, False, False),
        ("PARTIALLY_REFUNDED", FinancialStatus.PARTIALLY_REFUNDED, False, True),
        ("CUSTOM_PAYMENT_STATUS_1", FinancialStatus.UNKNOWN, False, True),
    ],
)
def test_payment_status_mapping(status, financial, cancelled, purchase) -> None:
    o = parse.parse_order(order(paymentStatus=status, refundedAmount=Decimal("0.1")), store_id="1", currency="USD")
    assert o.financial_status == financial
    assert o.is_cancelled is cancelled
    assert o.counts_as_purchase is purchase
    if cancelled:
        assert o.cancelled_at == o.updated_at
    assert o.current_total.amount == Decimal("0.2")


def test_fully_refunded_order_counts_no_quantities() -> None:
    o = parse.parse_order(order(paymentStatus="REFUNDED", refundedAmount=Decimal("0.3")), store_id="1", currency="USD")
    assert [li.current_quantity for li in o.line_items] == [0, 0]
    assert [li.quantity for li in o.line_items] == [1, 2]


def test_incomplete_orders_are_not_real() -> None:
    assert not parse.is_real_order(order(paymentStatus="INCOMPLETE"))
    assert parse.is_real_order(order())


@pytest.mark.parametrize(
    ("change", "field"),
    [({"total": "12,5.x"}, "total"), ({"id": None, "internalId": None}, "id"),
     ({"updateTimestamp": None, "updateDate": "soon"}, "updateDate"),
     ({"refunds": [{"amount": "lots"}]}, "refunds"),
     ({"items": [{"id": 1, "quantity": "two", "price": 1}]}, "quantity")],
)
def test_malformed_orders_raise_record_error(change, field) -> None:
    with pytest.raises(parse.RecordError, match=field):
        parse.parse_order(order(**change), store_id="1", currency="USD")


CUSTOMER = {
    "id": 277137633, "name": "Ecwid test acc", "email": "ecwid.test@example.com",
    "registered": "2024-08-21 07:52:09 +0000", "updated": "2024-08-22 07:52:09 +0400",
    "billingPerson": {"name": "Ecwid Test", "firstName": "Ecwid", "lastName": "Test", "phone": "000"},
    "stats": {"numberOfOrders": 1, "salesValue": Decimal("97.10")},
}


@pytest.mark.parametrize(
    ("accept", "state"),
    [(True, ConsentState.SUBSCRIBED), (False, ConsentState.NOT_SUBSCRIBED), (None, ConsentState.SUBSCRIBED),
     ("absent", ConsentState.SUBSCRIBED)],
)
def test_customer_consent(accept, state) -> None:
    """Ecwid: acceptMarketing true or null means "may be emailed"; only false forbids it."""
    raw = dict(CUSTOMER)
    if accept != "absent":
        raw["acceptMarketing"] = accept
    c = parse.parse_customer(raw, store_id="1003", currency="USD")
    assert c.consent.state == state
    assert c.account == AccountState.ENABLED
    assert c.id == "277137633" and c.first_name == "Ecwid" and c.phone == "000"
    assert c.updated_at == datetime(2024, 8, 22, 3, 52, 9, tzinfo=timezone.utc)
    assert c.orders_count == 1 and c.amount_spent.amount == Decimal("97.10")


def test_customer_with_a_malformed_updated_is_rejected() -> None:
    with pytest.raises(parse.RecordError, match="updated"):
        parse.parse_customer({**CUSTOMER, "updated": "not a date"}, store_id="1", currency="USD")


def test_customer_without_updated_falls_back_to_registered() -> None:
    raw = {k: v for k, v in CUSTOMER.items() if k != "updated"}
    c = parse.parse_customer(raw, store_id="1", currency="USD")
    assert c.updated_at == c.created_at == datetime(2024, 8, 21, 7, 52, 9, tzinfo=timezone.utc)
    with pytest.raises(parse.RecordError, match="updated"):
        parse.parse_customer({k: v for k, v in raw.items() if k != "registered"}, store_id="1", currency="USD")


@pytest.mark.parametrize(("accept", "expected"), [(True, True), (False, False), (None, True), ("absent", True)])
def test_order_accept_marketing_null_means_may_be_emailed(accept, expected) -> None:
    raw = order(acceptMarketing=accept)
    if accept == "absent":
        del raw["acceptMarketing"]
    assert parse.parse_order(raw, store_id="1", currency="USD").accepts_marketing is expected


def test_order_without_id_falls_back_to_internal_id() -> None:
    raw = order()
    del raw["id"]
    o = parse.parse_order(raw, store_id="1", currency="USD")
    assert o.id == "492512057" and o.name == "#492512057"
    assert parse.record_id(raw) == "492512057" and parse.record_id(order()) == "EBJFT"


@pytest.mark.parametrize(
    ("refunded_amount", "refunds", "expected"),
    [
        (Decimal("0"), [{"date": "2024-05-02 10:00:00 +0000", "source": "CP", "reason": "x", "amount": Decimal("0.1")}],
         Decimal("0.1")),  # another processor: only refunds[] tells
        (None, [{"amount": Decimal("0.05")}, {"amount": Decimal("0.05")}], Decimal("0.10")),
        (Decimal("0.1"), [{"amount": Decimal("0.1")}], Decimal("0.1")),  # Ecwid's own: both, counted once
        (Decimal("0.1"), None, Decimal("0.1")),
    ],
)
def test_partial_refunds_through_other_processors_come_from_refunds_list(refunded_amount, refunds, expected) -> None:
    raw = order(paymentStatus="PARTIALLY_REFUNDED", refundedAmount=refunded_amount)
    if refunds is not None:
        raw["refunds"] = refunds
    o = parse.parse_order(raw, store_id="1", currency="USD")
    assert o.refunded.amount == expected
    assert o.current_total.amount == Decimal("0.3") - expected


def test_order_without_any_refund_fields_has_no_refunded_amount() -> None:
    raw = order()
    del raw["refundedAmount"]
    o = parse.parse_order(raw, store_id="1", currency="USD")
    assert o.refunded is None and o.current_total.amount == Decimal("0.3")


def test_product_and_profile() -> None:
    p = parse.parse_product(
        {"id": 5, "name": "Toys", "price": Decimal("10.10"), "enabled": False, "url": "https://x/p",
         "customSlug": "", "autogeneratedSlug": "toys-5", "createTimestamp": 1, "updateTimestamp": 2},
        store_id="1", currency="EUR",
    )
    assert p.status == ProductStatus.DRAFT and p.price.amount == Decimal("10.10") and p.handle == "toys-5"
    store = parse.parse_profile(
        {"generalInfo": {"storeId": 1003, "storeUrl": "https://s.example"},
         "settings": {"storeName": "Shop"}, "formatsAndUnits": {"currency": "eur"},
         "company": {"email": "o@example.com"}},
        store_id="1003",
    )
    assert (store.name, store.currency, store.url, store.email) == ("Shop", "EUR", "https://s.example", "o@example.com")


def test_settings() -> None:
    s = EcwidSettings.model_validate({"store_id": 1003, "token": "secret_abcdef"})
    assert s.store_id == "1003" and s.store_url == "https://app.ecwid.com/api/v3/1003"
    assert "secret_abcdef" not in repr(s)
    with pytest.raises(ValueError):
        EcwidSettings(store_id="1003", token="x", page_size=250)
    with pytest.raises(ValueError):
        EcwidSettings(store_id="abc", token="x")
