"""Defects found against real recorded Shopify responses (issue 10, section 3), end to end: the
Shopify emulator over real sockets, the sync into real SQLite, the built-in ``discount_codes``
rule, and real SMTP servers with and without SMTPUTF8."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from winback.connectors.shopify import ShopifyConnector
from winback.emulator.generate import generate_world
from winback.emulator.shopify.app import start_shopify_emulator
from winback.model import DiscountCodeSpec, DiscountKind
from winback.notify import SmtpSender
from winback.rules.codes import alternative_code
from winback.rules.discount_codes import DiscountCodes
from winback.rules.executor import RunReport, run_actions, stored_facts
from winback.rules.guards import Limits
from winback.rules.planner import plan_client
from winback.rules.runner import Outcome
from winback.sync import LocalStore, open_store, sync_store

pytestmark = pytest.mark.integration

NON_ASCII = "jürgen.weiß@example.de"


@pytest.fixture(scope="module")
def world():
    return generate_world(seed=11, customers=300, products=25)


@pytest.fixture
def shop(world):
    server, emulator = start_shopify_emulator(world, throttle=False, bulk_complete_after_s=0.1)
    yield server, emulator
    server.stop()


def _connector(server, emulator, **settings: Any) -> ShopifyConnector:
    values = {"shop": emulator.shop_domain, "access_token": emulator.access_token, "base_url": server.url,
              "retry_base_delay_s": 0.01, "bulk_poll_interval_s": 0.05, "bulk_poll_max_interval_s": 0.2}
    return ShopifyConnector.from_settings({**values, **settings})


async def _all(iterator) -> list[Any]:
    return [record async for page in iterator for record in page.records]


@pytest.mark.parametrize("bulk", [False, True])
async def test_the_buyers_marketing_opt_in_is_read_from_every_order(shop, bulk: bool) -> None:
    """The parser read ``customerAcceptsMarketing`` but the query never asked for it: opted-in
    buyers without a customer record came back ``accepts_marketing=None`` and were never reached."""
    server, emulator = shop
    async with _connector(server, emulator, **({"bulk_threshold": 0} if bulk else {})) as c:
        orders = {o.id: o for o in await _all(c.orders(full=bulk))}

    assert {k: o.accepts_marketing for k, o in orders.items()} == {
        raw["id"]: raw["customerAcceptsMarketing"] for raw in emulator.orders
    }
    assert any(o.customer_id is None and o.accepts_marketing for o in orders.values())


async def test_customer_phones_are_read_without_an_address(shop) -> None:
    """The parser read the phone but the query never asked for it: it only survived as the phone
    of a default address, which many customers lack."""
    server, emulator = shop
    async with _connector(server, emulator) as c:
        customers = {x.id: x for x in await _all(c.customers())}

    phones = {raw["id"]: raw["defaultPhoneNumber"]["phoneNumber"] for raw in emulator.customers if raw["defaultPhoneNumber"]}
    assert {k: customers[k].phone for k in phones} == phones
    assert any(raw["defaultAddress"] is None for raw in emulator.customers if raw["id"] in phones)


# --- the discount_codes rule against the store -------------------------------------------------


@dataclass
class Inbox:
    received: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 Message accepted"

    def text_to(self, address: str) -> str:
        return next(data for rcpt, data in self.received if rcpt == [address]).decode("utf-8", "replace")


@pytest.fixture
def smtp() -> Iterator[Any]:
    controllers: list[Controller] = []

    def start(smtputf8: bool) -> tuple[SmtpSender, Inbox]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8, ready_timeout=10)
        controller.start()
        controllers.append(controller)

        async def no_wait(seconds: float) -> None:
            return None

        return SmtpSender("127.0.0.1", port, starttls=False, timeout=10, rate_per_minute=6000, burst=1000, sleep=no_wait), inbox

    yield start
    for controller in controllers:
        controller.stop()


RULE = {"segment": {"min_orders": 1}, "kind": "percentage", "value": "10", "since_days": None, "prefix": "BACK"}


async def _sync_plan_run(connector: ShopifyConnector, store: LocalStore, sender: SmtpSender, now: datetime,
                         before_run: Any = None) -> RunReport:
    await sync_store(connector, store)
    key = f"shopify:{connector.store_id}"
    capabilities = await connector.capabilities()
    plan = plan_client(store, stored_facts(store, key), [DiscountCodes(RULE)], now, Limits(max_actions_per_run=2000), capabilities)
    assert plan.rule_errors == {}
    if before_run is not None:
        await before_run(plan)
    async with sender:
        return await run_actions(plan, store=store, connector=connector, sender=sender, now=now)


async def test_codes_only_for_emails_that_can_go_out_and_collisions_never_fail(shop, smtp, tmp_path: Path) -> None:
    server, emulator = shop
    jurgen = next(raw for raw in emulator.customers
                  if raw["defaultEmailAddress"]["marketingState"] == "SUBSCRIBED" and raw["numberOfOrders"] != "0"
                  and raw["lastOrder"]["displayFinancialStatus"] == "PAID" and not raw["lastOrder"]["test"])
    emulator.state.change_email(jurgen["_num"], NON_ASCII)
    now = datetime.now(UTC).replace(microsecond=0)
    taken: dict[str, str] = {}

    async def merchant_takes_a_string(plan) -> None:
        """The merchant made a 50 %-for-everyone code that happens to use one buyer's string."""
        action = next(a for a in plan.actions if a.customer_id and a.email != NON_ASCII)
        code = action.payload["discount"]["code"]
        await connector.create_discount_code(DiscountCodeSpec(
            code=code, title="Staff party", kind=DiscountKind.PERCENTAGE, value=Decimal(50),
            starts_at=now - timedelta(days=3), usage_limit=None))
        taken.update(email=action.email, code=code, customer=action.customer_id)

    async with _connector(server, emulator) as connector:
        # First run: a mail server without SMTPUTF8.
        sender, inbox = smtp(smtputf8=False)
        first = await _sync_plan_run(connector, open_store(str(tmp_path / "first.db")), sender, now, merchant_takes_a_string)

        outcomes = {r.action.email: r for r in first.results}
        assert first.failed == 0
        assert outcomes[NON_ASCII].outcome is Outcome.SKIPPED and "SMTPUTF8" in outcomes[NON_ASCII].detail
        assert not [c for c in emulator.discount_codes if c["codeDiscount"]["context"].get("customers") == [jurgen]]
        guests = [r for r in first.results if r.action.customer_id is None]
        assert guests and all(r.outcome is Outcome.DONE for r in guests)  # opted-in buyers without a record
        other = alternative_code(taken["code"], 1)
        assert outcomes[taken["email"]].outcome is Outcome.DONE
        assert outcomes[taken["email"]].created_ref["discount_code"] == other and other in inbox.text_to(taken["email"])
        theirs, ours = (next(n for n in emulator.discount_codes if n["_code"] == c) for c in (taken["code"], other))
        assert theirs["codeDiscount"]["customerGets"]["value"]["percentage"] == 0.5
        assert ours["codeDiscount"]["customerGets"]["value"]["percentage"] == 0.1
        assert [c["id"] for c in ours["codeDiscount"]["context"]["customers"]] == [taken["customer"]]
        created = len(emulator.discount_codes)

        # The README's move to another database: the ledger starts fresh; SMTPUTF8 now offered.
        sender, inbox = smtp(smtputf8=True)
        later = now + timedelta(hours=3)
        second = await _sync_plan_run(connector, open_store(str(tmp_path / "fresh.db")), sender, later)

    assert second.failed == 0 and second.stopped is None
    served = {r.action.email for r in first.results if r.outcome is Outcome.DONE}
    again = {r.action.email: r for r in second.results}
    assert {e for e in served if again[e].created_ref.get("adopted")} == served  # recognised, not failed on
    assert again[taken["email"]].created_ref["discount_code"] == other
    assert again[NON_ASCII].outcome is Outcome.DONE and not again[NON_ASCII].created_ref.get("adopted")
    assert len(emulator.discount_codes) == created + 1
    assert again[NON_ASCII].created_ref["discount_code"] in inbox.text_to(NON_ASCII)
