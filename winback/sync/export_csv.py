"""Export rows as CSV that a spreadsheet opens safely and readably.

The rows are :meth:`LocalStore.iter_rows` dicts (common-model field names, nested values as
dicts). A spreadsheet is not a JSON reader, so each field becomes plain cells:

* money ``total`` becomes ``total_amount`` (a number) and ``total_currency``;
* a nested record (``consent``, ``default_address``, ``billing_address``) becomes one column per
  field, ``consent_state``, ``default_address_city``, ...;
* ``tags`` becomes ``vip, b2b``; ``line_items`` becomes ``2 x Mug [MUG-1] @ 5.00 EUR; ...``;
* times are ISO 8601, booleans ``true``/``false``, absent values empty.

Numbers we produce (amounts, counts) are written unquoted and unchanged, ``-5.00`` included. Every
text cell is quoted, and one that a spreadsheet would read as a formula (OWASP's CSV injection
list: ``= + - @``, tab, CR, LF, NUL and the full-width ``＝ ＋ － ＠``) gets a leading ``'``, so a
customer named ``=HYPERLINK(...)`` stays text. Reading the file back with :mod:`csv` gives the
text with that ``'`` in front.
"""

from __future__ import annotations

import csv
import json
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import IO, Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from winback.model import LineItem, Money

FORMULA_STARTS = frozenset("=+-@\t\r\n\0＝＋－＠")
"""First characters that make a spreadsheet evaluate a cell (OWASP, ASVS 1.2.10)."""

DERIVED_MONEY = frozenset({"real_amount_spent", "net_total"})
"""Derived facts (not model fields) that are money dicts."""

_CENTS = Decimal("0.01")


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Mapping[str, Any]], Any]


def csv_columns(model: type[BaseModel], names: Sequence[str]) -> list[Column]:
    """The CSV columns for the exported ``names`` of ``model`` (derived facts included)."""
    result: list[Column] = []
    for name in names:
        field = model.model_fields.get(name)
        kind = Money if name in DERIVED_MONEY else _bare(field.annotation) if field is not None else None
        result.extend(_columns_for(name, kind, lambda row, name=name: row.get(name)))
    return result


def write_csv(stream: IO[str], columns: Sequence[Column], rows: Iterable[Mapping[str, Any]]) -> int:
    """Write a header and one line per row; returns the number of rows."""
    writer = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow([neutralise(column.header) for column in columns])
    count = 0
    for row in rows:
        writer.writerow([cell(column.value(row)) for column in columns])
        count += 1
    return count


def neutralise(text: str) -> str:
    """``text`` with a leading ``'`` if a spreadsheet would otherwise read it as a formula."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def cell(value: Any) -> Any:
    """One CSV cell: a number stays a number (unquoted); anything else becomes safe text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _amount(value) if value.is_finite() else neutralise(str(value))
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return neutralise(str(value.value))
    if isinstance(value, (list, tuple)):
        return neutralise(", ".join(str(v) for v in value if v is not None))
    if isinstance(value, dict):
        return neutralise(json.dumps(value, ensure_ascii=False, default=str))
    return neutralise(str(value))


def _amount(value: Decimal) -> Decimal:
    """``19.9900`` (the store keeps four places) → ``19.99``; ``100`` → ``100.00``."""
    value = value.normalize()
    return value.quantize(_CENTS) if value.as_tuple().exponent > -2 else value  # type: ignore[operator]


def line_items_text(lines: Sequence[Mapping[str, Any]] | None) -> str:
    """``2 x Mug [MUG-1] @ 5.00 EUR; 1 x Cap (0 after refunds)``: one order's lines in one cell."""
    parts = []
    for line in lines or ():
        text = f"{line.get('quantity')} x {line.get('title')}"
        if line.get("sku"):
            text += f" [{line['sku']}]"
        price = line.get("unit_price")
        if price:
            text += f" @ {_amount(price['amount'])} {price['currency']}"
        if line.get("current_quantity") != line.get("quantity"):
            text += f" ({line.get('current_quantity')} after refunds)"
        parts.append(text)
    return "; ".join(parts)


def _columns_for(name: str, kind: Any, get: Callable[[Mapping[str, Any]], Any]) -> list[Column]:
    if kind is Money:
        return [
            Column(f"{name}_amount", lambda row: (get(row) or {}).get("amount")),
            Column(f"{name}_currency", lambda row: (get(row) or {}).get("currency")),
        ]
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        nested: list[Column] = []
        for sub, field in kind.model_fields.items():
            nested.extend(
                _columns_for(f"{name}_{sub}", _bare(field.annotation), lambda row, sub=sub: (get(row) or {}).get(sub))
            )
        return nested
    if _is_line_items(kind):
        return [Column(name, lambda row: line_items_text(get(row)))]
    return [Column(name, get)]


def _bare(annotation: Any) -> Any:
    """``Money | None`` → ``Money``; ``Annotated[datetime, ...]`` → ``datetime``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _bare(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return _bare(args[0]) if len(args) == 1 else annotation
    return annotation


def _is_line_items(kind: Any) -> bool:
    return get_origin(kind) in (tuple, list) and LineItem in get_args(kind)
