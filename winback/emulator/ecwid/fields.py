"""Ecwid's ``responseFields`` query parameter: answer only the fields a client names.

Ecwid documents it on its searches and single-record reads ("Q: How can I specify what fields I
want to receive in response? Add responseFields query param", e.g.
``?responseFields=items(id,email,taxId)`` on ``GET /customers``,
``?responseFields=id,email,items(price,sku,name)`` on ``GET /orders/{id}``): a comma-separated list
of names, where ``name(...)`` narrows an object, or each object of a list, to the names inside.

A client that parses a handful of an order's hundred-odd fields asks for those only, which makes
each page several times smaller to send and to decode. The emulator applies the selection to the
whole answer, envelope included (``total``, ``count``... are kept only when named): the stricter
reading of the documentation, so a client that forgets to ask for ``total`` finds out here.

Assumed where the documentation is silent: names that do not exist are ignored; an unbalanced
parenthesis or an empty name is refused with 400 ``INVALID_PARAMETER``.
"""

from __future__ import annotations

from typing import Any

FieldTree = dict[str, "FieldTree | None"]
"""Each selected name, mapped to the selection inside it, or to ``None`` to keep it whole."""


class FieldSpecError(ValueError):
    """``responseFields`` is not a well-formed list of names."""


def parse(spec: str) -> FieldTree:
    """The selection ``spec`` describes, e.g. ``total,items(id,items(sku))``."""
    tree, end = _parse_list(spec, 0)
    if end != len(spec):
        raise FieldSpecError(f"unexpected {spec[end]!r} at position {end}")
    return tree


def _parse_list(spec: str, position: int) -> tuple[FieldTree, int]:
    tree: FieldTree = {}
    while True:
        start = position
        while position < len(spec) and spec[position] not in ",()":
            position += 1
        name = spec[start:position].strip()
        if not name:
            raise FieldSpecError(f"empty field name at position {start}")
        inner: FieldTree | None = None
        if position < len(spec) and spec[position] == "(":
            inner, position = _parse_list(spec, position + 1)
            if position >= len(spec) or spec[position] != ")":
                raise FieldSpecError(f"unclosed '(' after {name!r}")
            position += 1
        tree[name] = _merge(tree.get(name, {}), inner) if name in tree else inner
        if position < len(spec) and spec[position] == ",":
            position += 1
            continue
        return tree, position


def _merge(old: FieldTree | None, new: FieldTree | None) -> FieldTree | None:
    """Naming a field twice keeps the union (a bare name keeps the field whole)."""
    if old is None or new is None:
        return None
    merged = dict(old)
    for name, inner in new.items():
        merged[name] = _merge(merged[name], inner) if name in merged else inner
    return merged


def select(payload: Any, tree: FieldTree | None) -> Any:
    """``payload`` narrowed to ``tree``: objects keep the named keys, lists apply it to each item,
    other values are kept as they are."""
    if tree is None:
        return payload
    if isinstance(payload, dict):
        return {name: select(payload[name], inner) for name, inner in tree.items() if name in payload}
    if isinstance(payload, list):
        return [select(item, tree) for item in payload]
    return payload
