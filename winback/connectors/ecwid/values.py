"""Ecwid's scalar values → Python: dates, amounts, ids and text, each checked, naming the field.

Why a module of its own: :mod:`~winback.connectors.ecwid.parse` builds records from these, and
the deletion feed and write bodies read and write the same dates; every reader of a value raises
:class:`RecordError` naming the field, so a malformed record is quarantined with a reason.

* JSON is decoded as ``json.loads(body, parse_float=Decimal)`` would (:func:`decode_json`, by
  :mod:`~winback.connectors.jsonwire` in C), so ``0.1`` stays ``0.1``.
* Dates are Ecwid's ``2014-06-06 18:57:19 +0400`` (read with :func:`datetime.fromisoformat` once
  the space before the offset is gone) or UNIX seconds; anything else takes ``strptime`` formats.
* Amounts become exact ``Decimal``; :func:`amounts_in` shares one frozen :class:`Money` per exact
  amount text, since most amounts of a store repeat.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from winback.connectors.jsonwire import decode_exact
from winback.model import Money

_UTC = timezone.utc
_ZERO = Decimal("0")
_new_money = Money.from_checked


class RecordError(ValueError):
    """A record does not have the shape Ecwid documents."""


def decode_json(content: bytes) -> Any:
    """Decode a response body keeping every JSON number with a fraction as an exact ``Decimal``;
    a body that is not JSON (cut short, say) raises :class:`ValueError`."""
    return decode_exact(content)


# --- scalars -----------------------------------------------------------------------------------


def ecwid_date(value: datetime) -> str:
    """Format for Ecwid write bodies and date parameters: ``2026-01-31 12:00:00 +0000``."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000")


_ECWID_DATE = re.compile(r"\d{4}-\d\d-\d\d (?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d [+-](?:[01]\d|2[0-3])[0-5]\d", re.ASCII)
"""Exactly Ecwid's own spelling (``2014-06-06 18:57:19 +0400``), which :func:`datetime.fromisoformat`
reads once the space before the offset is gone; any other text takes the ``strptime`` formats."""
_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S")


def _from_unix(value: int, field: str) -> datetime:
    try:
        return datetime.fromtimestamp(value, tz=_UTC)
    except (OverflowError, OSError, ValueError):
        raise RecordError(f"{field} is out of range: {value!r}") from None


def parse_datetime(value: Any, field: str) -> datetime:
    """An Ecwid date (``2014-06-06 18:57:19 +0400``) or UNIX seconds → aware UTC datetime.

    A date outside what ``datetime`` holds (``0001-01-01 00:00:00 +0100``, UNIX seconds past year
    9999) is a :class:`RecordError` like any unreadable one, so the record is quarantined.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return _from_unix(value, field)
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 25 and _ECWID_DATE.fullmatch(text):
            try:
                return datetime.fromisoformat(text[:19] + text[20:]).astimezone(_UTC)
            except (ValueError, OverflowError):
                pass  # e.g. 30 February: the formats below decide, as they always did
        for fmt in _FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
            except ValueError:
                continue
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=_UTC)
            try:
                return parsed.astimezone(_UTC)
            except OverflowError:
                raise RecordError(f"{field} is out of range: {value!r}") from None
    raise RecordError(f"{field} is not a date: {value!r}")


def timestamp_of(raw: Mapping[str, Any], ts_field: str, date_field: str) -> datetime:
    """Prefer the UNIX ``...Timestamp`` field, fall back to the date string."""
    value = raw.get(ts_field)
    if isinstance(value, int) and not isinstance(value, bool):
        return _from_unix(value, ts_field)
    return parse_datetime(raw.get(date_field), date_field)


PLAIN_SECONDS = range(-(2**31), 2**33)
"""UNIX seconds that :func:`timestamp_of` turns back into themselves (years 1901 to 2242), and
that ``datetime.fromtimestamp`` always holds: the parser and the sort keys read these in line."""


def sort_key_seconds(raw: Mapping[str, Any], ts_field: str, date_field: str) -> int:
    """Best-effort UNIX seconds for ordering raw records; 0 when unreadable (it will be rejected)."""
    value = raw.get(ts_field)
    if type(value) is int and value in PLAIN_SECONDS:
        return value
    try:
        return int(timestamp_of(raw, ts_field, date_field).timestamp())
    except RecordError:
        return 0


def amount(value: Any, field: str) -> Decimal:
    if type(value) is Decimal and value.is_finite():
        return value  # what decode_json gives for every JSON number with a fraction
    if isinstance(value, bool) or value is None:
        raise RecordError(f"{field} is not a number: {value!r}")
    if isinstance(value, (int, Decimal)):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise RecordError(f"{field} is not a number: {value!r}") from None
    else:
        raise RecordError(f"{field} is not a number: {value!r}")
    if not result.is_finite():
        raise RecordError(f"{field} is not a finite number: {value!r}")
    return result


def money(value: Any, currency: str, field: str) -> Money:
    return Money(amount=amount(value, field), currency=currency)


class _Amounts(dict[str, Money]):
    """The :class:`Money` of one currency by the exact text of its amount (``str`` of a ``Decimal``
    keeps sign, digits and exponent, so ``1.10`` and ``1.1`` stay apart), shared: models are
    frozen, and most amounts of a store repeat (prices, zero refunds), so most orders build no
    ``Money`` at all. Emptied when it reaches :data:`_AMOUNTS_KEPT` entries."""

    def __init__(self, currency: str) -> None:
        super().__init__()
        self.currency = currency

    def __missing__(self, text: str) -> Money:
        if len(self) >= _AMOUNTS_KEPT:
            self.clear()
        money = self[text] = _new_money({"amount": Decimal(text), "currency": self.currency})
        return money


_AMOUNTS_KEPT = 20_000
_AMOUNTS: dict[str, _Amounts] = {}


def amounts_in(currency: str) -> _Amounts:
    """The amounts of ``currency``, once it is checked the way :class:`Money` checks it (an invalid
    code raises the same validation error as before)."""
    amounts = _AMOUNTS.get(currency)
    if amounts is None:
        Money(amount=_ZERO, currency=currency)
        amounts = _AMOUNTS.setdefault(currency, _Amounts(currency))
    return amounts


def id_text(raw: Mapping[str, Any], field: str = "id") -> str:
    value = raw.get(field)
    if isinstance(value, bool) or value is None or value == "":
        raise RecordError(f"{field} is missing")
    if isinstance(value, (int, str)):
        return str(value)
    raise RecordError(f"{field} is not an id: {value!r}")


def text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = (value if type(value) is str else str(value)).strip()
    return text or None
