"""What a synced local store must hold, computed from an emulator's own records.

Shared by the sync-over-emulators and the process-kill tests. Two independent views are compared
with the store's rows (read back with :meth:`LocalStore.iter_rows`):

* *fingerprints* taken straight from the emulator's raw records (ids, ``updated_at``, totals,
  links, line items), so a connector bug cannot hide behind a second read through the connector;
* the connector's own models, read once more from the emulator, compared field by field with the
  rows turned back into models (every field of the common model, not a selection).

Derived facts (``last_order_at`` and friends) are recomputed here from the raw records with the
rule from :mod:`winback.sync.derive`: a real order is not cancelled, not a test and not fully
refunded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from winback.connectors.registry import load_connector_class
from winback.model import Customer, Order, Product
from winback.sync import LocalStore
from winback.sync.rows import DERIVED_FIELDS

RESOURCES = ("customers", "orders", "products")
MODELS = {"customers": Customer, "orders": Order, "products": Product}
Fingerprints = dict[str, dict[str, tuple[Any, ...]]]
"""resource -> record id -> the fields compared."""


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def _shopify_dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _ecwid_dt(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z").astimezone(UTC)


def _unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _email(value: Any) -> str | None:
    return (str(value).strip() or None) if value is not None else None


# --- raw emulator records -> fingerprints ------------------------------------------------------


def _shop_money(bag: Mapping[str, Any], name: str) -> Decimal:
    return _dec(bag[name]["shopMoney"]["amount"])


def shopify_fingerprints(emulator: Any, *, skip_orders: Iterable[str] = ()) -> Fingerprints:
    """From a :class:`~winback.emulator.shopify.app.ShopifyEmulator` (running or not)."""
    skipped = set(skip_orders)
    orders = {
        raw["id"]: (
            _shopify_dt(raw["updatedAt"]),
            _shop_money(raw, "totalPriceSet"),
            _shop_money(raw, "currentTotalPriceSet"),
            _shop_money(raw, "totalRefundedSet"),
            raw["customer"]["id"] if raw["customer"] else None,
            _email(raw["email"]),
            raw["test"],
            _shopify_dt(raw["cancelledAt"]),
            tuple((line["id"], line["quantity"], line["currentQuantity"]) for line in raw["_lines"]),
        )
        for raw in emulator.orders
        if raw["id"] not in skipped
    }
    customers = {
        raw["id"]: (
            _shopify_dt(raw["updatedAt"]),
            _email(raw["email"]),
            int(raw["numberOfOrders"]),
            _dec(raw["amountSpent"]["amount"]),
        )
        for raw in emulator.customers
    }
    products = {
        raw["id"]: (
            _shopify_dt(raw["updatedAt"]),
            raw["title"],
            _dec(raw["priceRangeV2"]["minVariantPrice"]["amount"]),
        )
        for raw in emulator.products
    }
    return {"customers": customers, "orders": orders, "products": products}


def ecwid_order_id(raw: Mapping[str, Any]) -> str:
    """Ecwid's public order ``id``, else ``internalId`` (bodies without ``id``)."""
    return str(raw["id"]) if raw.get("id") not in (None, "") else str(raw["internalId"])


def ecwid_refunded(raw: Mapping[str, Any]) -> Decimal | None:
    """``refundedAmount`` is filled only for Ecwid's own processor; ``refunds[]`` lists every refund."""
    found = []
    if raw.get("refundedAmount") is not None:
        found.append(_dec(raw["refundedAmount"]))
    if raw.get("refunds") is not None:
        found.append(sum((abs(_dec(r["amount"])) for r in raw["refunds"]), Decimal(0)))
    return max(found) if found else None


def ecwid_fingerprints(state: Any, *, skip_orders: Iterable[str] = ()) -> Fingerprints:
    """From an :class:`~winback.emulator.ecwid.state.EcwidState` (``app.state``)."""
    skipped = set(skip_orders)
    orders = {
        ecwid_order_id(raw): (
            _unix(raw["updateTimestamp"]),
            _dec(raw["total"]),
            max(_dec(raw["total"]) - (ecwid_refunded(raw) or 0), Decimal(0)),
            ecwid_refunded(raw),
            str(raw["customerId"]) if raw.get("customerId") else None,
            _email(raw.get("email")),
            False,
            _unix(raw["updateTimestamp"]) if raw["paymentStatus"] == "CANCELLED" else None,
            tuple(
                (str(item["id"]), item["quantity"], 0 if raw["paymentStatus"] == "REFUNDED" else item["quantity"])
                for item in raw["items"]
            ),
        )
        for raw in state.snapshot("orders")
        if raw["paymentStatus"] != "INCOMPLETE" and ecwid_order_id(raw) not in skipped
    }
    customers = {
        str(raw["id"]): (
            _ecwid_dt(raw.get("updated") or raw["registered"]),
            _email(raw["email"]),
            raw["stats"]["numberOfOrders"],
            _dec(raw["stats"]["salesValue"]),
        )
        for raw in state.snapshot("customers")
    }
    products = {
        str(raw["id"]): (_unix(raw["updateTimestamp"]), raw["name"], _dec(raw["price"]))
        for raw in state.snapshot("products")
    }
    return {"customers": customers, "orders": orders, "products": products}


