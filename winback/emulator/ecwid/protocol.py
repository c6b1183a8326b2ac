"""Ecwid's wire conventions as the emulator speaks them: errors, the page envelope, parameters.

Every route handler raises :class:`ApiError` for a refusal and answers with :func:`ok`; the app
turns an ``ApiError`` into Ecwid's ``{"errorMessage": ..., "errorCode": ...}`` body. Parameter
parsing (dates, booleans, offsets, JSON bodies, numbers) lives here so every resource reads its
query string the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from winback.emulator.ecwid import fields, render
from winback.emulator.ecwid.state import Record
from winback.emulator.server import Request, Response

MAX_LIMIT = 100


class ApiError(Exception):
    """A refusal, answered as Ecwid's JSON error body with ``status`` and optional ``headers``."""

    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status=status,
        body=render.dumps({"errorMessage": message, "errorCode": code}),
        headers=headers or {},
    )


_SELECTED: ContextVar[fields.FieldTree | None] = ContextVar("ecwid_response_fields", default=None)


@contextmanager
def selecting(request: Request) -> Iterator[None]:
    """Within this block :func:`ok` answers only the fields the request's ``responseFields``
    names (reads only; see :mod:`~winback.emulator.ecwid.fields`)."""
    spec = request.param("responseFields") if request.method == "GET" else None
    if not spec:
        yield
        return
    try:
        tree = fields.parse(spec)
    except fields.FieldSpecError as exc:
        raise ApiError(400, f"Wrong parameter 'responseFields' value: {exc}", "INVALID_PARAMETER") from None
    token = _SELECTED.set(tree)
    try:
        yield
    finally:
        _SELECTED.reset(token)


def ok(payload: Any, status: int = 200) -> Response:
    return Response(status=status, body=render.dumps(fields.select(payload, _SELECTED.get())))


def parse_when(value: str, name: str) -> int:
    """UNIX seconds from an Ecwid date parameter (UNIX seconds or one of the documented date formats)."""
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    for fmt in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return int(parsed.timestamp())
    raise ApiError(400, f"Wrong parameter '{name}' value: '{value}'", "INVALID_PARAMETER")


def unix_param(value: str, name: str) -> int:
    """UNIX seconds, the only date form Ecwid documents outside order searches."""
    text = value.strip()
    if not re.fullmatch(r"-?\d+", text):
        raise ApiError(400, f"Wrong parameter '{name}' value: '{value}' (expected a UNIX timestamp)",
                       "INVALID_PARAMETER")
    return int(text)


def retry_after(value: float) -> str:
    """A ``Retry-After`` header value: whole seconds without a decimal point."""
    return str(int(value)) if float(value).is_integer() else str(value)


def token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.param("token")


def bool_param(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise ApiError(400, f"Wrong parameter '{name}' value: expected one of 'true', 'false'", "INVALID_PARAMETER")


def int_param(request: Request, name: str, default: int) -> int:
    raw = request.param(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Wrong parameter '{name}' value: '{raw}'", "INVALID_PARAMETER") from None
    if value < 0:
        raise ApiError(400, f"Wrong parameter '{name}' value: '{raw}'", "INVALID_PARAMETER")
    return value


def page_bounds(request: Request, default_limit: int = MAX_LIMIT) -> tuple[int, int]:
    """``(offset, limit)`` from the query; ``limit`` (``default_limit`` when not given or 0: customers
    use 10) is clamped to :data:`MAX_LIMIT`."""
    offset = int_param(request, "offset", 0)
    limit = min(int_param(request, "limit", default_limit), MAX_LIMIT) or default_limit
    return offset, limit


def envelope(total: int, chunk: list[Record], offset: int, limit: int) -> dict[str, Any]:
    """The ``{total, count, offset, limit, items}`` envelope of one page."""
    return {
        "total": total,
        "count": len(chunk),
        "offset": offset,
        "limit": limit,
        "items": [r.body for r in chunk],
    }


def page(records: list[Record], request: Request, default_limit: int = MAX_LIMIT) -> dict[str, Any]:
    """One page of ``records`` in the envelope (see :func:`page_bounds`)."""
    offset, limit = page_bounds(request, default_limit)
    return envelope(len(records), records[offset : offset + limit], offset, limit)


DateBounds = tuple[int | None, int | None, int | None, int | None]
"""``(createdFrom, createdTo, updatedFrom, updatedTo)`` in UNIX seconds, inclusive; ``None``: absent."""


def date_bounds(request: Request, *, dates: bool = False) -> DateBounds:
    """The date filters of the query, parsed (and refused) as :func:`filter_dates` does."""
    values = []
    for name in ("createdFrom", "createdTo", "updatedFrom", "updatedTo"):
        raw = request.param(name)
        values.append((parse_when(raw, name) if dates else unix_param(raw, name)) if raw else None)
    return values[0], values[1], values[2], values[3]


def filter_dates(records: list[Record], request: Request, *, dates: bool = False) -> list[Record]:
    """Apply ``createdFrom``/``createdTo``/``updatedFrom``/``updatedTo`` (inclusive) from the query.

    Only orders (``dates``) document date/time strings; elsewhere these take UNIX seconds only.
    """
    bounds = (
        ("createdFrom", lambda r, v: r.created >= v),
        ("createdTo", lambda r, v: r.created <= v),
        ("updatedFrom", lambda r, v: r.updated >= v),
        ("updatedTo", lambda r, v: r.updated <= v),
    )
    for name, keep in bounds:
        raw = request.param(name)
        if raw:
            value = parse_when(raw, name) if dates else unix_param(raw, name)
            records = [r for r in records if keep(r, value)]
    return records


def json_body(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "application/json")
    if "json" not in content_type:
        raise ApiError(415, "Unsupported content-type: expected application/json or text/json", "UNSUPPORTED_MEDIA_TYPE")
    try:
        body = json.loads(request.body or b"null", parse_float=Decimal)
    except ValueError:
        raise ApiError(400, "Request body is not valid JSON", "INVALID_JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object", "INVALID_JSON")
    return body


def number(value: Any, name: str) -> Decimal:
    if isinstance(value, bool):
        raise ApiError(400, f"Wrong {name} value", "INVALID_PARAMETER")
    try:
        return Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ApiError(400, f"Wrong {name} value: '{value}'", "INVALID_PARAMETER") from None
