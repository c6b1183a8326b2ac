"""LocalStore.commit_page and friends, on SQLite and PostgreSQL (fixture ``sync_db``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.unit.test_sync_support import KEY, FakeConnector, at, customer, eur, order, product, rejected
from winback.connectors.base import Page, Resource
from winback.model import AccountState, Customer, FinancialStatus, Order, Product
from winback.sync import LocalStore, store_key
from winback.sync.rows import DERIVED_FIELDS


async def _register(store: LocalStore) -> str:
    return store.upsert_store(await FakeConnector().store_info())


def _commit(store: LocalStore, resource: Resource, *records, rejected_=(), cursor=None):
    page = Page(records=list(records), rejected=list(rejected_))
    return store.commit_page(KEY, resource, page, cursor)


def _customers(store: LocalStore) -> dict[str, dict]:
    return {row["id"]: row for row in store.iter_rows(KEY, "customers")}


def _buyers(store: LocalStore) -> dict[str, dict]:
    return {row["lower_email"]: row for row in store.iter_rows(KEY, "buyers")}


def _model(row: dict, resource: str, cls):
    return cls.model_validate({k: v for k, v in row.items() if k not in DERIVED_FIELDS[resource]})


async def test_round_trip_is_exact(sync_db: LocalStore) -> None:
    assert await _register(sync_db) == KEY == store_key("fake", "shop1")
    c = customer("c1", tags=("vip", "b2b"), orders_count=3, amount_spent=eur("0.1"))
    o = order("o1", customer_id="c1", email="C1@Example.com", total="19.99", lines=3, refunded=eur("0.01"))
    p = product("p1")
    _commit(sync_db, Resource.CUSTOMERS, c)
    _commit(sync_db, Resource.ORDERS, o)
    _commit(sync_db, Resource.PRODUCTS, p)

    [crow] = sync_db.iter_rows(KEY, "customers")
    [orow] = sync_db.iter_rows(KEY, "orders")
    [prow] = sync_db.iter_rows(KEY, "products")
    assert _model(crow, "customers", Customer) == c
    assert _model(orow, "orders", Order) == o
    assert _model(prow, "products", Product) == p
    assert crow["real_amount_spent"] == {"amount": Decimal("19.98"), "currency": "EUR"}
    assert isinstance(orow["total"]["amount"], Decimal)


async def test_same_page_twice_changes_nothing(sync_db: LocalStore) -> None:
    await _register(sync_db)
    records = [order("o1", customer_id="c1", lines=2), order("o2", email="g@example.com", updated=1)]
    _commit(sync_db, Resource.CUSTOMERS, customer("c1"))
    _commit(sync_db, Resource.ORDERS, *records)
    first = (list(sync_db.iter_rows(KEY, "orders")), _customers(sync_db), _buyers(sync_db))
    _commit(sync_db, Resource.ORDERS, *records)
    assert (list(sync_db.iter_rows(KEY, "orders")), _customers(sync_db), _buyers(sync_db)) == first
    assert sync_db.count(KEY, "orders") == 2
    assert [len(o["line_items"]) for o in first[0]] == [2, 1]


async def test_updated_order_replaces_its_lines(sync_db: LocalStore) -> None:
    await _register(sync_db)
    _commit(sync_db, Resource.ORDERS, order("o1", email="a@example.com", lines=3))
    _commit(sync_db, Resource.ORDERS, order("o1", email="a@example.com", lines=1, updated=5))
    [row] = sync_db.iter_rows(KEY, "orders")
    assert [line["id"] for line in row["line_items"]] == ["o1-l0"]


async def test_older_copy_does_not_overwrite_newer(sync_db: LocalStore) -> None:
    await _register(sync_db)
    _commit(sync_db, Resource.CUSTOMERS, customer("c1", updated=10, first_name="New"))
    result = _commit(sync_db, Resource.CUSTOMERS, customer("c1", updated=5, first_name="Old"))
    assert (result.upserted, result.skipped) == (0, 1)
    assert _customers(sync_db)["c1"]["first_name"] == "New"


async def test_cursor_only_moves_forward(sync_db: LocalStore) -> None:
    await _register(sync_db)
    assert sync_db.get_cursor(KEY, Resource.ORDERS) is None
    assert _commit(sync_db, Resource.ORDERS, cursor=at(10)).cursor == at(10)
    assert _commit(sync_db, Resource.ORDERS, cursor=at(3)).cursor == at(10)
    assert _commit(sync_db, Resource.ORDERS, cursor=None).cursor == at(10)
    assert sync_db.get_cursor(KEY, "orders") == at(10)
    assert _commit(sync_db, Resource.ORDERS, cursor=at(11)).cursor == at(11)
    assert sync_db.get_cursor(KEY, Resource.CUSTOMERS) is None


async def test_rejected_records_are_quarantined_and_the_rest_lands(sync_db: LocalStore, caplog) -> None:
    await _register(sync_db)
    raw = {"id": 7, "total": "not a number", "nested": {"x": [1, 2]}}
    _commit(
        sync_db, Resource.ORDERS, order("o1", email="a@example.com"),
        rejected_=[rejected(Resource.ORDERS, "o7", raw), rejected(Resource.ORDERS, None, {"no": "id"})],
    )
    assert sync_db.count(KEY, "orders") == 1
    quarantined = sync_db.quarantined(KEY)
    assert [(q["record_id"], q["raw"], q["reason"]) for q in quarantined] == [
        ("o7", raw, "bad total"), (None, {"no": "id"}, "bad total"),
    ]
    assert "quarantined orders o7" in caplog.text

    # seen again: still one row; then translated fine: resolved
    _commit(sync_db, Resource.ORDERS, rejected_=[rejected(Resource.ORDERS, "o7", raw)])
    assert [q["times_seen"] for q in sync_db.quarantined(KEY)] == [2, 1]
    _commit(sync_db, Resource.ORDERS, order("o7", email="b@example.com", updated=1))
    assert [q["record_id"] for q in sync_db.quarantined(KEY)] == [None]
    assert sync_db.count(KEY, "quarantine") == 1


async def test_derived_facts_count_real_orders_only(sync_db: LocalStore) -> None:
    await _register(sync_db)
    _commit(sync_db, Resource.CUSTOMERS, customer("c1", email="Ann@Example.com"), customer("c2"))
    _commit(
        sync_db,
        Resource.ORDERS,
        order("o1", customer_id="c1", created=10, total="10.00"),
        order("o2", customer_id="c1", created=20, total="5.50", refunded=eur("1.25")),
        order("o3", customer_id="c1", created=30, cancelled_at=at(31)),
        order("o4", customer_id="c1", created=40, test=True),
        order("o5", customer_id="c1", created=50, financial_status=FinancialStatus.REFUNDED),
        order("o6", customer_id="c1", created=60, total="8.00", refunded=eur("8.00")),
        # a guest order with c1's email (different case) links to c1
        order("o7", email=" ann@example.COM", created=25, total="2.00"),
        # processed_at wins over created_at (imported historical order)
        order("o8", customer_id="c2", created=70, processed_at=at(-100)),
    )
    c1 = _customers(sync_db)["c1"]
    assert c1["first_order_at"] == at(10)
    assert c1["last_order_at"] == at(25)
    assert c1["real_orders_count"] == 3
    assert c1["real_amount_spent"]["amount"] == Decimal("10.00") + Decimal("4.25") + Decimal("2.00")
    c2 = _customers(sync_db)["c2"]
    assert (c2["first_order_at"], c2["last_order_at"]) == (at(-100), at(-100))

    buyer = _buyers(sync_db)["ann@example.com"]
    assert buyer["customer_id"] == "c1"
    assert buyer["is_guest"] is False
    assert buyer["orders_count"] == 7
    assert buyer["real_orders_count"] == 3
    assert buyer["last_order_at"] == at(25)
    assert buyer["last_order_id"] == "o7"


async def test_guest_buyer_without_customer_row(sync_db: LocalStore) -> None:
    await _register(sync_db)
    _commit(
        sync_db,
        Resource.ORDERS,
        order("g1", email="Guest@Shop.test", created=5),
        order("g2", email="guest@shop.test", created=9, total="3.00"),
        order("g3", email="guest@shop.test", created=12, test=True),
    )
    buyer = _buyers(sync_db)["guest@shop.test"]
    assert buyer["customer_id"] is None and buyer["is_guest"] is True
    assert (buyer["first_order_at"], buyer["last_order_at"], buyer["last_order_id"]) == (at(5), at(9), "g2")
    assert buyer["real_amount_spent"] == {"amount": Decimal("13.00"), "currency": "EUR"}

    # the guest later gets an account (in a later page): linked both ways
    _commit(sync_db, Resource.CUSTOMERS, customer("c9", email="guest@shop.test", updated=20))
    assert _customers(sync_db)["c9"]["last_order_at"] == at(9)
    buyer = _buyers(sync_db)["guest@shop.test"]
    assert (buyer["customer_id"], buyer["is_guest"]) == ("c9", False)

    # a guest-state customer (Shopify DISABLED) keeps the buyer a guest
    _commit(sync_db, Resource.CUSTOMERS, customer("c9", email="guest@shop.test", updated=21, account=AccountState.GUEST))
    assert _buyers(sync_db)["guest@shop.test"]["is_guest"] is True


async def test_changing_an_email_moves_the_facts(sync_db: LocalStore) -> None:
    await _register(sync_db)
    _commit(sync_db, Resource.ORDERS, order("o1", email="old@example.com", created=5))
    assert set(_buyers(sync_db)) == {"old@example.com"}
    _commit(sync_db, Resource.ORDERS, order("o1", email="new@example.com", created=5, updated=1))
    assert set(_buyers(sync_db)) == {"new@example.com"}


async def test_redacted_customer_is_forgotten_and_stays_forgotten(sync_db: LocalStore) -> None:
    await _register(sync_db)
    _commit(sync_db, Resource.CUSTOMERS, customer("c1", email="ann@example.com", phone="+3312345678"))
    _commit(
        sync_db, Resource.ORDERS,
        order("o1", customer_id="c1", email="ann@example.com", created=5),
        order("o2", email="ANN@example.com", created=6),
    )
    sync_db.redact_customer(KEY, "c1")

    c1 = _customers(sync_db)["c1"]
    assert c1["redacted"] is True and c1["deleted_at"] is not None
    assert [c1[f] for f in ("email", "first_name", "last_name", "phone", "default_address")] == [None] * 5
    assert c1["real_orders_count"] == 1  # its own order still links by id; amounts are not personal
    assert [o["email"] for o in sync_db.iter_rows(KEY, "orders")] == [None, None]
    assert _buyers(sync_db) == {}

    # the platform sends the same data again: it does not come back
    _commit(sync_db, Resource.CUSTOMERS, customer("c1", email="ann@example.com", updated=50))
    _commit(sync_db, Resource.ORDERS, order("o3", email="Ann@Example.com", created=60, updated=60))
    assert _customers(sync_db)["c1"]["email"] is None
    assert [o["email"] for o in sync_db.iter_rows(KEY, "orders")] == [None, None, None]
    assert _buyers(sync_db) == {}


async def test_a_redaction_before_the_first_sync_is_kept(sync_db: LocalStore) -> None:
    """Shopify may send customers/redact before winback ever synced the store: the erasure is
    recorded on a placeholder store row, and the first sync neither fails nor brings the data back."""
    sync_db.redact_customer(KEY, "c1", email="Ann@example.com")
    assert await _register(sync_db) == KEY  # the first sync's store info replaces the placeholder
    [store_row] = [r for r in _store_rows(sync_db) if r["key"] == KEY]
    assert store_row["currency"] != "XXX"
    _commit(sync_db, Resource.CUSTOMERS, customer("c1", email="ann@example.com", updated=50))
    _commit(sync_db, Resource.ORDERS, order("o1", email="ANN@example.com", created=60, updated=60))
    assert _customers(sync_db)["c1"]["email"] is None
    assert [o["email"] for o in sync_db.iter_rows(KEY, "orders")] == [None]
    assert _buyers(sync_db) == {}


def _store_rows(store: LocalStore) -> list[dict]:
    from sqlalchemy import select

    from winback.sync import tables
    with store.reading() as conn:
        return [dict(r) for r in conn.execute(select(tables.stores)).mappings()]


async def test_redaction_scrubs_ledger_payloads_and_open_consent_changes(sync_db: LocalStore) -> None:
    """Review item 3: the ledger's lower_email and payload, and open consent changes, are personal."""
    from winback.sync import privacy, tables

    await _register(sync_db)
    _commit(sync_db, Resource.CUSTOMERS, customer("c1", email="ann@example.com"))
    now = at(1)
    with sync_db.writing() as conn:
        conn.execute(tables.action_ledger.insert(), [
            {"store_key": KEY, "rule": "r", "idempotency_key": "k1", "kind": "email", "status": "done",
             "lower_email": "ann@example.com", "created_at": now, "updated_at": now,
             "payload": {"context": {"customer": {"email": "ann@example.com", "first_name": "Ann"}}}},
            {"store_key": KEY, "rule": "r", "idempotency_key": "k2", "kind": "email", "status": "done",
             "lower_email": "bob@example.com", "created_at": now, "updated_at": now, "payload": {"x": 1}},
        ])
        conn.execute(tables.consent_changes.insert(), [
            {"store_key": KEY, "lower_email": "ann@example.com", "subscribed": False, "source": "page",
             "status": status, "created_at": now} for status in ("pending", "pushing", "done")])
    sync_db.redact_customer(KEY, None, email="Ann@example.com")
    assert privacy.erase_consent_history(sync_db, KEY, "ann@example.com") == 3

    held = privacy.customer_data(sync_db, KEY, None, "ann@example.com")
    assert held["actions"] == [] and held["consent_changes"] == []
    with sync_db.reading() as conn:
        ledger = {r["idempotency_key"]: r for r in conn.execute(tables.action_ledger.select()).mappings()}
    assert (ledger["k1"]["lower_email"], ledger["k1"]["payload"], ledger["k1"]["status"]) == (None, {}, "done")
    assert ledger["k2"]["lower_email"] == "bob@example.com" and ledger["k2"]["payload"] == {"x": 1}


