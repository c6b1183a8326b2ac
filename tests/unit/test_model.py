"""The common model: exact money, UTC times, what counts as a purchase, frozen records."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from winback.model import (
    Customer,
    DiscountCodeSpec,
    DiscountKind,
    FinancialStatus,
    LineItem,
    Money,
    Order,
    normalize_email,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def order(**overrides) -> Order:
    fields = dict(
        platform="shopify",
        store_id="acme",
        id="gid://shopify/Order/1",
        customer_id="gid://shopify/Customer/7",
        email="a@example.com",
        created_at=T0,
        updated_at=T0,
        financial_status=FinancialStatus.PAID,
        total=usd("50.00"),
    )
    fields.update(overrides)
    return Order(**fields)


# --- money -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "expected"), [(0.1, "0.1"), (0.3, "0.3"), (19.99, "19.99"), (1e-7, "1E-7")])
def test_money_from_float_is_exact_without_binary_noise(given: float, expected: str) -> None:
    money = Money(amount=given, currency="EUR")
    assert isinstance(money.amount, Decimal)
    assert money.amount == Decimal(expected)
    assert money.amount != Decimal(given)  # the naive conversion would carry noise


def test_money_from_string_and_int() -> None:
    assert Money(amount="10.50", currency="USD").amount == Decimal("10.50")
    assert Money(amount=3, currency="USD").amount == Decimal(3)
    assert str(usd("10.50")) == "10.50 USD"
    assert Money.zero("JPY") == Money(amount=Decimal(0), currency="JPY")


@pytest.mark.parametrize("currency", ["usd", "US", "USDD", "", "U$D", "12A"])
def test_money_rejects_bad_currency(currency: str) -> None:
    with pytest.raises(ValidationError):
        Money(amount=Decimal("1"), currency=currency)


def test_money_rejects_non_numbers() -> None:
    with pytest.raises(ValidationError):
        Money(amount="ten", currency="USD")


# --- time --------------------------------------------------------------------------------------


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        order(created_at=datetime(2026, 3, 1, 12, 0))
    with pytest.raises(ValidationError, match="timezone-aware"):
        Customer(platform="ecwid", store_id="1", id="2", updated_at="2026-03-01T12:00:00")


def test_aware_datetimes_are_normalised_to_utc() -> None:
    paris = timezone(timedelta(hours=2))
    made = order(created_at=datetime(2026, 3, 1, 14, 0, tzinfo=paris), updated_at="2026-03-01T09:00:00-03:00")
    assert made.created_at == T0 and made.created_at.utcoffset() == timedelta(0)
    assert made.created_at.tzinfo == timezone.utc
    assert made.updated_at == T0 and made.updated_at.tzinfo == timezone.utc


def test_optional_datetimes_accept_none_and_normalise() -> None:
    assert order(cancelled_at=None).cancelled_at is None
    made = order(processed_at="2026-03-01T13:00:00+01:00")
    assert made.processed_at == T0 and made.processed_at.tzinfo == timezone.utc


# --- orders ------------------------------------------------------------------------------------


def test_normal_order_counts_as_purchase() -> None:
    assert order().counts_as_purchase


def test_cancelled_order_does_not_count() -> None:
    made = order(cancelled_at=T0)
    assert made.is_cancelled and not made.counts_as_purchase


def test_test_order_does_not_count() -> None:
    assert not order(test=True).counts_as_purchase


def test_refunded_by_status_does_not_count() -> None:
    made = order(financial_status=FinancialStatus.REFUNDED)
    assert made.is_fully_refunded and not made.counts_as_purchase


@pytest.mark.parametrize("refunded", ["50.00", "50", "60.00"])
def test_refunded_by_amount_does_not_count(refunded: str) -> None:
    made = order(financial_status=FinancialStatus.PARTIALLY_REFUNDED, refunded=usd(refunded))
    assert made.is_fully_refunded and not made.counts_as_purchase


def test_partially_refunded_counts() -> None:
    made = order(financial_status=FinancialStatus.PARTIALLY_REFUNDED, refunded=usd("49.99"))
    assert not made.is_fully_refunded and made.counts_as_purchase


def test_free_order_with_no_refund_counts() -> None:
    made = order(total=usd("0"), refunded=usd("0"))
    assert not made.is_fully_refunded and made.counts_as_purchase


def test_guest_orders() -> None:
    guest = order(customer_id=None, email="guest@example.com")
    assert guest.is_guest and guest.counts_as_purchase
    assert not order().is_guest


def test_line_items_are_a_tuple() -> None:
    item = LineItem(id="1", title="Mug", quantity=2, current_quantity=1, unit_price=usd("9.50"))
    made = order(line_items=[item])
    assert made.line_items == (item,)


def test_customer_display_name_falls_back() -> None:
    base = dict(platform="ecwid", store_id="1", id="42", updated_at=T0)
    assert Customer(**base, first_name="Ada", last_name="Lovelace").display_name == "Ada Lovelace"
    assert Customer(**base, email="ada@example.com").display_name == "ada@example.com"
    assert Customer(**base).display_name == "42"


# --- discount specs ----------------------------------------------------------------------------


def spec(**overrides) -> DiscountCodeSpec:
    fields = dict(code="BACK10", title="Welcome back", kind=DiscountKind.PERCENTAGE, value=Decimal("10"), starts_at=T0)
    fields.update(overrides)
    return DiscountCodeSpec(**fields)


@pytest.mark.parametrize("value", [Decimal("0"), Decimal("-5"), "-0.01", 0])
def test_discount_spec_rejects_non_positive_values(value) -> None:
    with pytest.raises(ValidationError, match="positive"):
        spec(value=value)


def test_discount_spec_accepts_positive_values_and_rejects_empty_codes() -> None:
    assert spec(value="0.01").value == Decimal("0.01")
    with pytest.raises(ValidationError):
        spec(code="")
    with pytest.raises(ValidationError):
        spec(starts_at=datetime(2026, 1, 1))


# --- frozen, strict ----------------------------------------------------------------------------


def test_models_are_frozen() -> None:
    made = order()
    with pytest.raises(ValidationError):
        made.test = True  # type: ignore[misc]
    with pytest.raises(ValidationError):
        usd("1").amount = Decimal("2")  # type: ignore[misc]
    with pytest.raises(ValidationError):
        spec().value = Decimal("50")  # type: ignore[misc]
    assert made == order()
    assert hash(usd("1.00")) == hash(usd("1.00"))


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError):
        order(surprise="x")


# --- the join key ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" Ann@Example.COM\n", "ann@example.com"),
        ("STRASSE@example.com", "strasse@example.com"),
        ("Straße@example.com", "straße@example.com"),  # lower(), not casefold(): stored keys stay valid
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_normalize_email_is_the_stored_lower_email(value: str | None, expected: str | None) -> None:
    assert normalize_email(value) == expected