# --- store rows -> fingerprints ----------------------------------------------------------------


def _amount(money: Mapping[str, Any] | None) -> Decimal | None:
    return None if money is None else money["amount"]


def _row_fingerprint(resource: str, row: Mapping[str, Any]) -> tuple[Any, ...]:
    if resource == "orders":
        return (
            row["updated_at"],
            _amount(row["total"]),
            _amount(row["current_total"]),
            _amount(row["refunded"]),
            row["customer_id"],
            row["email"],
            row["test"],
            row["cancelled_at"],
            tuple((line["id"], line["quantity"], line["current_quantity"]) for line in row["line_items"]),
        )
    if resource == "customers":
        return (row["updated_at"], row["email"], row["orders_count"], _amount(row["amount_spent"]))
    return (row["updated_at"], row["title"], _amount(row["price"]))


@dataclass
class Stored:
    rows: dict[str, dict[str, dict[str, Any]]]
    """resource -> id -> the row as ``iter_rows`` gives it."""
    duplicates: dict[str, list[str]]
    """resource -> ids ``iter_rows`` returned more than once."""

    def fingerprints(self) -> Fingerprints:
        return {
            resource: {rid: _row_fingerprint(resource, row) for rid, row in rows.items()}
            for resource, rows in self.rows.items()
        }


def read_store(store: LocalStore, store_key: str) -> Stored:
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    duplicates: dict[str, list[str]] = {}
    for resource in RESOURCES:
        listed = list(store.iter_rows(store_key, resource, batch=500))
        counts = Counter(row["id"] for row in listed)
        duplicates[resource] = sorted(rid for rid, n in counts.items() if n > 1)
        rows[resource] = {row["id"]: row for row in listed}
    return Stored(rows=rows, duplicates=duplicates)


def assert_store_equals(store: LocalStore, store_key: str, expected: Fingerprints) -> Stored:
    """Counts, id sets, no duplicates, every compared field, and the order totals' sum."""
    stored = read_store(store, store_key)
    assert stored.duplicates == {resource: [] for resource in RESOURCES}
    actual = stored.fingerprints()
    for resource in RESOURCES:
        assert store.count(store_key, resource) == len(expected[resource]), resource
        assert set(actual[resource]) == set(expected[resource]), resource
        wrong = {
            rid: (actual[resource][rid], want)
            for rid, want in expected[resource].items()
            if actual[resource][rid] != want
        }
        assert wrong == {}, f"{resource} differ from the emulator (stored, expected): {list(wrong.items())[:3]}"
    assert sum(fp[1] for fp in actual["orders"].values()) == sum(fp[1] for fp in expected["orders"].values())
    return stored


# --- the connector's models --------------------------------------------------------------------


