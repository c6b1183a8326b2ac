"""``decode_exact`` gives what ``json.loads(body, parse_float=Decimal)`` gives, value for value and
error for error, on tricky documents, on random ones and on every truncation of a real-shaped page."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from pytest_httpx import HTTPXMock

from winback.connectors.ecwid import EcwidConnector, EcwidSettings
from winback.connectors.jsonwire import decode_exact
from winback.connectors.retry import RetryPolicy


def reference(body: bytes) -> Any:
    return json.loads(body, parse_float=Decimal)


def outcome(decode: Any, body: bytes) -> tuple[str, str]:
    """``("value", repr)`` with types made visible, or ``("error", ...)`` for a ValueError."""
    try:
        value = decode(body)
    except ValueError:
        return ("error", "ValueError")
    return ("value", typed_repr(value))


def typed_repr(value: Any) -> str:
    """repr that tells ``1`` from ``1.0`` and ``True`` from ``1`` at any depth (repr alone does, but
    ``==`` would not: this is what the assertions compare)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {typed_repr(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(typed_repr(v) for v in value) + "]"
    return f"{type(value).__name__}({value!r})"


TRICKY = [
    b"{}", b"[]", b'""', b"0", b"-0", b"-0.0", b"0e0", b"1E+400", b"1e-400", b"1e5", b"2.50",
    b"0.10000000000000000001", b"123.456789012345678901234567890",
    b"9007199254740993",  # 2**53 + 1: an Ecwid id a float would round
    b"18446744073709551616", b"-9223372036854775809", b"1" * 4300, b"1" * 4301, b"1" * 5000 + b".5",
    b'{"id": 9007199254740993, "total": 10.10, "tax": 0.1, "n": [1, 2.0, 3e2]}',
    b'{"a": 1, "a": 2}', b'{"a": {"a": 1}, "a": [1]}',
    b'"\\u00e9\\u4e2d\\ud83d\\ude00 \\" \\\\ \\/ \\b\\f\\n\\r\\t \\u0000"',
    '"é 中 😀 \u2028"'.encode(), b'{"\xc3\xa9": "caf\xc3\xa9"}',
    b'"\\ud800"', b'"\\udc00x"', b'"\xed\xa0\x80"',  # lone surrogates: json accepts them
    b"NaN", b"Infinity", b"-Infinity", b'{"amount": NaN}',  # json accepts them: so do we
    b"\xef\xbb\xbf{\"a\": 1}", '{"a": 1.5}'.encode("utf-16"), '{"a": 1.5}'.encode("utf-32-le"),
    b" \t\r\n[1 , {\"b\" : null} , true, false]\n ",
    b'{"items": [{"id": 1, "price": 19.99, "options": []}], "total": 1, "offset": 0}',
    b"[" * 50 + b"]" * 50,
    # not JSON: each must raise ValueError
    b"", b" ", b"{", b'{"a": 1', b'{"a": 1}x', b'{"a": 1}\x00', b"[1,]", b"{'a': 1}", b"01", b"1.", b".5",
    b"+1", b"-", b"1.0e", b'"\\x"', b'"a\x01b"', b'"a\tb"', b'"\xff"', b'"\xc0\xaf"', b'"\xe2\x82"',
    b'"\xf4\x90\x80\x80"', b"<html>oops</html>", b"nan", b"undefined", b"\x00",
]


@pytest.mark.parametrize("body", TRICKY, ids=[repr(b[:24]) for b in TRICKY])
def test_tricky_documents_decode_as_json_does(body: bytes) -> None:
    assert outcome(decode_exact, body) == outcome(reference, body)


def test_amounts_stay_exact_and_big_ids_stay_ints() -> None:
    value = decode_exact(b'{"id": 9007199254740993, "total": 0.10000000000000000001, "big": 18446744073709551616}')
    assert value == {"id": 9007199254740993, "total": Decimal("0.10000000000000000001"), "big": 2**64}
    assert type(value["id"]) is int and type(value["big"]) is int


@dataclass
class _Object:
    """A JSON object as written: its keys in order, repeats allowed."""

    pairs: list[tuple[str, Any]]


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice([rng.randrange(-10, 10), rng.randrange(-2**70, 2**70), 2**53 + rng.randrange(9)])
    if kind == 2:
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 30)))
        return Decimal(f"{rng.choice(['', '-'])}{rng.randrange(100000)}.{digits}E{rng.randrange(-30, 30)}")
    if kind == 3:
        return Decimal(f"{rng.randrange(100000)}.{rng.randrange(100):02d}")
    if kind in (4, 5):
        alphabet = 'abc é中😀"\\/\b\f\n\r\t\x00\x1f\u2028\ud7ff\ue000\uffff\ud800\udfff'
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
    if kind in (6, 7):
        keys = [str(_random_value(rng, 9)) if kind == 6 else f"k{rng.randrange(4)}" for _ in range(rng.randrange(6))]
        return _Object([(key, _random_value(rng, depth + 1)) for key in keys])
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(5))]


