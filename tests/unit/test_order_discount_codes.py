"""Orders keep the discount codes their buyer used, on both platforms, through to the stored row."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema, parse, validate
from sqlalchemy import select

from tests.report_fakes import STORE_KEY, order, seed
from tests.unit.test_ecwid_parse import order as ecwid_order
from winback.connectors.ecwid import parse as ecwid_parse
from winback.connectors.shopify.documents import ORDER_FIELDS
from winback.connectors.shopify.parse import parse_order
from winback.sync import open_store, tables

SCHEMA = Path(__file__).resolve().parents[2].parent / "shared" / "shopify" / "admin-2026-07.graphql"


def _shopify_node(**extra: object) -> dict:
    return {
        "id": "gid://shopify/Order/1", "name": "#1001", "email": "a@example.com",
        "createdAt": "2026-03-01T10:00:00Z", "updatedAt": "2026-03-01T10:00:00Z",
        "processedAt": "2026-03-01T10:00:00Z", "test": False, "displayFinancialStatus": "PAID",
        "currencyCode": "EUR", "totalPriceSet": {"shopMoney": {"amount": "45.00", "currencyCode": "EUR"}},
        "lineItems": {"nodes": []}, **extra,
    }


def test_shopify_order_query_asks_for_discount_codes_and_validates() -> None:
    assert "discountCodes" in ORDER_FIELDS
    if SCHEMA.exists():
        document = parse("query { orders(first: 1) { nodes { ...OrderFields } } }" + ORDER_FIELDS)
        assert validate(build_schema(SCHEMA.read_text(encoding="utf-8")), document) == []


def test_shopify_order_keeps_its_codes() -> None:
    assert parse_order(_shopify_node(discountCodes=["WB-ANN-1", "FREESHIP"]), "s").discount_codes == (
        "WB-ANN-1", "FREESHIP")
    assert parse_order(_shopify_node(), "s").discount_codes == ()


def test_ecwid_order_keeps_its_coupon_code() -> None:
    raw = ecwid_order(discountCoupon={"name": "Win back", "code": "WB-ANN-1", "discountType": "PERCENT"})
    assert ecwid_parse.parse_order(raw, store_id="1003", currency="EUR").discount_codes == ("WB-ANN-1",)
    assert ecwid_parse.parse_order(ecwid_order(), store_id="1003", currency="EUR").discount_codes == ()
    odd = ecwid_order(discountCoupon="not an object")
    assert ecwid_parse.parse_order(odd, store_id="1003", currency="EUR").discount_codes == ()


def test_stored_order_row_carries_the_codes(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        seed(store, [order("o1", "a@example.com", "2026-03-01", "10", discount_codes=("WB-A",)),
                     order("o2", "b@example.com", "2026-03-01", "10")])
        with store.reading() as conn:
            rows = dict(conn.execute(select(tables.orders.c.id, tables.orders.c.discount_codes)
                                     .where(tables.orders.c.store_key == STORE_KEY)).all())
    finally:
        store.close()
    assert rows == {"o1": ["WB-A"], "o2": []}