async def test_redacting_an_unknown_customer_leaves_a_stub(sync_db: LocalStore) -> None:
    await _register(sync_db)
    sync_db.redact_customer(KEY, "c404", email="gone@example.com")
    _commit(sync_db, Resource.CUSTOMERS, customer("c404", email="gone@example.com", updated=5))
    row = _customers(sync_db)["c404"]
    assert row["redacted"] is True and row["email"] is None


async def test_iter_rows_streams_in_batches(sync_db: LocalStore) -> None:
    await _register(sync_db)
    _commit(sync_db, Resource.ORDERS, *[order(f"o{n:03}", email=f"b{n % 7}@x.test", lines=2) for n in range(25)])
    exported = list(sync_db.iter_rows(KEY, "orders", batch=4))
    assert [o["id"] for o in exported] == [f"o{n:03}" for n in range(25)]
    assert all(len(o["line_items"]) == 2 for o in exported)
    assert len(list(sync_db.iter_rows(KEY, "buyers", batch=3))) == 7
    with pytest.raises(ValueError):
        next(sync_db.iter_rows(KEY, "secrets"))


async def test_stores_are_kept_apart(sync_db: LocalStore) -> None:
    await _register(sync_db)
    _commit(sync_db, Resource.CUSTOMERS, customer("c1"))
    other = FakeConnector()
    info = (await other.store_info()).model_copy(update={"store_id": "shop2"})
    key2 = sync_db.upsert_store(info)
    sync_db.commit_page(key2, Resource.CUSTOMERS, Page(records=[customer("c1", first_name="Other")]), at(1))
    assert _customers(sync_db)["c1"]["first_name"] == "First"
    assert sync_db.get_cursor(KEY, Resource.CUSTOMERS) is None
    assert sync_db.get_cursor(key2, Resource.CUSTOMERS) == at(1)
    assert [s["key"] for s in sync_db.list_stores()] == [KEY, key2]


