"""The back_to_bestsellers rule on hand-made stores (SQLite, and PostgreSQL for the audience)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from tests.unit.test_rules_builtin_support import (
    NOW,
    Shop,
    ago,
    count_statements,
    emails,
)
from winback.model import AccountState, ConsentState, DiscountCodeSpec, ProductStatus
from winback.rules.back_to_bestsellers import BackToBestsellers
from winback.rules.base import Step, idempotency_key
from winback.sync import open_store


def populate_audience(shop: Shop) -> None:
    """One record of each kind the audience must include or leave out."""
    c, o = shop.customer, shop.order
    shop.put(
        shop.product("p1"), shop.product("p2"),
        c("lapsed"), c("recent"), c("unsub", consent=ConsentState.UNSUBSCRIBED),
        c("notsub", consent=ConsentState.NOT_SUBSCRIBED), c("unknown", consent=ConsentState.UNKNOWN),
        c("cancelled"), c("testonly"), c("refunded"), c("redacted"), c("reminded"), c("again"), c("tooold"),
        c("mixed"),
    )
    shop.put(
        o("o-lapsed", 200, customer_id="lapsed", email="lapsed@example.com"),
        o("o-recent-1", 400, customer_id="recent", email="recent@example.com"),
        o("o-recent-2", 20, customer_id="recent", email="recent@example.com"),
        o("o-unsub", 200, customer_id="unsub", email="unsub@example.com"),
        o("o-notsub", 200, customer_id="notsub", email="notsub@example.com"),
        o("o-unknown", 200, customer_id="unknown", email="unknown@example.com"),
        o("o-cancelled", 200, customer_id="cancelled", email="cancelled@example.com", cancelled=True),
        o("o-test", 200, customer_id="testonly", email="testonly@example.com", test=True),
        o("o-refunded", 200, customer_id="refunded", email="refunded@example.com", refunded=True),
        o("o-redacted", 200, customer_id="redacted", email="redacted@example.com"),
        o("o-reminded", 200, customer_id="reminded", email="reminded@example.com"),
        o("o-again-1", 600, customer_id="again", email="again@example.com"),
        o("o-again-2", 250, customer_id="again", email="again@example.com"),
        o("o-old", 900, customer_id="tooold", email="tooold@example.com"),
        # a real order 200 days ago, then a cancelled one last week: still lapsed
        o("o-mixed-1", 200, customer_id="mixed", email="mixed@example.com"),
        o("o-mixed-2", 5, customer_id="mixed", email="mixed@example.com", cancelled=True),
        # Ecwid guests: no customer row; consent from their newest order
        o("o-guest-yes", 300, email="Guest.Yes@example.com", accepts_marketing=True, billing=("Gus", "Yes")),
        o("o-guest-no-1", 300, email="guest.no@example.com", accepts_marketing=True),
        o("o-guest-no-2", 250, email="guest.no@example.com", accepts_marketing=False),
        o("o-guest-unknown", 300, email="guest.unknown@example.com"),
    )
    shop.store.redact_customer(shop.key, "redacted")
    rule = BackToBestsellers.name
    shop.ledger(rule, idempotency_key(rule, shop.key, "reminded@example.com", "o-reminded"), "reminded@example.com",
                created_at=ago(10))
    # reminded for an older order, before the newer one: due again
    shop.ledger(rule, idempotency_key(rule, shop.key, "again@example.com", "o-again-1"), "again@example.com",
                created_at=ago(400))


EXPECTED = ["again@example.com", "Guest.Yes@example.com", "lapsed@example.com", "mixed@example.com"]


def test_audience_includes_only_lapsed_subscribed_unreminded_buyers(any_store):
    shop = Shop(any_store)
    populate_audience(shop)

    actions = shop.plan(BackToBestsellers())

    assert emails(actions) == EXPECTED
    assert all(a.marketing and a.steps == (Step.SEND_EMAIL,) for a in actions)
    lapsed = actions[2]
    assert lapsed.idempotency_key == idempotency_key("back_to_bestsellers", shop.key, "lapsed@example.com", "o-lapsed")
    assert lapsed.customer_id == "lapsed"
    assert lapsed.reason == "last order 2026-05-06, 200 days ago; subscribed; not reminded since"
    guest = actions[1]
    assert guest.customer_id is None and guest.recipient_name == "Gus Yes"
    assert "accepted marketing" in guest.reason


def test_planning_twice_gives_the_same_actions(store):
    shop = Shop(store)
    populate_audience(shop)
    assert shop.plan(BackToBestsellers()) == shop.plan(BackToBestsellers())


def test_a_failed_reminder_is_proposed_again(store):
    shop = Shop(store)
    shop.put(shop.product("p1"), shop.customer("c"), shop.order("o", 200, customer_id="c", email="c@example.com"))
    rule = BackToBestsellers.name
    shop.ledger(rule, idempotency_key(rule, shop.key, "c@example.com", "o"), "c@example.com", status="failed",
                created_at=ago(1))
    assert emails(shop.plan(BackToBestsellers())) == ["c@example.com"]


def test_max_age_and_after_days_bound_the_window(store):
    shop = Shop(store)
    shop.put(shop.product("p1"), shop.customer("a"), shop.customer("b"),
             shop.order("oa", 100, customer_id="a", email="a@example.com"),
             shop.order("ob", 500, customer_id="b", email="b@example.com"))
    assert emails(shop.plan(BackToBestsellers({"after_days": 90, "max_age_days": 400}))) == ["a@example.com"]
    with pytest.raises(ValidationError):
        BackToBestsellers({"after_days": 800})


def test_email_context_for_the_template(store):
    shop = Shop(store)
    shop.put(shop.product("p1", price="12.5"), shop.customer("c", first_name="Cleo", last_name="Marsh"),
             shop.order("o", 200, customer_id="c", email="c@example.com"))
    [action] = shop.plan(BackToBestsellers())
    email = action.payload["email"]
    assert email["template"] == "back_to_bestsellers"
    ctx = email["context"]
    assert "store" not in ctx  # compose sets it from the store's facts when the email is built
    assert ctx["customer"] == {"first_name": "Cleo", "last_name": "Marsh", "display_name": "Cleo Marsh",
                               "email": "c@example.com"}
    assert ctx["products"] == [{"title": "Product p1", "url": "https://shop.test/p/p1",
                                "image_url": "https://shop.test/i/p1.jpg", "price": "12.50", "currency": "EUR"}]
    assert ctx["last_order_at"] == "2026-05-06" and ctx["days_since"] == 200
    assert "discount" not in ctx and "discount" not in action.payload


# --- bestsellers ---------------------------------------------------------------------------------


def test_bestsellers_count_units_net_of_refunds_on_real_recent_orders_of_active_products(store):
    shop = Shop(store)
    shop.put(
        shop.product("a"), shop.product("b"), shop.product("c"), shop.product("d"),
        shop.product("gone", ProductStatus.ARCHIVED), shop.product("hidden", ProductStatus.UNLISTED),
        shop.customer("x"),
    )
    shop.put(
        shop.order("o1", 10, email="buyer1@example.com", lines=[("a", 5, 1), ("b", 3), ("gone", 50), ("hidden", 40)]),
        shop.order("o2", 10, email="buyer2@example.com", lines=[("c", 2)]),
        shop.order("o3", 10, email="buyer3@example.com", lines=[("d", 30)], cancelled=True),
        shop.order("o4", 10, email="buyer4@example.com", lines=[("d", 30)], test=True),
        shop.order("o5", 500, email="buyer5@example.com", lines=[("a", 30)]),  # outside the lookback
        shop.order("ox", 200, customer_id="x", email="x@example.com", lines=[("zzz", 1)]),
    )
    [action] = shop.plan(BackToBestsellers({"products": 3}))
    titles = [p["title"] for p in action.payload["email"]["context"]["products"]]
    assert titles == ["Product b", "Product c", "Product a"]


def test_purchased_products_are_left_out_with_fallback_to_the_global_top(store):
    shop = Shop(store)
    shop.put(*(shop.product(p) for p in ("a", "b", "c", "d")), shop.customer("x"), shop.customer("y"),
             shop.customer("z"))
    shop.put(
        shop.order("s1", 10, email="s1@example.com", lines=[("a", 9), ("b", 8), ("c", 7), ("d", 6)]),
        # x bought a (by email on a guest order) and b (on their own order)
        shop.order("x1", 300, email="X@example.com", lines=[("a", 1)]),
        shop.order("x2", 200, customer_id="x", email="x@example.com", lines=[("b", 1)]),
        # y bought a, b and c: only d is left, too few for 2 products
        shop.order("y1", 200, customer_id="y", email="y@example.com", lines=[("a", 1), ("b", 1), ("c", 1)]),
        shop.order("z1", 200, customer_id="z", email="z@example.com", lines=[("zzz", 1)]),
    )
    by_email = {a.email: [p["title"][-1] for p in a.payload["email"]["context"]["products"]]
                for a in shop.plan(BackToBestsellers({"products": 2}))}
    assert by_email == {"x@example.com": ["c", "d"], "y@example.com": ["a", "b"], "z@example.com": ["a", "b"]}
    kept = {a.email: [p["title"][-1] for p in a.payload["email"]["context"]["products"]]
            for a in shop.plan(BackToBestsellers({"products": 2, "exclude_purchased": False}))}
    assert kept["x@example.com"] == ["a", "b"]


def test_no_active_bestseller_means_no_actions(store):
    shop = Shop(store)
    shop.put(shop.product("p1", ProductStatus.DRAFT), shop.customer("c"),
             shop.order("o", 200, customer_id="c", email="c@example.com"))
    assert shop.plan(BackToBestsellers()) == []


# --- cadence -------------------------------------------------------------------------------------


def test_cadence_reminds_a_monthly_buyer_after_about_two_months(store):
    shop = Shop(store)
    shop.put(shop.product("p1"), shop.customer("monthly"), shop.customer("rare"), shop.customer("soon"))
    shop.put(
        # monthly: orders 150, 120, 90, 60 days ago -> mean gap 30, due after 60 days
        *(shop.order(f"m{n}", d, customer_id="monthly", email="monthly@example.com")
          for n, d in enumerate((150, 120, 90, 60))),
        # two orders only: falls back to after_days
        shop.order("r1", 300, customer_id="rare", email="rare@example.com"),
        shop.order("r2", 100, customer_id="rare", email="rare@example.com"),
        # monthly too, but last order 40 days ago: not due
        *(shop.order(f"s{n}", d, customer_id="soon", email="soon@example.com") for n, d in enumerate((130, 100, 70, 40))),
    )
    assert shop.plan(BackToBestsellers()) == []
    [action] = shop.plan(BackToBestsellers({"cadence": True}))
    assert action.email == "monthly@example.com"
    assert "orders about every 30 days (4 orders), due after 60" in action.reason
    assert emails(shop.plan(BackToBestsellers({"cadence": True}), now=ago(-90))) == [
        "monthly@example.com", "rare@example.com", "soon@example.com"]


# --- discount ------------------------------------------------------------------------------------


def test_discount_code_step_and_spec(store):
    shop = Shop(store)
    shop.put(shop.product("p1"), shop.customer("c"), shop.customer("d"),
             shop.order("oc", 200, customer_id="c", email="c@example.com"),
             shop.order("og", 200, email="guest@example.com", accepts_marketing=True))
    rule = BackToBestsellers({"discount": {"kind": "percentage", "value": 15, "valid_days": 10}})
    actions = shop.plan(rule)
    assert [a.steps for a in actions] == [(Step.CREATE_DISCOUNT_CODE, Step.SEND_EMAIL)] * 2
    spec = DiscountCodeSpec.model_validate(actions[0].payload["discount"])
    assert spec.code.startswith("BACK-") and len(spec.code) == 13
    assert spec.value == Decimal(15) and spec.kind.value == "percentage"
    assert spec.once_per_customer and spec.usage_limit == 1
    assert spec.starts_at == NOW and (spec.ends_at - NOW).days == 10
    assert spec.customer_id == "c"
    assert DiscountCodeSpec.model_validate(actions[1].payload["discount"]).customer_id is None
    ctx_discount = actions[0].payload["email"]["context"]["discount"]
    assert ctx_discount["code"] == spec.code and ctx_discount["value"] == "15"
    assert actions[0].payload["discount"]["code"] != actions[1].payload["discount"]["code"]
    assert [a.payload["discount"]["code"] for a in shop.plan(rule)] == [a.payload["discount"]["code"] for a in actions]


def test_discount_options_are_checked():
    with pytest.raises(ValidationError):
        BackToBestsellers({"discount": {"kind": "percentage", "value": 150}})
    with pytest.raises(ValidationError):
        BackToBestsellers({"discount": {"kind": "bogus", "value": 5}})
    with pytest.raises(ValidationError):
        BackToBestsellers({"discount": {"kind": "fixed_amount", "value": 5, "prefix": "bad prefix"}})


# --- scale ---------------------------------------------------------------------------------------


def fill(shop: Shop, n: int) -> None:
    shop.put(*(shop.product(f"p{k}") for k in range(6)))
    shop.put(*(shop.customer(f"c{i:04d}", account=AccountState.ENABLED) for i in range(n)))
    shop.put(*(shop.order(f"o{i:04d}", 200 + i % 50, customer_id=f"c{i:04d}", email=f"c{i:04d}@example.com",
                          lines=[(f"p{i % 6}", 1)]) for i in range(n)))


def test_statement_count_does_not_grow_with_the_audience(tmp_path):
    counts = {}
    for n in (50, 500):
        store = open_store(f"sqlite:///{tmp_path / f'w{n}.db'}")
        shop = Shop(store)
        fill(shop, n)
        with count_statements(store) as seen:
            actions = shop.plan(BackToBestsellers())
        assert len(actions) == n
        assert emails(actions) == sorted(emails(actions))
        counts[n] = len(seen)
        store.close()
    # bestsellers + audience (+ BEGIN/ROLLBACK) + one purchased-products query per 500 buyers
    assert counts[500] <= counts[50] + 1
    assert counts[500] <= 6
