"""Row building reads the model directly where pydantic's serializer would give the same."""

from __future__ import annotations

import json

from winback.model import Address
from winback.sync import rows


def test_address_fields_are_all_optional_text() -> None:
    """``rows._address_json`` relies on it: a field of another type would need pydantic's dump."""
    assert {name: field.annotation for name, field in Address.model_fields.items()} == {
        name: str | None for name in Address.model_fields
    }


def test_address_json_is_the_pydantic_dump() -> None:
    full = Address(**{name: f"{name} é \u2603" for name in Address.model_fields})
    sparse = Address(city="Lyon", zip="69001", first_name="")
    for address in (full, sparse, Address()):
        dumped = rows._address_json(address)
        assert dumped == address.model_dump(mode="json", exclude_none=True)
        assert list(dumped or {}) == list(address.model_dump(mode="json", exclude_none=True))
    assert rows._address_json(None) is None
    assert rows._address_json(sparse) == {"first_name": "", "city": "Lyon", "zip": "69001"}


def test_address_text_is_json_dumps_of_the_dump() -> None:
    """``rows.address_text`` writes the stored JSON itself: it must be ``json.dumps`` of the dump,
    escapes, non-ASCII and empty strings included."""
    odd = "Zoë \"quoted\" back\\slash\nline\ttab \x00\x1f \u2028 \U0001f600 </script>"
    addresses = [
        Address(**{name: f"{name} é \u2603" for name in Address.model_fields}),
        Address(city="Lyon", zip="69001", first_name=""),
        Address(),
        Address(address1=odd, country_code="FR"),
        Address(last_name="O'Brien", phone="+33 6 12"),
    ]
    for address in addresses:
        assert rows.address_text(address) == json.dumps(rows._address_json(address))
    assert rows.address_text(Address()) == "{}"
    assert rows.address_text(Address(city="Kraków")) == '{"city": "Krak\\u00f3w"}'


def test_address_text_is_remembered_per_instance_never_by_a_reused_id() -> None:
    """The memo answers the same instance with its text, and an equal-looking or newer object
    (even one that got a freed object's ``id``) with its own text, also once the memo is full."""
    first = Address(city="Oslo")
    assert rows.address_text(first) == '{"city": "Oslo"}'
    assert rows.address_text(first) is rows.address_text(first)
    for n in range(rows._TEXTS_SIZE + 10):  # fills the memo past its bound: it is cleared, not grown
        address = Address(city=f"City {n}")
        assert rows.address_text(address) == json.dumps({"city": f"City {n}"})
        del address  # its id is free for the next one
    assert len(rows._TEXTS) <= rows._TEXTS_SIZE
    assert rows.address_text(first) == '{"city": "Oslo"}'