async def test_many_touched_ids_are_chunked(sync_db: LocalStore) -> None:
    await _register(sync_db)
    n = 1200
    _commit(sync_db, Resource.CUSTOMERS, *[customer(f"c{i:05}") for i in range(n)])
    _commit(sync_db, Resource.ORDERS, *[order(f"o{i:05}", customer_id=f"c{i:05}", lines=0) for i in range(n)])
    rows = _customers(sync_db)
    assert len(rows) == n and all(r["real_orders_count"] == 1 for r in rows.values())
    assert sync_db.count(KEY, "buyers") == n


async def test_a_failing_commit_leaves_nothing_behind(sync_db: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from winback import errors
    from sqlalchemy.exc import SQLAlchemyError

    from winback.sync import derive

    await _register(sync_db)
    _commit(sync_db, Resource.ORDERS, order("o1", email="a@example.com"), cursor=at(0))

    def explode(*args, **kwargs):
        raise SQLAlchemyError("disk full")

    monkeypatch.setattr(derive, "recompute_buyers", explode)
    with pytest.raises(errors.SyncError, match="disk full"):
        _commit(
            sync_db, Resource.ORDERS, order("o1", email="b@example.com", updated=5), order("o2", updated=6),
            rejected_=[rejected(Resource.ORDERS, "o9", {"id": 9})], cursor=at(6),
        )
    assert [(o["id"], o["email"]) for o in sync_db.iter_rows(KEY, "orders")] == [("o1", "a@example.com")]
    assert sync_db.get_cursor(KEY, Resource.ORDERS) == at(0)
    assert sync_db.quarantined(KEY) == []
