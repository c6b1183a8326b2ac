"""winback.rules.compose: the message a send_email step sends, built from the rule's payload.

Marketing mail offers a way out in its headers and its body; transactional mail (account
creation) offers neither, and says instead why the recipient got it. The discount_codes thank-you
names the buyer's own number of orders.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from tests.unit.test_rules_builtin_support import Shop
from winback.config import EmailSection
from winback.rules.base import PlannedAction, Step, StoreFacts
from winback.rules.compose import compose_email, email_context
from winback.rules.discount_codes import DiscountCodes
from winback.sync import open_store

NOW = datetime(2026, 11, 1, tzinfo=UTC)
FACTS = StoreFacts(
    store_key="fake:acme", platform="fake", name="Acme", currency="EUR", url="https://acme.example",
    logo_url=None, email="hello@acme.example",
)
NAMELESS = {"first_name": None, "last_name": None, "display_name": "chloe@example.com", "email": "chloe@example.com"}


def account_action(**payload_context: Any) -> PlannedAction:
    return PlannedAction(
        rule="auto_create_accounts", idempotency_key="auto_create_accounts:1", store_key=FACTS.store_key,
        email="chloe@example.com", customer_id=None, recipient_name=None, reason="guest buyer",
        steps=(Step.CREATE_ACCOUNT, Step.SEND_EMAIL), marketing=False,
        payload={"email": {"template": "account_created", "context": {
            "store": {"name": "Acme", "url": "https://acme.example", "logo_url": None, "currency": "EUR"},
            "customer": NAMELESS, "sign_in_url": "https://acme.example/account", **payload_context,
        }}},
    )


def discount_action() -> PlannedAction:
    return PlannedAction(
        rule="discount_codes", idempotency_key="discount_codes:1", store_key=FACTS.store_key,
        email="chloe@example.com", customer_id="7", recipient_name=None, reason="5 real orders",
        steps=(Step.CREATE_DISCOUNT_CODE, Step.SEND_EMAIL), marketing=True,
        payload={"email": {"template": "discount_code", "context": {
            "customer": NAMELESS, "reason_text": "Thank you!",
            "discount": {"code": "THANKS-1", "kind": "percentage", "value": "10", "ends_at": None},
        }}},
    )


def bodies(message: EmailMessage) -> tuple[str, str]:
    html, text = message.get_body(("html",)), message.get_body(("plain",))
    assert html is not None and text is not None
    return html.get_content(), text.get_content()


SETTINGS = [
    EmailSection(unsubscribe_mailto="unsubscribe@acme.example"),
    EmailSection(unsubscribe_url="https://acme.example/unsubscribe?e={email}"),
    EmailSection(),
]


@pytest.mark.parametrize("settings", SETTINGS, ids=["mailto", "url", "none"])
def test_transactional_mail_has_no_unsubscribe_link_or_header_and_says_why(settings: EmailSection) -> None:
    message = compose_email(account_action(), FACTS, {}, settings, NOW)

    assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None
    for body in bodies(message):
        assert "nsubscribe" not in body
        assert "because you placed an order at Acme" in body
        assert body.lstrip().startswith("Hi there,") or ">Hi there,</h1>" in body


def test_transactional_mail_drops_an_unsubscribe_url_even_when_the_rule_passed_one() -> None:
    action = account_action(unsubscribe_url="https://acme.example/u")
    _, context = email_context(action, FACTS, {}, SETTINGS[0])

    assert context["unsubscribe_url"] is None
    assert all("nsubscribe" not in body for body in bodies(compose_email(action, FACTS, {}, SETTINGS[0], NOW)))


@pytest.mark.parametrize(
    ("settings", "uri"),
    [
        (SETTINGS[0], "mailto:unsubscribe@acme.example?subject=unsubscribe"),
        (SETTINGS[1], "https://acme.example/unsubscribe?e=chloe%40example.com"),
        (SETTINGS[2], "mailto:hello@acme.example?subject=unsubscribe"),
    ],
    ids=["mailto", "url", "store-address"],
)
def test_marketing_mail_has_the_same_unsubscribe_link_in_header_and_body(settings: EmailSection, uri: str) -> None:
    message = compose_email(discount_action(), FACTS, {"discount_code": "THANKS-1"}, settings, NOW)

    assert uri in str(message["List-Unsubscribe"])
    html, text = bodies(message)
    assert f"Unsubscribe: {uri}" in text
    assert f'href="{uri}"'.replace("&", "&amp;") in html and ">Unsubscribe</a>" in html


def test_discount_code_thanks_the_buyer_for_their_own_number_of_orders(tmp_path: Any) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        shop = Shop(store)
        c, o = shop.customer, shop.order
        shop.put(c("five"))
        shop.put(*(o(f"five-{i}", 100 - 20 * i, customer_id="five", email="five@example.com") for i in range(5)))
        (action,) = shop.plan(DiscountCodes({"segment": {"min_orders": 3}, "kind": "percentage", "value": "10"}))
    finally:
        store.close()

    context = action.payload["email"]["context"]
    assert context["orders_count"] == 5
    assert context["reason_text"] == "Thank you for ordering from Shop One 5 times!"
    assert context["segment_text"] == "Thank you for ordering from Shop One 3 times or more!"
    assert "(segment min_orders=3)" in action.reason
    message = compose_email(action, FACTS, {"discount_code": "THANKS-1"}, SETTINGS[0], NOW)
    assert all("ordering from Shop One 5 times!" in body for body in bodies(message))


@pytest.mark.parametrize("make", [account_action, discount_action])
def test_the_stores_email_and_url_reach_every_built_in_template(make: Any) -> None:
    """The rule recorded a ``store`` without the email (an older payload): the store's current
    facts win, so the footer offers the store's address and its URL in both parts."""
    message = compose_email(make(), FACTS, {}, EmailSection(from_address="Acme <hello@acme.example>"), NOW)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Questions? Write to hello@acme.example" in text and "https://acme.example" in text
    assert 'href="mailto:hello@acme.example"' in html and "https://acme.example" in html


def test_the_context_has_one_owner_for_store_and_customer() -> None:
    _template, context = email_context(discount_action(), FACTS, {}, EmailSection())
    assert context["store"] == {
        "name": "Acme", "url": "https://acme.example", "logo_url": None, "currency": "EUR", "email": "hello@acme.example",
        "postal_address": None,
    }
