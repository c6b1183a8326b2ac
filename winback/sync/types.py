"""Column types that behave the same on SQLite and PostgreSQL.

Migrations import these, so their storage format is a contract: change it only with a migration.

* :class:`UtcDateTime` takes and returns timezone-aware UTC datetimes. PostgreSQL stores
  ``timestamptz``; SQLite stores naive UTC text (``YYYY-MM-DD HH:MM:SS.ffffff``), which sorts and
  compares correctly as text, so ``MIN``/``MAX`` work in SQL on both.
* :class:`Amount` takes and returns :class:`~decimal.Decimal` with four decimal places.
  PostgreSQL stores ``NUMERIC(18, 4)``. SQLite has no exact decimal type (its NUMERIC affinity
  turns values into binary floats), so there the amount is stored as an integer count of
  1/10 000 units: ``SUM`` in SQL stays exact and the value never passes through a float.

On SQLite each type hands SQLAlchemy one bind processor that goes from the Python value to the
stored value in a single step, instead of :meth:`process_bind_param` followed by the underlying
type's own processor: a sync binds tens of thousands of these values, and the two-step path cost
more than SQLite's work for the rows. The text and integers stored are the same, byte for byte
(``tests/unit/test_sync_types.py`` compares both paths); ``process_bind_param`` stays the
reference.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine

_SCALE = 4
_FACTOR = Decimal(10) ** _SCALE
_QUANTUM = Decimal(1).scaleb(-_SCALE)
_UTC = timezone.utc


def _naive(value: datetime) -> ValueError:
    return ValueError(f"naive datetime {value!r}: winback stores timezone-aware UTC times only")


_MEMO_SIZE = 4096
_UNITS: dict[Decimal, int] = {}


_SQLITE_TEXT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"
"""SQLAlchemy's SQLite ``DATETIME`` storage format (its default ``storage_format``), as printf."""


def sqlite_datetime(value: datetime | None) -> str | None:
    """What ``process_bind_param`` then SQLite's ``DATETIME`` processor store, in one step:
    naive UTC as ``YYYY-MM-DD HH:MM:SS.ffffff``, the year padded to four digits and the
    microseconds always written, which is the processor's own format string
    (``_SQLITE_TEXT``) filled from the UTC time's fields.

    Why ``%`` over ``isoformat(" ", "microseconds")[:26]`` (the same text): an aware
    ``isoformat`` asks the zone for its offset and writes a suffix to cut off, and the ``timespec``
    argument is parsed on every call; together a third more CPU per value, and a sync binds a
    few per order and customer. Not remembered by value (amounts are): hashing a fresh aware
    datetime cost about what the text does, and an order's times that are one instant are
    converted once by :mod:`winback.sync.params` already."""
    if value is None:
        return None
    if value.tzinfo is not _UTC:
        if value.tzinfo is None or value.utcoffset() is None:
            raise _naive(value)
        value = value.astimezone(_UTC)
    return _SQLITE_TEXT % (value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond)


def sqlite_amount(value: Decimal | int | str | None) -> int | None:
    """What ``process_bind_param`` stores on SQLite (BigInteger adds no processor of its own).

    Decimals are remembered by value (prices repeat across lines and orders; equal Decimals give
    the same quantized integer). Only exact ``Decimal`` instances are: a float equal to a
    remembered Decimal must still be refused."""
    if value is None:
        return None
    if type(value) is Decimal:
        try:
            units = _UNITS.get(value)
        except TypeError:  # a signalling NaN cannot be hashed: the general path refuses it
            units = None
        else:
            if units is None:
                if len(_UNITS) >= _MEMO_SIZE:
                    _UNITS.clear()
                units = _UNITS[value] = int(value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN) * _FACTOR)
            return units
    if isinstance(value, float):
        raise TypeError("amounts must be Decimal, not float")
    return int(Decimal(value).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN) * _FACTOR)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime; naive datetimes are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise _naive(value)
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return sqlite_datetime
        return super().bind_processor(dialect)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # aggregates over SQLite text come back untyped
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Amount(TypeDecorator[Decimal]):
    """An exact money amount (the currency lives in its own column)."""

    impl = Numeric(18, _SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(18, _SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("amounts must be Decimal, not float")
        amount = Decimal(value).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)
        if dialect.name == "sqlite":
            return int(amount * _FACTOR)
        return amount

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return sqlite_amount
        return super().bind_processor(dialect)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / _FACTOR).quantize(_QUANTUM)
        return Decimal(value).quantize(_QUANTUM)
