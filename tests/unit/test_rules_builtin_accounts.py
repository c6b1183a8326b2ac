"""The auto_create_accounts rule: audience and steps for each InviteMode."""

from __future__ import annotations

import pytest

from tests.unit.test_rules_builtin_support import Shop, ago, count_statements, emails
from winback.connectors.base import Capabilities, InviteMode
from winback.model import AccountState, ConsentState, NewCustomer
from winback.rules.auto_create_accounts import NOT_NEEDED_REASON, AutoCreateAccounts
from winback.rules.base import Step, idempotency_key
from winback.sync import open_store


@pytest.fixture
def any_store(sync_db_url):
    opened = open_store(sync_db_url)
    yield opened
    opened.close()


def populate(shop: Shop) -> None:
    c, o = shop.customer, shop.order
    shop.put(
        c("member", account=AccountState.ENABLED),
        c("disabled", account=AccountState.GUEST, consent=ConsentState.NOT_SUBSCRIBED, first_name="Dee",
          last_name="Sabled"),
        c("redacted", account=AccountState.GUEST),
        c("old", account=AccountState.GUEST),
    )
    shop.put(
        o("o-guest", 3, email="Guest@Example.com", billing=("Gia", "Guest")),
        o("o-guest-older", 400, email="guest@example.com", billing=("Old", "Name")),
        o("o-pending", 5, email="pending@example.com", refunded=True),  # not real, but not cancelled
        o("o-cancelled", 5, email="cancelled@example.com", cancelled=True),
        o("o-test", 5, email="test@example.com", test=True),
        o("o-member", 3, customer_id="member", email="member@example.com"),
        o("o-disabled", 3, customer_id="disabled", email="disabled@example.com"),
        o("o-redacted", 3, customer_id="redacted", email="redacted@example.com"),
        o("o-old", 90, customer_id="old", email="old@example.com"),
        o("o-done", 3, email="done@example.com"),
    )
    shop.store.redact_customer(shop.key, "redacted")
    rule = AutoCreateAccounts.name
    shop.ledger(rule, idempotency_key(rule, shop.key, "done@example.com"), "done@example.com", created_at=ago(400))


def test_audience_is_recent_guests_once_per_email(any_store):
    shop = Shop(any_store)
    populate(shop)
    actions = shop.plan(AutoCreateAccounts(), Capabilities(invite_mode=InviteMode.CREATE_CUSTOMER))
    assert emails(actions) == ["disabled@example.com", "Guest@Example.com", "pending@example.com"]
    assert all(not a.marketing for a in actions)
    assert actions[1].idempotency_key == idempotency_key("auto_create_accounts", shop.key, "guest@example.com")


def test_create_customer_mode_creates_the_account_and_emails_the_sign_in_link(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    shop = Shop(store)
    populate(shop)
    actions = shop.plan(AutoCreateAccounts(), Capabilities(invite_mode=InviteMode.CREATE_CUSTOMER))
    guest = actions[1]
    assert guest.steps == (Step.CREATE_ACCOUNT, Step.SEND_EMAIL)
    account = NewCustomer.model_validate(guest.payload["account"])
    assert (account.email, account.first_name, account.last_name, account.accepts_marketing) == (
        "Guest@Example.com", "Gia", "Guest", None)
    email = guest.payload["email"]
    assert email["template"] == "account_created"
    assert email["context"]["sign_in_url"] == "https://shop.test/account"
    assert email["context"]["customer"]["display_name"] == "Gia Guest"
    assert "store" not in email["context"]  # compose sets it from the store's facts
    disabled = actions[0]
    assert NewCustomer.model_validate(disabled.payload["account"]).first_name == "Dee"

    quiet = shop.plan(AutoCreateAccounts({"send_email": False}), Capabilities(invite_mode=InviteMode.CREATE_CUSTOMER))
    assert {a.steps for a in quiet} == {(Step.CREATE_ACCOUNT,)}
    store.close()


def test_send_invite_mode_invites_the_disabled_customer(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    shop = Shop(store, platform="shopify", store_id="acme")
    populate(shop)
    actions = shop.plan(AutoCreateAccounts(), Capabilities(invite_mode=InviteMode.SEND_INVITE))
    by_email = {a.email: a for a in actions}
    invite = by_email["disabled@example.com"]
    assert invite.steps == (Step.SEND_INVITE,) and invite.payload == {"customer_id": "disabled"}
    # an order without any customer: nothing to invite, skipped with a reason
    orphan = by_email["Guest@Example.com"]
    assert orphan.steps == () and "no customer record" in orphan.reason
    store.close()


def test_not_needed_mode_yields_visible_skips(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    shop = Shop(store, platform="shopify", store_id="acme")
    populate(shop)
    actions = shop.plan(AutoCreateAccounts(), Capabilities(invite_mode=InviteMode.NOT_NEEDED))
    assert len(actions) == 3
    assert {(a.steps, a.reason) for a in actions} == {((), NOT_NEEDED_REASON)}
    store.close()


@pytest.mark.parametrize(("platform", "steps"), [
    ("ecwid", (Step.CREATE_ACCOUNT, Step.SEND_EMAIL)),
    ("shopify", (Step.SEND_INVITE,)),
])
def test_offline_planning_follows_the_platform(tmp_path, platform, steps):
    """Offline, the platform's connector says what its stores usually do (its profile)."""
    from winback.connectors.registry import load_connector_class

    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    shop = Shop(store, platform=platform, store_id="s")
    shop.put(shop.customer("g", account=AccountState.GUEST), shop.order("o", 2, customer_id="g", email="g@example.com"))
    [action] = shop.plan(AutoCreateAccounts(), capabilities=load_connector_class(platform).offline_capabilities())
    assert action.steps == steps
    store.close()


def test_since_days_limits_the_window(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    shop = Shop(store)
    populate(shop)
    actions = shop.plan(AutoCreateAccounts({"since_days": 120}), Capabilities(invite_mode=InviteMode.CREATE_CUSTOMER))
    assert "old@example.com" in emails(actions)
    store.close()


def test_statement_count_is_flat(tmp_path):
    counts = []
    for n in (50, 500):
        store = open_store(f"sqlite:///{tmp_path / f'w{n}.db'}")
        shop = Shop(store)
        shop.put(*(shop.order(f"o{i}", 1 + i % 20, email=f"g{i:04d}@example.com") for i in range(n)))
        with count_statements(store) as seen:
            assert len(shop.plan(AutoCreateAccounts())) == n
        counts.append(len(seen))
        store.close()
    assert counts[0] == counts[1]
