"""The Ecwid emulator's JSON: every amount an exact number, the text Ecwid's clients parse.

The reference is what the emulator wrote before it used msgspec: the standard library's encoder,
each ``Decimal`` marked, then the marks rewritten as ``format(value, "f")``. Both are parsed with
``Decimal`` numbers and must be equal, value for value, over a generated store's orders,
customers and products.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from winback.emulator.ecwid import render
from winback.emulator.generate import generate_world


_MARK = re.compile(r'"\\u0000D(-?[0-9.Ee+-]+)\\u0000"')


def _marked(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"\u0000D{format(value, 'f')}\u0000"
    if isinstance(value, dict):
        return {key: _marked(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_marked(item) for item in value]
    return value


def _reference(payload: Any) -> bytes:
    """The emulator's former ``dumps``."""
    return _MARK.sub(lambda m: m.group(1), json.dumps(_marked(payload), ensure_ascii=True)).encode()


def _parsed(body: bytes) -> Any:
    return json.loads(body, parse_float=Decimal, parse_int=Decimal)


def test_amounts_are_written_as_their_exact_text_in_utf8() -> None:
    body = render.dumps({"total": Decimal("12.30"), "tax": Decimal("-0.50"), "zero": Decimal("0.00"),
                         "count": 3, "rate": 0.25, "name": "Zoë Ångström", "items": [{"price": Decimal("7")}]})
    assert body == (
        '{"total":12.30,"tax":-0.50,"zero":0.00,"count":3,"rate":0.25,"name":"Zoë Ångström","items":[{"price":7}]}'
    ).encode()


def test_a_generated_stores_records_read_back_as_the_standard_encoder_wrote_them() -> None:
    world = generate_world(seed=5, customers=60, orders=150)
    customers = {c.key: c for c in world.customers}
    payloads = [render.render_order(o, customer=customers.get(o.customer_key)) for o in world.orders]
    payloads += [render.render_customer(c, stats=render.empty_stats()) for c in world.customers]
    payloads += [render.render_product(p, "https://shop.example") for p in world.products]
    amounts = 0
    for payload in payloads:
        body = render.dumps(payload)
        assert _parsed(body) == _parsed(_reference(payload))
        amounts += body.count(b".")
    assert amounts > 1000  # the store's records do carry amounts
