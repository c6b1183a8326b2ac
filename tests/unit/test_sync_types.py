"""The column types' one-step SQLite bind processors store exactly what the reference path stores:
``process_bind_param`` followed by the underlying SQLAlchemy type's own processor."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic_core import TzInfo
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import TypeDecorator

from winback.sync.types import Amount, UtcDateTime

DIALECT = sqlite.dialect()


def _both(type_: TypeDecorator[Any]) -> tuple[Any, Any]:
    impl = type_.dialect_impl(DIALECT)
    return impl.bind_processor(DIALECT), TypeDecorator.bind_processor(impl, DIALECT)


def _outcome(process: Any, value: Any) -> Any:
    try:
        return "ok", process(value)
    except Exception as exc:  # the same values must fail the same way
        return "error", type(exc)


def _datetimes() -> list[Any]:
    rng = random.Random(13)
    zones = [timezone.utc, TzInfo(0), TzInfo(-18000), timezone(timedelta(hours=5, minutes=30)),
             timezone(timedelta(hours=-9, seconds=1)), ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe")]
    values: list[Any] = [None, datetime(2024, 1, 1), datetime(1, 1, 1, tzinfo=timezone.utc),
                         datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
                         datetime(999, 3, 4, 5, 6, 7, tzinfo=timezone.utc),
                         datetime(2024, 11, 3, 1, 30, tzinfo=ZoneInfo("America/New_York"), fold=1)]
    for _ in range(3000):
        stamp = datetime(2000, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.uniform(-3e9, 3e9))
        if rng.random() < 0.3:
            stamp = stamp.replace(microsecond=0)
        values.append(stamp.astimezone(rng.choice(zones)))
    return values


def test_utc_datetime_stores_the_same_text() -> None:
    fast, reference = _both(UtcDateTime())
    assert fast is not reference
    for value in _datetimes() * 2:  # the second round answers from the memo
        assert _outcome(fast, value) == _outcome(reference, value), value
    assert fast(datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)) == "2024-05-06 07:08:09.000000"
    with pytest.raises(ValueError, match="naive"):
        fast(datetime(2024, 1, 1))


def test_amount_stores_the_same_integer() -> None:
    fast, reference = _both(Amount())
    rng = random.Random(7)
    values: list[Any] = [None, 0, 1, -1, "12.5", "-0.00005", "0.00015", Decimal("-0"), Decimal("1E+3"),
                         Decimal("12.34567"), Decimal("12.34565"), Decimal("99999999999999.9999"),
                         Decimal("1E+30"), Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), 1.5, "abc", 10**20]
    for _ in range(3000):
        values.append(Decimal(rng.randint(-10**12, 10**12)).scaleb(-rng.randint(0, 8)))
    for value in values * 2:  # the second round answers from the memo
        assert _outcome(fast, value) == _outcome(reference, value), value
    assert fast(Decimal("19.99")) == 199900
    assert fast(Decimal("1.5")) == 15000
    with pytest.raises(TypeError, match="float"):
        fast(1.5)  # equal to a remembered Decimal, and still refused
    with pytest.raises(InvalidOperation):
        fast(Decimal("1E+30"))  # more digits than the context holds: refused, never truncated


def test_utc_datetime_text_is_sqlalchemys_datetime_format_at_the_edges() -> None:
    """The printf text equals SQLAlchemy's own ``DATETIME`` processor on the naive UTC time for
    every padding case: years below 1000 (and 1), zero and one-digit microseconds, single-digit
    fields, and zones that move the date across a year boundary."""
    from sqlalchemy import DateTime

    fast, _ = _both(UtcDateTime())
    plain = DateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
    east, west = timezone(timedelta(hours=14)), timezone(timedelta(hours=-12, minutes=-30))
    values = [
        datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
        for year in (1, 2, 9, 10, 99, 100, 999, 1000, 1999, 2024, 9998)
        for month, day, hour, minute, second in ((1, 1, 0, 0, 0), (12, 31, 23, 59, 59), (2, 3, 4, 5, 6))
        for micro in (0, 1, 9, 10, 999_999)
        for zone in (timezone.utc, east, west, ZoneInfo("Pacific/Kiritimati"))
        if not (year == 1 and zone is not west and (month, day) == (1, 1))  # before datetime.min in UTC
    ]
    for value in values:
        expected = plain(value.astimezone(timezone.utc).replace(tzinfo=None))
        assert fast(value) == expected, value
        assert len(expected) == 26
