"""The auto_create_accounts rule: audience and steps for each InviteMode.

Today's platforms keep an account for every buyer (Ecwid's basic accounts, Shopify customer
accounts): the useful action is one email telling a guest buyer how to sign in."""

from __future__ import annotations

import pytest

from tests.unit.test_rules_builtin_support import Shop, ago, count_statements, emails
from winback.connectors.base import Capabilities, InviteMode
from winback.model import AccountState, ConsentState, NewCustomer
from winback.rules import auto_create_accounts as accounts_rule
from winback.rules.auto_create_accounts import AutoCreateAccounts
from winback.rules.base import Step, idempotency_key
from winback.sync import open_store


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

    # An account that exists already (a guest order by a member's email) is not created again.
    shop.put(shop.order("o-member-guest", 2, email="member@example.com"))
    again = {a.email: a for a in shop.plan(AutoCreateAccounts(), Capabilities(invite_mode=InviteMode.CREATE_CUSTOMER))}
    assert again["member@example.com"].steps == (Step.SEND_EMAIL,)
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
    # A member's guest order: they have an account already, so no invite.
    shop.put(shop.order("o-member-guest", 2, email="member@example.com"))
    member = {a.email: a for a in shop.plan(AutoCreateAccounts(), Capabilities(invite_mode=InviteMode.SEND_INVITE))}
    assert member["member@example.com"].steps == () and "already has an account" in member["member@example.com"].reason
    store.close()


NOT_NEEDED = Capabilities(invite_mode=InviteMode.NOT_NEEDED)


def test_ecwid_guest_with_the_basic_account_ecwid_created_gets_the_sign_in_email(tmp_path):
    """Ecwid lists the account it made for a guest's email (an enabled customer), while the guest's
    orders carry no customerId: the guest is still told, once, how to sign in."""
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    shop = Shop(store)
    c, o = shop.customer, shop.order
    shop.put(c("170000007", "Basic@Example.com", first_name="Bea", last_name="Sic"),
             c("member", account=AccountState.ENABLED))
    shop.put(o("o-basic", 2, email="basic@example.com"), o("o-member", 2, customer_id="member", email="member@example.com"),
             o("o-none", 2, email="nobody@example.com"))
    actions = {a.email: a for a in shop.plan(AutoCreateAccounts(), NOT_NEEDED)}
    assert set(actions) == {"basic@example.com", "nobody@example.com"}  # as on the newest order
    basic = actions["basic@example.com"]
    assert basic.steps == (Step.SEND_EMAIL,) and basic.customer_id == "170000007" and not basic.marketing
    assert "ecwid already keeps an account for this email" in basic.reason
    email = basic.payload["email"]
    assert email["template"] == "account_created" and email["context"]["sign_in_url"] == "https://shop.test/account"
    assert email["context"]["customer"]["display_name"] == "Bea Sic"
    assert "account" not in basic.payload  # nothing to create
    # A store where Ecwid made no account (German company address, legacy sign-in): visible skip.
    nobody = actions["nobody@example.com"]
    assert nobody.steps == () and nobody.reason == accounts_rule.NO_ACCOUNT_REASON.format(platform="ecwid")
    store.close()


def test_shopify_customer_accounts_guest_gets_the_sign_in_email(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    shop = Shop(store, platform="shopify", store_id="acme")
    populate(shop)
    actions = {a.email: a for a in shop.plan(AutoCreateAccounts(), NOT_NEEDED)}
    assert set(actions) == {"disabled@example.com", "Guest@Example.com", "pending@example.com"}
    disabled = actions["disabled@example.com"]
    assert disabled.steps == (Step.SEND_EMAIL,) and disabled.payload["email"]["context"]["sign_in_url"].endswith(
        "/account")
    assert "shopify already keeps an account" in disabled.reason
    assert {actions[e].steps for e in ("Guest@Example.com", "pending@example.com")} == {()}

    quiet = shop.plan(AutoCreateAccounts({"send_email": False}), NOT_NEEDED)
    assert {a.steps for a in quiet} == {()}
    assert "send_email is off" in next(a.reason for a in quiet if a.email == "disabled@example.com")
    store.close()


def test_sample_action_is_the_sign_in_email(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    shop = Shop(store)
    [sample] = AutoCreateAccounts().sample_actions(shop.context(capabilities=None))
    assert sample.steps == (Step.SEND_EMAIL,) and sample.payload["email"]["template"] == "account_created"
    assert sample.payload["email"]["context"]["sign_in_url"] == "https://shop.test/account"
    store.close()


@pytest.mark.parametrize("platform", ["ecwid", "shopify"])
def test_offline_planning_follows_the_platform(tmp_path, platform):
    """Offline, the platform's connector says what its stores usually do (its profile)."""
    from winback.connectors.registry import load_connector_class

    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    shop = Shop(store, platform=platform, store_id="s")
    shop.put(shop.customer("g", account=AccountState.GUEST), shop.order("o", 2, customer_id="g", email="g@example.com"))
    [action] = shop.plan(AutoCreateAccounts(), capabilities=load_connector_class(platform).offline_capabilities())
    assert action.steps == (Step.SEND_EMAIL,)
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
