"""The discount_codes rule (segments) and code generation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from tests.unit.test_rules_builtin_support import Shop, ago, count_statements, emails
from winback.model import ConsentState, DiscountCodeSpec
from winback.rules.base import Step, idempotency_key
from winback.rules.codes import ALPHABET, code_suffix, make_code
from winback.rules.discount_codes import DiscountCodes
from winback.sync import open_store


@pytest.fixture
def store(tmp_path):
    opened = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    yield opened
    opened.close()


def populate(shop: Shop) -> None:
    c, o = shop.customer, shop.order
    shop.put(c("two"), c("three"), c("old2"), c("big"), c("unsub", consent=ConsentState.UNSUBSCRIBED),
             c("one"), c("twofast"))
    shop.put(
        # second real order 5 days ago
        o("two-1", 100, customer_id="two", email="two@example.com", total="30.00"),
        o("two-2", 5, customer_id="two", email="two@example.com", total="30.00"),
        # third order recent, second long ago
        o("three-1", 300, customer_id="three", email="three@example.com"),
        o("three-2", 200, customer_id="three", email="three@example.com"),
        o("three-3", 3, customer_id="three", email="three@example.com"),
        # second order long ago
        o("old2-1", 300, customer_id="old2", email="old2@example.com"),
        o("old2-2", 200, customer_id="old2", email="old2@example.com"),
        # one big recent order; a cancelled second one does not count
        o("big-1", 2, customer_id="big", email="big@example.com", total="600.00"),
        o("big-2", 1, customer_id="big", email="big@example.com", total="600.00", cancelled=True),
        o("unsub-1", 50, customer_id="unsub", email="unsub@example.com"),
        o("unsub-2", 4, customer_id="unsub", email="unsub@example.com"),
        o("one-1", 4, customer_id="one", email="one@example.com"),
        # first and second order both inside the window: the 2nd is recent
        o("twofast-1", 10, customer_id="twofast", email="twofast@example.com"),
        o("twofast-2", 2, customer_id="twofast", email="twofast@example.com"),
        # a guest whose 2nd order was placed as guest: counted by email; accepted marketing
        o("g-1", 60, email="guest@example.com", accepts_marketing=True),
        o("g-2", 6, email="guest@example.com", accepts_marketing=True),
    )


def rule(**segment: object) -> DiscountCodes:
    return DiscountCodes({"segment": segment, "kind": "percentage", "value": "10"})


def test_nth_order_segment_thanks_recent_second_orders(any_store):
    shop = Shop(any_store)
    populate(shop)
    actions = shop.plan(rule(nth_order=2))
    assert emails(actions) == ["guest@example.com", "two@example.com", "twofast@example.com"]
    two = actions[1]
    assert two.steps == (Step.CREATE_DISCOUNT_CODE, Step.SEND_EMAIL) and two.marketing
    assert two.idempotency_key == idempotency_key("discount_codes", shop.key, "two@example.com", "nth_order=2")
    assert two.payload["email"]["template"] == "discount_code"
    ctx = two.payload["email"]["context"]
    assert ctx["reason_text"] == "Thank you for your second order at Shop One!"
    assert ctx["discount"]["code"] == two.payload["discount"]["code"]
    assert "(segment nth_order=2)" in two.reason


def test_min_orders_and_min_spent_segments(store):
    shop = Shop(store)
    populate(shop)
    assert emails(shop.plan(rule(min_orders=3))) == ["three@example.com"]
    assert emails(shop.plan(rule(min_spent="500"))) == ["big@example.com"]
    assert emails(shop.plan(rule(min_spent="50", min_orders=2))) == ["three@example.com", "two@example.com"]
    # since_days = None: the whole history
    wide = DiscountCodes({"segment": {"min_orders": 2}, "kind": "fixed_amount", "value": "5", "since_days": None})
    assert "old2@example.com" in emails(shop.plan(wide))


def test_not_marketing_skips_the_consent_filter(store):
    shop = Shop(store)
    populate(shop)
    plain = DiscountCodes({"segment": {"nth_order": 2}, "kind": "percentage", "value": 10, "marketing": False})
    actions = shop.plan(plain)
    assert "unsub@example.com" in emails(actions)
    assert not any(a.marketing for a in actions)


def test_one_code_per_buyer_and_segment(store):
    shop = Shop(store)
    populate(shop)
    first = shop.plan(rule(nth_order=2))
    two = next(a for a in first if a.email == "two@example.com")
    with store.engine.begin() as conn:
        from winback.sync import tables

        conn.execute(tables.action_ledger.insert().values(
            store_key=shop.key, rule="discount_codes", idempotency_key=two.idempotency_key, email=two.email,
            lower_email=two.email, kind="x", status="done", reason=two.reason, created_at=ago(1), updated_at=ago(1)))
    assert "two@example.com" not in emails(shop.plan(rule(nth_order=2)))
    # another segment is another intent
    assert "two@example.com" in emails(shop.plan(rule(min_orders=2)))


def test_codes_are_stable_distinct_and_unambiguous(store):
    shop = Shop(store)
    populate(shop)
    codes = [DiscountCodeSpec.model_validate(a.payload["discount"]).code for a in shop.plan(rule(nth_order=2))]
    again = [DiscountCodeSpec.model_validate(a.payload["discount"]).code for a in shop.plan(rule(nth_order=2))]
    assert codes == again and len(set(codes)) == len(codes)
    assert all(code.startswith("THANKS-") for code in codes)
    suffixes = {code_suffix(f"key-{n}", "secret") for n in range(5000)}
    assert len(suffixes) == 5000
    assert all(len(s) == 8 and set(s) <= set(ALPHABET) for s in suffixes)
    assert not set("0O1IL") & set(ALPHABET)
    assert make_code("BACK", "k", "store-a") != make_code("BACK", "k", "store-b")
    assert make_code("BACK", "k", "store-a") == make_code("BACK", "k", "store-a")


def test_options_are_checked():
    with pytest.raises(ValidationError):
        DiscountCodes({"segment": {}, "kind": "percentage", "value": 10})
    with pytest.raises(ValidationError):
        DiscountCodes({"segment": {"nth_order": 2}, "kind": "percentage", "value": 120})
    with pytest.raises(ValidationError):
        DiscountCodes({"segment": {"nth_order": 2}, "kind": "percentage", "value": 0})
    assert DiscountCodes({"segment": {"min_spent": "100.50"}, "kind": "fixed_amount", "value": 5}).options.segment \
        .min_spent == Decimal("100.50")


def test_statement_count_is_flat(tmp_path):
    counts = []
    for n in (50, 500):
        store = open_store(f"sqlite:///{tmp_path / f'w{n}.db'}")
        shop = Shop(store)
        shop.put(*(shop.customer(f"c{i:04d}") for i in range(n)))
        shop.put(*(shop.order(f"o{i}-{k}", d, customer_id=f"c{i:04d}", email=f"c{i:04d}@example.com")
                   for i in range(n) for k, d in enumerate((40, 3))))
        with count_statements(store) as seen:
            assert len(shop.plan(rule(nth_order=2))) == n
        counts.append(len(seen))
        store.close()
    assert counts[0] == counts[1]
