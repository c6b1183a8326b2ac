"""The Ecwid parser builds orders and customers without validating them again
(:meth:`winback.model._Frozen.from_checked`): it must still give what the validating parser gave.

``data/ecwid_parse_golden.jsonl.gz`` was written by the parser as it stood before that change
(commit 946763d): 110 emulator records (orders of every status, refund and coupon shape; customers
with and without billing, stats and consent) and about 940 variations of them (every field
malformed, missing or spelled differently, dates in every format ``strptime`` accepted or
refused, out-of-range timestamps). For each it holds the model as JSON (so ``Decimal`` scale,
offsets and enum values count) or the error raised, whose first line is the quarantine reason.
"""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from winback import model
from winback.connectors.ecwid import parse, values

GOLDEN = Path(__file__).parent / "data" / "ecwid_parse_golden.jsonl.gz"
PARSERS = {"order": parse.parse_order, "customer": parse.parse_customer, "product": parse.parse_product}


def _raw(text: str) -> Any:
    return json.loads(text, object_hook=lambda d: Decimal(d["__decimal__"]) if set(d) == {"__decimal__"} else d)


def _cases() -> list[dict[str, Any]]:
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


CASES = _cases()


def _outcome(case: dict[str, Any]) -> str:
    try:
        record = PARSERS[case["kind"]](_raw(case["raw"]), store_id="1003", currency=case.get("currency", "USD"),
                                       **case["kw"])
    except Exception as exc:
        return f"error {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    return "ok " + record.model_dump_json()


def _same(old: str, new: str) -> bool:
    """Equal, except that what the old parser crashed on (a date ``datetime`` cannot hold) is now
    a quarantine reason."""
    return new == old or (old.startswith("error OverflowError") and new.startswith("error RecordError: "))


@pytest.fixture
def validating(monkeypatch: pytest.MonkeyPatch) -> list[BaseModel]:
    """Make every unchecked construction also validate, and require both to agree exactly."""
    built: list[BaseModel] = []
    original = model._Frozen.from_checked.__func__  # type: ignore[attr-defined]

    def checked(cls: type[BaseModel], values: dict[str, Any]) -> BaseModel:
        validated = cls(**values)
        assert list(values) == list(cls.model_fields), f"{cls.__name__}: fields missing or out of order"
        made = original(cls, dict(values))
        assert made == validated and made.model_dump_json() == validated.model_dump_json()
        assert all(type(getattr(made, f)) is type(getattr(validated, f)) for f in cls.model_fields)
        built.append(made)
        return made

    monkeypatch.setattr(model._Frozen, "from_checked", classmethod(checked))
    monkeypatch.setattr(values, "_AMOUNTS", {})
    monkeypatch.setattr(values, "_new_money", values.Money.from_checked)
    for name in ("_new_address", "_new_line", "_new_order", "_new_customer"):
        monkeypatch.setattr(parse, name, getattr(getattr(parse, name).__self__, "from_checked"))
    return built


def test_the_golden_file_covers_what_matters() -> None:
    outcomes = [c["expected"] for c in CASES]
    assert len(CASES) > 1000
    assert sum(o.startswith("ok ") for o in outcomes) > 500 and sum(o.startswith("error ") for o in outcomes) > 200
    assert {c["kind"] for c in CASES} == set(PARSERS)


def test_every_record_parses_as_the_validating_parser_parsed_it() -> None:
    differences = [(c["raw"][:200], c["expected"][:300], got[:300])
                   for c in CASES if not _same(c["expected"], got := _outcome(c))]
    assert differences == []


def test_unchecked_models_equal_validated_ones(validating: list[BaseModel]) -> None:
    for case in CASES:
        if case["kind"] != "product":
            _outcome(case)
    kinds = {type(m) for m in validating}
    assert {model.Order, model.Customer, model.LineItem, model.Money, model.Address} <= kinds


def test_sort_keys_are_unchanged() -> None:
    """The reader orders raw records by these seconds; a crash there is now 0 (quarantined later)."""
    for case in CASES:
        raw, old = _raw(case["raw"]), case.get("sort_key")
        if "sort_key" not in case:
            continue
        if case["kind"] == "order" and isinstance(raw, dict):
            assert parse.sort_key_seconds(raw, "updateTimestamp", "updateDate") == (0 if isinstance(old, str) else old)
        elif case["kind"] == "customer" and isinstance(raw, dict):
            try:
                got: Any = int(parse.customer_updated(raw).timestamp())
            except parse.RecordError as exc:
                got = f"error RecordError: {exc}"
            assert _same(old, got) if isinstance(old, str) else got == old


@pytest.mark.parametrize("value", ["0001-01-01 00:00:00 +0100", "9999-12-31 23:59:59 -0100", 10**20])
def test_a_date_datetime_cannot_hold_is_a_record_error(value: Any) -> None:
    raw = {"id": "X1", "total": 1, "createTimestamp": 1, "updateTimestamp": None, "updateDate": value}
    with pytest.raises(parse.RecordError, match="updateDate is out of range"):
        parse.parse_order(raw, store_id="1", currency="USD")
    assert parse.sort_key_seconds(raw, "updateTimestamp", "updateDate") == 0


def test_a_bad_currency_is_still_refused() -> None:
    raw = _raw(next(c["raw"] for c in CASES if c["kind"] == "order" and c["expected"].startswith("ok ")))
    with pytest.raises(ValueError, match="validation error for Money"):
        parse.parse_order(raw, store_id="1", currency="usd")


def test_from_checked_models_behave_like_validated_ones() -> None:
    values = {"amount": Decimal("1.10"), "currency": "EUR"}
    made, validated = model.Money.from_checked(dict(values)), model.Money(**values)
    assert made == validated and hash(made) == hash(validated) and repr(made) == repr(validated)
    assert made.model_copy(update={"currency": "USD"}).currency == "USD" and made.currency == "EUR"
    with pytest.raises(ValueError):
        made.currency = "USD"  # type: ignore[misc]


def test_shared_amounts_keep_their_exact_text() -> None:
    base = _raw(next(c["raw"] for c in CASES if c["kind"] == "order" and c["expected"].startswith("ok ")))
    totals = [Decimal("1.1"), Decimal("1.10"), Decimal("1.1"), Decimal("1E+1"), Decimal("10"), Decimal("-0.0")]
    parsed = [parse.parse_order({**base, "total": t, "refundedAmount": None, "refunds": None}, store_id="1",
                                currency="USD") for t in totals]
    assert [str(o.total.amount) for o in parsed] == ["1.1", "1.10", "1.1", "1E+1", "10", "-0.0"]
    assert [str(o.current_total.amount) for o in parsed] == ["1.1", "1.10", "1.1", "10", "10", "-0.0"]
    assert parsed[0].total is parsed[2].total and parsed[0].total is not parsed[1].total
    eur = parse.parse_order({**base, "total": Decimal("1.1")}, store_id="1", currency="EUR")
    assert eur.total.currency == "EUR" and parsed[0].total.currency == "USD"


def test_from_checked_refuses_models_it_cannot_build_alike() -> None:
    from pydantic import PrivateAttr

    class WithPrivate(model._Frozen):
        name: str
        _seen: int = PrivateAttr(default=0)

    with pytest.raises(TypeError, match="private attributes"):
        WithPrivate.from_checked({"name": "x"})