async def read_models(platform: str, settings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Everything the connector reads from the emulator, as common-model records by id."""
    found: dict[str, dict[str, Any]] = {resource: {} for resource in RESOURCES}
    async with load_connector_class(platform).from_settings(settings) as connector:
        streams = {
            "customers": connector.customers(None),
            "orders": connector.orders(None, full=True),
            "products": connector.products(),
        }
        for resource, stream in streams.items():
            async for page in stream:
                assert page.rejected == [], f"the reference read of {resource} rejected records"
                for record in page.records:
                    found[resource][record.id] = record
    return found


EARLIEST_SEEN: Mapping[str, tuple[str, ...]] = {"orders": ("fulfilled_at", "delivered_at")}
"""Columns the store keeps at their earliest value (winback.sync.writes._keep_earliest)."""


def assert_rows_equal_models(stored: Stored, models: Mapping[str, Mapping[str, Any]]) -> None:
    """Each stored row, derived facts dropped, is exactly the connector's model of that record."""
    for resource in RESOURCES:
        model = MODELS[resource]
        assert set(stored.rows[resource]) == set(models[resource]), resource
        derived = set(DERIVED_FIELDS[resource])
        different = []
        kept = EARLIEST_SEEN.get(resource, ())
        for rid, row in stored.rows[resource].items():
            rebuilt = model.model_validate({k: v for k, v in row.items() if k not in derived})
            read = models[resource][rid]
            for name in kept:  # the store keeps the first sighting; a later read may only be later
                ours, theirs = getattr(rebuilt, name), getattr(read, name)
                if ours is not None and theirs is not None and ours <= theirs:
                    read = read.model_copy(update={name: ours})
            if rebuilt != read:
                different.append(rid)
        assert different == [], f"{len(different)} {resource} differ from the connector's read: {different[:5]}"


# --- derived facts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RawOrder:
    customer_id: str | None
    lower_email: str | None
    ordered_at: datetime
    net: Decimal
    real: bool


def _lower(value: Any) -> str | None:
    email = _email(value)
    return email.lower() if email else None


def shopify_raw_orders(emulator: Any) -> list[RawOrder]:
    result = []
    for raw in emulator.orders:
        total, refunded = _shop_money(raw, "totalPriceSet"), _shop_money(raw, "totalRefundedSet")
        fully_refunded = raw["displayFinancialStatus"] == "REFUNDED" or (total > 0 and refunded >= total)
        result.append(
            RawOrder(
                customer_id=raw["customer"]["id"] if raw["customer"] else None,
                lower_email=_lower(raw["email"]),
                ordered_at=_shopify_dt(raw["processedAt"] or raw["createdAt"]),  # type: ignore[arg-type]
                net=_shop_money(raw, "currentTotalPriceSet"),
                real=not (raw["cancelledAt"] is not None or raw["test"] or fully_refunded),
            )
        )
    return result


def ecwid_raw_orders(state: Any) -> list[RawOrder]:
    result = []
    for raw in state.snapshot("orders"):
        status = raw["paymentStatus"]
        if status == "INCOMPLETE":
            continue
        total, refunded = _dec(raw["total"]), ecwid_refunded(raw) or Decimal(0)
        fully_refunded = status == "REFUNDED" or (total > 0 and refunded >= total)
        result.append(
            RawOrder(
                customer_id=str(raw["customerId"]) if raw.get("customerId") else None,
                lower_email=_lower(raw.get("email")),
                ordered_at=_unix(raw["createTimestamp"]),
                net=max(total - refunded, Decimal(0)),
                real=not (status == "CANCELLED" or fully_refunded),
            )
        )
    return result


def customer_orders(orders: list[RawOrder], customer_id: str, lower_email: str | None) -> list[RawOrder]:
    """The customer's own orders plus guest orders carrying the customer's email."""
    return [
        o for o in orders
        if o.customer_id == customer_id or (o.customer_id is None and lower_email and o.lower_email == lower_email)
    ]


def expected_facts(linked: list[RawOrder]) -> tuple[datetime | None, datetime | None, int, Decimal]:
    real = [o for o in linked if o.real]
    return (
        min((o.ordered_at for o in real), default=None),
        max((o.ordered_at for o in real), default=None),
        len(real),
        sum((o.net for o in real), Decimal(0)),
    )


def assert_derived_facts(stored: Stored, orders: list[RawOrder], *, sample: int = 6) -> int:
    """Spot-check customers' derived facts; returns how many checked customers had a non-real
    order newer than their last real one (the case the rule exists for)."""
    tricky, plain = [], []
    for rid, row in sorted(stored.rows["customers"].items()):
        linked = customer_orders(orders, rid, _lower(row["email"]))
        real = [o for o in linked if o.real]
        fake = [o for o in linked if not o.real]
        if fake and max(o.ordered_at for o in fake) > max((o.ordered_at for o in real), default=datetime.min.replace(tzinfo=UTC)):
            tricky.append((rid, linked))
        elif real:
            plain.append((rid, linked))
    checked = tricky[:sample] + plain[:sample]
    assert checked, "no customer with orders to check"
    for rid, linked in checked:
        row = stored.rows["customers"][rid]
        first, last, count, spent = expected_facts(linked)
        assert (row["first_order_at"], row["last_order_at"], row["real_orders_count"]) == (first, last, count), rid
        assert _amount(row["real_amount_spent"]) == spent, rid
    return len(tricky[:sample])
