"""The emulator's ``responseFields`` selection (Ecwid's documented partial responses)."""

from __future__ import annotations

import pytest

from winback.emulator.ecwid import fields


def test_parse_nests_and_keeps_bare_names_whole() -> None:
    assert fields.parse("total,items(id,email,items(sku,price)),count") == {
        "total": None,
        "items": {"id": None, "email": None, "items": {"sku": None, "price": None}},
        "count": None,
    }


def test_a_name_given_twice_keeps_the_union() -> None:
    assert fields.parse("items(id),items(email)") == {"items": {"id": None, "email": None}}
    assert fields.parse("items(id),items") == {"items": None}


@pytest.mark.parametrize("spec", ["items(id", "items(id))", "a,,b", "", "items()", "(id)"])
def test_malformed_specs_are_refused(spec: str) -> None:
    with pytest.raises(fields.FieldSpecError):
        fields.parse(spec)


def test_select_narrows_objects_and_each_item_of_lists() -> None:
    payload = {
        "total": 2,
        "count": 2,
        "items": [
            {"id": 1, "email": "a@x", "secret": "s", "items": [{"sku": "A", "name": "n", "price": 1}]},
            {"id": 2, "items": []},
        ],
    }
    chosen = fields.select(payload, fields.parse("total,items(id,email,items(sku,price)),missing"))
    assert chosen == {
        "total": 2,
        "items": [{"id": 1, "email": "a@x", "items": [{"sku": "A", "price": 1}]}, {"id": 2, "items": []}],
    }


def test_no_selection_returns_the_payload_itself() -> None:
    payload = {"a": 1}
    assert fields.select(payload, None) is payload
