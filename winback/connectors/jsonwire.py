"""A platform's JSON body → Python values, exactly as ``json.loads(body, parse_float=Decimal)``
gives them, for less CPU.

Why: every Ecwid page is decoded whole before it is parsed, and the standard library's decoder
(calling ``Decimal`` from Python for each amount) took about 5 % of an Ecwid sync's client CPU.
msgspec's decoder does the same work in C and hands each number with a fraction or an exponent to
``Decimal`` as its text (``float_hook``), so ``0.10000000000000000001`` stays exact and an id past
2**53 stays an exact ``int``. orjson was measured too but has no such hook: it turns amounts into
floats (``0.10000000000000000001`` → ``0.1``) and integers past 2**64 into floats, so it cannot give
the same values.

What a caller may rely on: for every body, :func:`decode_exact` returns what ``json.loads(body,
parse_float=Decimal)`` returns, or raises a :class:`ValueError` where it raises one. msgspec refuses
a few things ``json`` accepts (``NaN`` and ``Infinity``, an escaped lone surrogate such as
``"\\ud800"``, a UTF-8 byte-order mark, UTF-16/32 bodies, integers of more than 4,300 digits which
``json`` refuses too, nesting beyond its own depth limit); such a body is decoded again by ``json``
itself, so the answer (a value, or ``json``'s own error) is the standard library's. That second
decode happens only for bodies msgspec refuses, in practice truncated ones, which the caller
retries anyway.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec

__all__ = ["decode_exact"]

_EXACT = msgspec.json.Decoder(float_hook=Decimal)


def decode_exact(content: bytes) -> Any:
    """Decode a body keeping every JSON number with a fraction or an exponent as an exact ``Decimal``.

    Raises :class:`ValueError` (``json.JSONDecodeError`` or ``UnicodeDecodeError``) for a body that
    is not JSON, e.g. one cut short; callers retry on it.
    """
    try:
        return _EXACT.decode(content)
    except (msgspec.DecodeError, RecursionError):
        return json.loads(content, parse_float=Decimal)
