"""The Ecwid connector against the Ecwid emulator over real sockets."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from winback import errors
from winback.connectors.ecwid import EcwidConnector, EcwidSettings
from winback.connectors.retry import RetryPolicy
from winback.emulator.ecwid import ALL_SCOPES, EcwidEmulator, start_ecwid_emulator
from winback.emulator.generate import generate_world
from winback.emulator.server import EmulatorServer, FaultPlan
from winback.model import ConsentState, DiscountCodeSpec, DiscountKind, NewCustomer

pytestmark = pytest.mark.integration

TOKEN = "secret_emulator_token"
FAST = RetryPolicy(attempts=8, base_delay=0, max_delay=0)


@pytest.fixture(scope="module")
def world():
    return generate_world(5, customers=450, products=60)


def _start(world, faults: FaultPlan | None = None, **knobs) -> tuple[EmulatorServer, EcwidEmulator]:
    knobs.setdefault("requests_per_minute", 100_000)
    return start_ecwid_emulator(world, faults=faults, fault_retry_after=0, **{"scopes": ALL_SCOPES, **knobs})


def _connector(server: EmulatorServer, **overrides) -> EcwidConnector:
    settings = EcwidSettings(
        store_id="1003", token=TOKEN, base_url=f"{server.url}/api/v3", requests_per_minute=100_000,
        timeout_s=5, **overrides,
    )
    return EcwidConnector(settings, retry=FAST)


@pytest.fixture
def running(world) -> Iterator[tuple[EmulatorServer, EcwidEmulator]]:
    server, app = _start(world)
    try:
        yield server, app
    finally:
        server.stop()


async def _read_all(stream):
    records, rejected, cursors = [], [], []
    async for page in stream:
        records.extend(page.records)
        rejected.extend(page.rejected)
        cursors.append(page.newest_updated_at)
    return records, rejected, cursors


def _assert_orders_match(orders, app: EcwidEmulator) -> None:
    expected = {o["id"]: o for o in app.state.snapshot("orders")}
    assert len(orders) == len(expected) == len({o.id for o in orders})
    for order in orders:
        raw = expected[order.id]
        assert order.total.amount == Decimal(str(raw["total"]))
        assert order.customer_id == (str(raw["customerId"]) if "customerId" in raw else None)
        assert order.email == (raw["email"] or None)
        assert int(order.updated_at.timestamp()) == raw["updateTimestamp"]
        assert len(order.line_items) == len(raw["items"])
        assert order.is_cancelled == (raw["paymentStatus"] == "CANCELLED")


async def test_full_read_equals_emulator_records(running) -> None:
    server, app = running
    async with _connector(server, window_max_records=300) as connector:
        store = await connector.store_info()
        assert store.currency == "USD" and store.store_id == "1003"
        orders, rejected, cursors = await _read_all(connector.orders(full=True))
        assert not rejected
        _assert_orders_match(orders, app)
        assert cursors == sorted(cursors)
        assert [o.updated_at for o in orders] == sorted(o.updated_at for o in orders)
        guests = [o for o in orders if o.is_guest]
        assert guests and all(o.email for o in guests)

        customers, rejected, _ = await _read_all(connector.customers())
        assert not rejected
        expected = {str(c["id"]): c for c in app.state.snapshot("customers")}
        assert {c.id for c in customers} == set(expected)
        for customer in customers:
            raw = expected[customer.id]
            assert customer.email == raw["email"]
            assert customer.consent.state == (
                ConsentState.NOT_SUBSCRIBED if raw.get("acceptMarketing") is False else ConsentState.SUBSCRIBED
            )

        products, rejected, _ = await _read_all(connector.products())
        assert not rejected
        prices = {str(p["id"]): Decimal(str(p["price"])) for p in app.state.snapshot("products")}
        assert {p.id: p.price.amount for p in products} == prices


async def test_incremental_read_after_touch(running) -> None:
    server, app = running
    async with _connector(server) as connector:
        _, _, cursors = await _read_all(connector.orders())
        cursor = cursors[-1]
        touched = app.touch_orders(0.05, seed=11)
        again, _, _ = await _read_all(connector.orders(updated_since=cursor))
        got = {o.id for o in again}
        assert set(touched) <= got
        assert all(o.updated_at >= cursor for o in again)
        assert len(got - set(touched)) <= sum(1 for o in again if o.updated_at == cursor)


async def test_reads_under_faults_still_match_exactly(world) -> None:
    plan = FaultPlan(rate=0.1, seed=3, timeout_s=0.2)
    server, app = _start(world, faults=plan)
    try:
        async with _connector(server, window_max_records=400) as connector:
            orders, rejected, _ = await _read_all(connector.orders())
            customers, _, _ = await _read_all(connector.customers())
        assert not rejected
        _assert_orders_match(orders, app)
        assert len(customers) == len(app.state.customers)
        assert plan.total_injected() > 0
    finally:
        server.stop()


async def test_malformed_record_is_quarantined_and_the_rest_lands(running) -> None:
    server, app = running
    victim = app.state.snapshot("orders")[7]["id"]
    app.corrupt_record("orders", victim)
    async with _connector(server) as connector:
        orders, rejected, _ = await _read_all(connector.orders())
    assert [r.record_id for r in rejected] == [victim]
    assert rejected[0].raw["total"] == "12,5.x"
    assert len(orders) == len(app.state.orders) - 1


async def test_writes_end_to_end(running) -> None:
    server, app = running
    spec = DiscountCodeSpec(
        code="COMEBACK-15", title="Come back", kind=DiscountKind.PERCENTAGE, value=Decimal("15"),
        starts_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        ends_at=datetime(2026, 2, 1, tzinfo=timezone.utc), once_per_customer=True,
    )
    async with _connector(server) as connector:
        assert await connector.find_discount_code("COMEBACK-15") is None
        created = await connector.create_discount_code(spec)
        found = await connector.find_discount_code("COMEBACK-15")
        assert found is not None and found.id == created.id
        assert found.kind == DiscountKind.PERCENTAGE and found.value == Decimal("15")
        assert found.once_per_customer is True and found.ends_at == spec.ends_at
        with pytest.raises(errors.DiscountCodeTakenError):
            await connector.create_discount_code(spec)

        new = NewCustomer(email="winback.new@example.com", first_name="Wyn", last_name="Back")
        assert await connector.find_customer_by_email(new.email) is None
        customer = await connector.create_customer(new)
        assert customer.email == new.email and customer.first_name == "Wyn"
        assert (await connector.find_customer_by_email("WINBACK.NEW@example.com")).id == customer.id
        with pytest.raises(errors.CustomerExistsError):
            await connector.create_customer(new)
        with pytest.raises(errors.NotSupportedError):
            await connector.send_account_invite(customer.id)


@pytest.mark.parametrize("fault", ["drop_after", "503", "drop"])
async def test_ambiguous_coupon_write_creates_exactly_one(world, fault: str) -> None:
    plan = FaultPlan(script=deque([fault]), paths=("/discount_coupons",))
    server, app = _start(world, faults=plan)
    try:
        spec = DiscountCodeSpec(
            code=f"ONCE-{fault}", title="Once", kind=DiscountKind.FIXED_AMOUNT, value=Decimal("5.50"),
            starts_at=datetime(2026, 1, 1, tzinfo=timezone.utc), usage_limit=1,
        )
        async with _connector(server) as connector:
            created = await connector.create_discount_code(spec)
        coupons = [c for c in app.state.snapshot("discount_coupons") if c["code"] == spec.code]
        assert len(coupons) == 1 and str(coupons[0]["id"]) == created.id
        assert coupons[0]["usesLimit"] == "SINGLE" and coupons[0]["discount"] == Decimal("5.50")
        assert plan.injected == {fault: 1}
    finally:
        server.stop()


async def test_error_mapping_over_sockets(world) -> None:
    server, _ = _start(world, scopes={"read_store_profile", "read_orders"})
    try:
        async with _connector(server) as connector:
            report = await connector.check_access()
            assert report.missing == {"read_customers", "read_catalog", "read_discount_coupons"}
            with pytest.raises(errors.MissingScopeError) as caught:
                async for _ in connector.customers():
                    pass
            assert caught.value.scope == "read_customers" and "Ecwid store 1003" in str(caught.value)
        bad = EcwidConnector(
            EcwidSettings(store_id="1003", token="secret_wrong_token_x", base_url=f"{server.url}/api/v3"), retry=FAST
        )
        async with bad:
            with pytest.raises(errors.AuthenticationError) as auth:
                await bad.store_info()
            assert "secret_wrong_token_x" not in str(auth.value)
        unknown = EcwidConnector(EcwidSettings(store_id="42", token=TOKEN, base_url=f"{server.url}/api/v3"), retry=FAST)
        async with unknown:
            with pytest.raises(errors.StoreNotFoundError):
                await unknown.store_info()
    finally:
        server.stop()
    server, _ = _start(world, store_state="suspended")
    try:
        async with _connector(server) as connector:
            with pytest.raises(errors.StoreFrozenError):
                await connector.store_info()
    finally:
        server.stop()


async def test_server_rate_limit_is_waited_out(world) -> None:
    server, app = _start(world, requests_per_minute=100_000)
    try:
        # A tight server limit with Retry-After answers: the client backs off and still finishes.
        app.limiter.limit = 5
        app.limiter.window = 0.2
        async with _connector(server) as connector:
            products, _, _ = await _read_all(connector.products())
        assert len(products) == len(app.state.products)
    finally:
        server.stop()


async def test_other_processors_partial_refunds_are_read_from_the_refunds_list(running) -> None:
    server, app = running
    raws = {o["id"]: o for o in app.state.snapshot("orders")}
    async with _connector(server) as connector:
        orders, _, _ = await _read_all(connector.orders())
    partial = [o for o in orders if raws[o.id]["paymentStatus"] == "PARTIALLY_REFUNDED"
               and Decimal(str(raws[o.id]["refundedAmount"])) == 0]
    assert partial, "the world has no partial refund through another processor"
    for order in partial:
        refunded = sum(Decimal(str(r["amount"])) for r in raws[order.id]["refunds"])
        assert refunded > 0 and order.refunded is not None and order.refunded.amount == refunded
        assert order.current_total.amount == order.total.amount - refunded


@pytest.mark.parametrize("guest_accounts", [True, False])
async def test_recent_guest_buyers_are_told_how_to_sign_in(world, tmp_path, guest_accounts: bool) -> None:
    """Synced from a store where Ecwid keeps an account for every guest's email, the rule plans the
    sign-in email for recent guests, and creates nothing; without those accounts it says why."""
    from winback.rules.auto_create_accounts import NO_ACCOUNT_REASON, AutoCreateAccounts
    from winback.rules.base import RuleContext, Step
    from winback.rules.executor import stored_facts
    from winback.sync import open_store, store_key, sync_store

    server, app = _start(world, guest_accounts=guest_accounts)
    store = open_store(f"sqlite:///{tmp_path / 'ecwid.db'}")
    try:
        async with _connector(server) as connector:
            await sync_store(connector, store)
            capabilities = await connector.capabilities()
        facts = stored_facts(store, store_key("ecwid", "1003"))
        rule = AutoCreateAccounts({"since_days": 60})
        actions = list(rule.plan(RuleContext(store=store, facts=facts, now=world.now, capabilities=capabilities)))
    finally:
        store.close()
        server.stop()
    assert actions, "no recent guest buyer in the world"
    guest_emails = {o["email"].lower() for o in app.state.snapshot("orders") if "customerId" not in o}
    assert {a.email.lower() for a in actions} <= guest_emails
    if guest_accounts:
        assert {a.steps for a in actions} == {(Step.SEND_EMAIL,)}
        assert all(a.payload["email"]["context"]["sign_in_url"] == app.state.store_url + "/account" for a in actions)
    else:
        assert {(a.steps, a.reason) for a in actions} == {((), NO_ACCOUNT_REASON.format(platform="ecwid"))}
    assert app.writes()["customers_created"] == []