def _dump(value: Any, rng: random.Random) -> str:
    """JSON text with decimals written as numbers, random spacing and escaping, repeated keys."""
    comma, colon = rng.choice([(",", ":"), (", ", ": "), (" ,\n ", " :\t")])
    if isinstance(value, _Object):
        return "{" + comma.join(json.dumps(k, ensure_ascii=rng.random() < 0.5) + colon + _dump(v, rng)
                                for k, v in value.pairs) + "}"
    if isinstance(value, list):
        return "[" + comma.join(_dump(v, rng) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=rng.random() < 0.5)


def test_random_documents_and_their_damaged_copies_decode_as_json_does() -> None:
    rng = random.Random(20261202)
    checked = 0
    for _ in range(400):
        body = _dump(_random_value(rng), rng).encode("utf-8", "surrogatepass")
        copies = [body, body[: rng.randrange(len(body) + 1)]]
        for _ in range(3):
            damaged = bytearray(body)
            damaged[rng.randrange(len(body))] = rng.randrange(256)
            copies.append(bytes(damaged))
        for copy in copies:
            assert outcome(decode_exact, copy) == outcome(reference, copy), copy
            checked += 1
    assert checked == 2000


PAGE = json.dumps({
    "total": 2, "count": 2, "offset": 0, "limit": 100,
    "items": [{"id": 9007199254740993, "email": "zoë@example.com", "total": 10.10, "subtotal": 9.9,
               "items": [{"price": 0.10000000000000000001, "name": "Café 中 😀", "quantity": 3}]},
              {"id": 2, "email": "b@example.com", "total": 1e2, "items": []}],
}, ensure_ascii=False).encode()


def test_every_truncation_of_a_page_raises_value_error() -> None:
    """A 200 cut short anywhere (even inside a multi-byte character) must raise ValueError, which
    the Ecwid connector retries; only the whole body decodes."""
    assert decode_exact(PAGE)["items"][0]["id"] == 9007199254740993
    for end in range(len(PAGE)):
        body = PAGE[:end]
        with pytest.raises(ValueError):
            decode_exact(body)
        assert outcome(decode_exact, body) == outcome(reference, body)


async def test_ecwid_retries_a_page_cut_inside_a_character(httpx_mock: HTTPXMock) -> None:
    profile = b'{"generalInfo": {"storeId": 1003}, "settings": {"storeName": "Caf\xc3\xa9"}, ' \
              b'"formatsAndUnits": {"currency": "EUR"}}'
    httpx_mock.add_response(content=profile[: profile.index(b"\xa9")])
    httpx_mock.add_response(content=profile)
    settings = EcwidSettings(store_id="1003", token="secret_unit_token_123", requests_per_minute=60_000)

    async def no_sleep(_: float) -> None:
        return None

    async with EcwidConnector(settings, retry=RetryPolicy(attempts=3, base_delay=0, max_delay=0),
                              sleep=no_sleep) as connector:
        store = await connector.store_info()
    assert store.currency == "EUR"
    assert len(httpx_mock.get_requests()) == 2
