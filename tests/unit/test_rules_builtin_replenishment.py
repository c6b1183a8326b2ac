"""The replenishment rule and its interval learning on hand-made stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.unit.test_rules_builtin_support import NOW, Shop, ago, count_statements, emails
from winback.model import ConsentState, ProductStatus
from winback.notify.templates import render_email
from winback.rules.base import Step, idempotency_key
from winback.rules.reorder import reorder_intervals
from winback.rules.replenishment import Replenishment
from winback.sync import open_store


def key(shop: Shop, email: str, product: str, order: str) -> str:
    return idempotency_key("replenishment", shop.key, email, product, order)


def populate(shop: Shop) -> None:
    """coffee is reordered every 30 days by six buyers, filter every 60 days by five; mug is never
    reordered. Then one buyer of each kind the audience must include or leave out."""
    c, o = shop.customer, shop.order
    shop.put(shop.product("coffee", price="12.00"), shop.product("filter"), shop.product("mug"),
             shop.product("tea", ProductStatus.ARCHIVED))
    people = ["r1", "r2", "r3", "r4", "r5", "due", "early", "late", "since", "refunded", "cancelled", "unsub",
              "reminded", "mugonly", "teaonly"]
    shop.put(*(c(p, consent=ConsentState.UNSUBSCRIBED if p == "unsub" else ConsentState.SUBSCRIBED) for p in people))
    orders = []
    for r in ("r1", "r2", "r3", "r4", "r5"):
        mail = f"{r}@example.com"
        orders += [
            o(f"{r}-1", 200, customer_id=r, email=mail, lines=[("coffee", 1), ("mug", 1), ("tea", 1)]),
            o(f"{r}-2", 170, customer_id=r, email=mail, lines=[("coffee", 1), ("tea", 1)]),
            o(f"{r}-3", 140, customer_id=r, email=mail, lines=[("coffee", 2), ("tea", 1)]),
            o(f"{r}-4", 260, customer_id=r, email=mail, lines=[("filter", 1)]),
            o(f"{r}-5", 200.2, customer_id=r, email=mail, lines=[("filter", 1)]),
            o(f"{r}-6", 200.5, customer_id=r, email=mail, lines=[("filter", 1)]),  # same purchase, split
        ]

    def one(who: str, oid: str, days: float, *lines: str, **kw: object) -> None:
        orders.append(o(oid, days, customer_id=who, email=f"{who}@example.com",
                        lines=[(p, 1) for p in lines], **kw))  # type: ignore[arg-type]

    one("due", "due-1", 28, "coffee")
    one("early", "early-1", 20, "coffee")
    one("late", "late-1", 70, "coffee")
    one("since", "since-1", 40, "coffee")
    one("since", "since-2", 10, "coffee")
    one("refunded", "refunded-1", 35, "coffee")
    one("refunded", "refunded-2", 5, "coffee", refunded=True)  # live, not real: bought since
    one("cancelled", "cancelled-1", 35, "coffee")
    one("cancelled", "cancelled-2", 5, "coffee", cancelled=True)  # cancelled: still due
    one("unsub", "unsub-1", 30, "coffee")
    one("reminded", "reminded-1", 30, "coffee")
    one("reminded", "reminded-2", 58, "filter")
    one("mugonly", "mugonly-1", 30, "mug")
    one("teaonly", "teaonly-1", 30, "tea")
    orders.append(o("guest-1", 30, email="Guest@example.com", accepts_marketing=True, billing=("Gus", "Guest"),
                    lines=[("coffee", 1)]))
    orders.append(o("guest-no-1", 30, email="nope@example.com", accepts_marketing=False, lines=[("coffee", 1)]))
    shop.put(*orders)
    shop.ledger("replenishment", key(shop, "reminded@example.com", "coffee", "reminded-1"), "reminded@example.com",
                created_at=ago(8))


def test_intervals_are_the_median_reorder_gap_of_products_enough_buyers_reordered(any_store):
    shop = Shop(any_store)
    populate(shop)
    with any_store.reading() as conn:
        learned = reorder_intervals(conn, shop.key, ago(730), min_repeat_buyers=5)
    assert sorted(learned) == ["coffee", "filter", "tea"]
    coffee = learned["coffee"]
    assert round(coffee.median_days, 3) == 30 and coffee.repeat_buyers == 6 and coffee.gaps == 11
    # the split order 0.3 days after another is no reorder: one 59.5-day gap per buyer
    assert round(learned["filter"].median_days, 1) == 59.5 and learned["filter"].gaps == 5
    with any_store.reading() as conn:
        assert sorted(reorder_intervals(conn, shop.key, ago(730), min_repeat_buyers=6)) == ["coffee"]


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two(store):
    shop = Shop(store)
    shop.put(shop.product("p"))
    orders = []
    for n, gap in enumerate((10, 20, 30, 100)):
        orders += [shop.order(f"a{n}", 300, email=f"b{n}@example.com", lines=[("p", 1)]),
                   shop.order(f"b{n}", 300 - gap, email=f"b{n}@example.com", lines=[("p", 1)])]
    shop.put(*orders)
    with store.reading() as conn:
        [interval] = reorder_intervals(conn, shop.key, ago(730), min_repeat_buyers=2).values()
    assert round(interval.median_days, 3) == 25 and interval.repeat_buyers == 4


def test_audience_is_buyers_due_to_reorder_and_not_reminded_for_that_purchase(any_store):
    shop = Shop(any_store)
    populate(shop)

    actions = shop.plan(Replenishment({"products": 0}))

    assert emails(actions) == ["cancelled@example.com", "due@example.com", "Guest@example.com",
                               "reminded@example.com"]
    assert all(a.marketing and a.steps == (Step.SEND_EMAIL,) for a in actions)
    by_email = {a.email: a for a in actions}
    due = by_email["due@example.com"]
    assert due.idempotency_key == key(shop, "due@example.com", "coffee", "due-1")
    assert due.reason == ("bought Product coffee on 2026-10-25, 28 days ago; its buyers reorder it about every 30 "
                          "days (median of 11 reorders by 6 buyers); due after 27 days; subscribed; "
                          "not reminded for this purchase")
    # coffee was reminded for this purchase already: the filter, due next, is proposed instead
    reminded = by_email["reminded@example.com"]
    assert reminded.idempotency_key == key(shop, "reminded@example.com", "filter", "reminded-2")
    assert reminded.payload["product_id"] == "filter"
    guest = by_email["Guest@example.com"]
    assert guest.customer_id is None and guest.recipient_name == "Gus Guest"
    assert "accepted marketing" in guest.reason


def test_a_buyer_reminded_days_ago_waits_for_the_next_product(store):
    shop = Shop(store)
    populate(shop)
    # reminded of coffee 8 days ago: with min_days_between = 10, the filter waits
    assert "reminded@example.com" not in emails(shop.plan(Replenishment({"min_days_between": 10})))
    assert "reminded@example.com" in emails(shop.plan(Replenishment()))
    # a failed reminder does not count
    shop.ledger("replenishment", key(shop, "due@example.com", "filter", "x"), "due@example.com", status="failed",
                created_at=ago(1))
    assert "due@example.com" in emails(shop.plan(Replenishment()))


def test_planning_twice_gives_the_same_actions_and_a_new_purchase_rearms(store):
    shop = Shop(store)
    populate(shop)
    first = shop.plan(Replenishment())
    assert first == shop.plan(Replenishment())
    later = {a.email: a for a in shop.plan(Replenishment(), now=ago(-29))}
    assert later["due@example.com"].idempotency_key == key(shop, "due@example.com", "coffee", "due-1")
    # a reorder re-arms the reminder with a new key, due one interval after it
    shop.put(shop.order("due-2", -1, customer_id="due", email="due@example.com", lines=[("coffee", 1)]))
    assert "due@example.com" not in emails(shop.plan(Replenishment(), now=ago(-20)))
    again = {a.email: a for a in shop.plan(Replenishment(), now=ago(-29))}
    assert again["due@example.com"].idempotency_key == key(shop, "due@example.com", "coffee", "due-2")


def test_window_options_move_the_due_date(store):
    shop = Shop(store)
    populate(shop)
    # remind 10 days early: "early" (20 days) is due too
    early = {"min_interval_days": 14, "products": 0}
    assert "early@example.com" in emails(shop.plan(Replenishment({**early, "lead_days": 10})))
    assert "early@example.com" not in emails(shop.plan(Replenishment({**early, "lead_days": 9})))
    # a longer tolerance reaches "late" (70 days; due 27-60 by default)
    assert "late@example.com" in emails(shop.plan(Replenishment({"max_overdue_days": 45, "products": 0})))
    # clamp: at most 20 days, so "due" (28 days) is due and the reason says so
    clamped = {a.email: a for a in shop.plan(Replenishment({"max_interval_days": 20, "products": 0}))}
    assert "early@example.com" in clamped and "clamped to 20" in clamped["early@example.com"].reason
    assert emails(shop.plan(Replenishment({"min_repeat_buyers": 7}))) == []


def test_options_are_validated():
    with pytest.raises(ValidationError):
        Replenishment({"min_interval_days": 30, "max_interval_days": 20})
    with pytest.raises(ValidationError):
        Replenishment({"lead_days": 7})
    with pytest.raises(ValidationError):
        Replenishment({"recommend": "random"})
    with pytest.raises(ValidationError):
        Replenishment({"min_repeat_buyers": 1})


def test_email_links_back_to_the_product_and_renders(store):
    shop = Shop(store)
    populate(shop)
    opts = {"products": 2, "discount": {"kind": "percentage", "value": 10, "prefix": "REFILL"}}
    action = {a.email: a for a in shop.plan(Replenishment(opts))}["due@example.com"]
    assert action.steps == (Step.CREATE_DISCOUNT_CODE, Step.SEND_EMAIL)
    assert action.payload["discount"]["code"].startswith("REFILL-")
    ctx = action.payload["email"]["context"]
    assert ctx["product"] == {"title": "Product coffee", "url": "https://shop.test/p/coffee",
                              "image_url": "https://shop.test/i/coffee.jpg", "price": "12.00", "currency": "EUR"}
    assert ctx["last_purchase_at"] == "2026-10-25" and ctx["days_since"] == 28 and ctx["interval_days"] == 30
    # you may also like: what coffee buyers also bought (mug; tea is archived), never coffee itself
    # filter first: every coffee buyer with more than one product bought it (cosine 1.0 against 0.91)
    assert [p["title"] for p in ctx["products"]] == ["Product filter", "Product mug"]
    facts = shop.facts
    rendered = render_email("replenishment", {**ctx, "store": {"name": facts.name, "url": facts.url,
                                                               "currency": facts.currency}})
    text = rendered.html + rendered.text
    assert rendered.subject == "Ann, time to restock Product coffee: 10% off"
    assert "https://shop.test/p/coffee" in text and "Product mug" in text


def test_sample_action_renders_with_the_default_templates():
    from winback.rules.base import RuleContext
    from winback.rules.samples import sample_facts

    context = RuleContext(store=None, facts=sample_facts("Shop", "ecwid", "ecwid:1"), now=NOW,  # type: ignore[arg-type]
                          capabilities=None)
    [action] = Replenishment({"discount": {"kind": "percentage", "value": 10}}).sample_actions(context)
    assert action.payload["email"]["template"] == "replenishment"
    assert "reorder it about every 30 days" in action.reason
    ctx = action.payload["email"]["context"]
    rendered = render_email("replenishment", {**ctx, "store": {"name": "Shop", "url": "https://shop.example.com",
                                                               "currency": "USD"}})
    assert rendered.subject.startswith("Ada, time to restock Sample product 1: 10% off")
    assert ctx["discount"]["code"] in rendered.text and "Sample product 2" in rendered.html
    assert "after about a month" in rendered.text


def test_statements_do_not_grow_with_the_audience(tmp_path):
    counts = {}
    for n in (20, 600):
        store = open_store(f"sqlite:///{tmp_path / f'{n}.db'}")
        shop = Shop(store)
        shop.put(shop.product("coffee"), shop.product("mug"))
        orders = []
        for i in range(n):
            mail = f"b{i:04}@example.com"
            orders += [shop.order(f"o{i}-1", 58, email=mail, accepts_marketing=True, lines=[("coffee", 1), ("mug", 1)]),
                       shop.order(f"o{i}-2", 28, email=mail, accepts_marketing=True, lines=[("coffee", 1)])]
        shop.put(*orders)
        with count_statements(store) as seen:
            actions = shop.plan(Replenishment())
        assert len(actions) == n
        counts[n] = len(seen)
        store.close()
    # audience + bestsellers + pairs, then per 500 buyers: ledger keys + purchased products
    assert counts[600] <= counts[20] + 2


def test_a_buyer_whose_rows_straddle_two_batches_is_grouped_whole():
    from types import SimpleNamespace

    from winback.rules.replenishment import _by_buyer

    def rows(*emails: str) -> list[SimpleNamespace]:
        return [SimpleNamespace(lower_email=e, n=i) for i, e in enumerate(emails)]

    batches = [rows("a", "a", "b"), rows("b", "c"), rows("c"), rows("d")]
    grouped = [[[r.lower_email for r in group] for group in chunk] for chunk in _by_buyer(iter(batches))]
    assert grouped == [[["a", "a"]], [["b", "b"]], [["c", "c"]], [["d"]]]
