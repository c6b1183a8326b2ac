"""Shopify search syntax (the ``query:`` argument), reduced to what connectors send.

Supported: ``field:value``, comparators ``>= <= > < =`` after the colon (with or without a space,
value quoted with ``'`` or ``"`` or bare), ``-field:value`` / ``NOT field:value`` negation, implicit
or explicit ``AND`` and top-level ``OR``, and bare words (a case-insensitive text search).
Unknown fields are ignored, as Shopify does.

Quirk emulated on purpose: for CUSTOMERS the ``updated_at`` filter compares whole days (documented
in the schema: "the date and time, matching a whole day"), so ``updated_at:>'2026-01-05T13:00:00Z'``
skips later changes of that same day and ``>=`` returns earlier ones: clients must filter exactly.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

Record = dict[str, Any]
Predicate = Callable[[Record], bool]

_TOKEN = re.compile(
    r"""(?P<neg>-)?(?P<field>[A-Za-z_][\w.]*):\s*(?P<op>>=|<=|>|<|=)?\s*(?P<value>'[^']*'|"[^"]*"|[^\s()]+)"""
    r"""|(?P<word>'[^']*'|"[^"]*"|[^\s()]+)"""
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}


@dataclass(frozen=True, slots=True)
class Field:
    """How one search field reads a record: ``kind`` is ``time``, ``day`` (whole-day time), ``text``,
    ``exact`` (case-insensitive equality) or ``number``."""

    kind: str
    get: Callable[[Record], Any]


def parse_time(raw: str, now: datetime) -> tuple[datetime, bool] | None:
    """A search time value and whether it names a whole day (``2026-01-05``, ``2026``)."""
    text = raw.strip()
    if text == "now":
        return now, False
    try:
        if re.fullmatch(r"\d{4}", text):
            return datetime(int(text), 1, 1, tzinfo=timezone.utc), True
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.fromisoformat(text).replace(tzinfo=timezone.utc), True
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc), False


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _time_predicate(spec: Field, op: str | None, raw: str, now: datetime) -> Predicate | None:
    parsed = parse_time(raw, now)
    if parsed is None:
        return None
    target, whole_day = parsed
    if spec.kind == "day":
        day: date = target.date()
        compare = _OPS[op or "="]
        return lambda record: (value := spec.get(record)) is not None and compare(value.date(), day)
    if op in (None, "=") and whole_day:
        start, end = target, target + timedelta(days=1)
        return lambda record: (value := spec.get(record)) is not None and start <= value < end
    compare = _OPS[op or "="]
    return lambda record: (value := spec.get(record)) is not None and compare(value, target)


def _term(spec: Field, op: str | None, raw: str, now: datetime) -> Predicate | None:
    if spec.kind in ("time", "day"):
        return _time_predicate(spec, op, raw, now)
    if spec.kind == "number":
        try:
            number = float(raw)
        except ValueError:
            return None
        compare = _OPS[op or "="]
        return lambda record: (value := spec.get(record)) is not None and compare(float(value), number)
    needle = raw.lower()
    if spec.kind == "exact":
        return lambda record: str(spec.get(record) or "").lower() == needle
    if needle == "*":
        return lambda record: bool(spec.get(record))
    return lambda record: needle in str(spec.get(record) or "").lower()


def compile_search(
    query: str | None,
    fields: dict[str, Field],
    text: Callable[[Record], str],
    now: datetime,
) -> Predicate | None:
    """A predicate for ``query`` over records with these ``fields``; ``None`` when nothing filters."""
    if not query or not query.strip():
        return None
    groups: list[list[Predicate]] = [[]]
    negate_next = False
    for match in _TOKEN.finditer(query):
        word = match.group("word")
        if word is not None:
            upper = word.upper()
            if upper == "AND":
                continue
            if upper == "OR":
                groups.append([])
                continue
            if upper == "NOT":
                negate_next = True
                continue
            needle = _unquote(word).lower()
            predicate: Predicate | None = lambda record, needle=needle: needle in text(record)
            negated = negate_next
        else:
            spec = fields.get(match.group("field").lower())
            negated = bool(match.group("neg")) or negate_next
            predicate = None
            if spec is not None:
                predicate = _term(spec, match.group("op"), _unquote(match.group("value")), now)
        negate_next = False
        if predicate is None:
            continue
        if negated:
            predicate = (lambda inner: lambda record: not inner(record))(predicate)
        groups[-1].append(predicate)
    groups = [group for group in groups if group]
    if not groups:
        return None

    def matches(record: Record) -> bool:
        return any(all(term(record) for term in group) for group in groups)

    return matches
