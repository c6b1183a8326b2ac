"""The feedback_request rule on hand-made stores (SQLite, and PostgreSQL for the audience)."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from tests.unit.test_rules_builtin_support import NOW, Shop, ago, emails
from winback.model import ConsentState, Order
from winback.rules.base import Step, idempotency_key
from winback.rules.feedback_request import FeedbackRequest
from winback.rules.planner import plan_client
from winback.sync import feedback, tables


def shipped(order: Order, fulfilled_days: float | None, delivered_days: float | None = None) -> Order:
    return order.model_copy(update={
        "fulfillment_status": "delivered" if delivered_days is not None else "shipped" if fulfilled_days else None,
        "fulfilled_at": None if fulfilled_days is None else ago(fulfilled_days),
        "delivered_at": None if delivered_days is None else ago(delivered_days),
    })


def populate(shop: Shop) -> None:
    c, o = shop.customer, shop.order
    shop.put(
        shop.product("p1"),
        c("delivered"), c("intransit"), c("early"), c("unshipped"), c("old"), c("unsub", consent=ConsentState.UNSUBSCRIBED),
        c("notsub", consent=ConsentState.NOT_SUBSCRIBED), c("cancelled"), c("two"), c("answered"),
    )
    shop.put(
        shipped(o("o-delivered", 12, customer_id="delivered", email="delivered@example.com"), 11, 8),
        shipped(o("o-intransit", 20, customer_id="intransit", email="intransit@example.com"), 15),
        shipped(o("o-early", 6, customer_id="early", email="early@example.com"), 5, 3),
        o("o-unshipped", 40, customer_id="unshipped", email="unshipped@example.com"),
        shipped(o("o-old", 90, customer_id="old", email="old@example.com"), 89, 85),
        shipped(o("o-unsub", 12, customer_id="unsub", email="unsub@example.com"), 11, 8),
        shipped(o("o-notsub", 12, customer_id="notsub", email="notsub@example.com"), 11, 8),
        shipped(o("o-cancelled", 12, customer_id="cancelled", email="cancelled@example.com", cancelled=True), 11, 8),
        shipped(o("o-two-1", 25, customer_id="two", email="two@example.com"), 24, 20),
        shipped(o("o-two-2", 14, customer_id="two", email="two@example.com"), 13, 9),
        shipped(o("o-answered", 12, customer_id="answered", email="answered@example.com"), 11, 8),
    )
    feedback.record_score(shop.store, shop.key, "o-answered", 9, ago(1))


def test_due_orders_are_asked_about_once_each_newest_first(any_store) -> None:
    shop = Shop(any_store)
    populate(shop)
    actions = shop.plan(FeedbackRequest())
    assert emails(actions) == ["delivered@example.com", "intransit@example.com", "two@example.com"]
    by_email = {a.email: a for a in actions}
    assert by_email["two@example.com"].payload["feedback"]["order_id"] == "o-two-2"
    delivered = by_email["delivered@example.com"]
    assert delivered.idempotency_key == idempotency_key("feedback_request", shop.key, "o-delivered")
    assert delivered.steps == (Step.SEND_EMAIL,) and delivered.marketing
    assert delivered.reason.startswith("order #o-delivered delivered 2026-11-14, 8 days ago")
    assert "no delivery report; 5 transit days" in by_email["intransit@example.com"].reason
    context = delivered.payload["email"]["context"]
    assert context["order"]["lines"] == ["Product p1"] and context["order"]["delivered"] is True


def test_delivered_only_waits_for_a_delivery_report(store) -> None:
    shop = Shop(store)
    populate(shop)
    assert "intransit@example.com" not in emails(shop.plan(FeedbackRequest({"delivered_only": True})))


def test_transactional_mode_skips_consent_but_not_an_unsubscribe(store) -> None:
    shop = Shop(store)
    populate(shop)
    actions = shop.plan(FeedbackRequest({"marketing": False}))
    assert "notsub@example.com" in emails(actions) and "unsub@example.com" not in emails(actions)
    assert all(not a.marketing for a in actions) and "transactional" in actions[0].reason


def test_a_buyer_asked_recently_is_not_asked_again(store) -> None:
    shop = Shop(store)
    populate(shop)
    # asked about another order 20 days ago, before this one shipped (11 days ago)
    shop.ledger("feedback_request", "feedback_request:other", "delivered@example.com", created_at=ago(20))
    assert "delivered@example.com" not in emails(shop.plan(FeedbackRequest()))
    assert "delivered@example.com" in emails(shop.plan(FeedbackRequest({"min_days_between": 0})))
    # asked after this order shipped: never asked about it again, whatever the gap
    shop.ledger("feedback_request", "feedback_request:later", "delivered@example.com", created_at=ago(10))
    assert "delivered@example.com" not in emails(shop.plan(FeedbackRequest({"min_days_between": 0})))


def test_an_order_asked_about_is_settled_in_the_planner(store) -> None:
    shop = Shop(store)
    populate(shop)
    rule = FeedbackRequest({"min_days_between": 0})
    key = idempotency_key("feedback_request", shop.key, "o-delivered")
    shop.ledger("feedback_request", key, "delivered@example.com", created_at=ago(30))
    plan = plan_client(store, shop.facts, [rule], NOW)
    assert "delivered@example.com" not in emails(plan.actions)
    assert [h.action.email for h in plan.held if h.reason.value == "already done"] == ["delivered@example.com"]


def test_days_after_moves_the_due_date(store) -> None:
    shop = Shop(store)
    populate(shop)
    assert "early@example.com" in emails(shop.plan(FeedbackRequest({"days_after": 2})))
    assert "delivered@example.com" not in emails(shop.plan(FeedbackRequest({"days_after": 9})))


@pytest.mark.parametrize("options", [
    {"answer_url": "http://shop.example/{order}/{score}/{token}"},
    {"answer_url": "https://shop.example/{order}/{score}"},
    {"answer_url": "https://shop.example/{order}/{score}/{token}/{email}"},
    {"days_after": -1}, {"max_age_days": 0}, {"bogus": 1},
])
def test_bad_options_are_refused(options: dict) -> None:
    with pytest.raises(ValidationError):
        FeedbackRequest(options)


def test_summary_counts_nps(store) -> None:
    shop = Shop(store)
    for n, score in enumerate([10, 9, 8, 7, 6, 0, 10]):
        feedback.record_score(store, shop.key, f"o{n}", score, ago(1))
    feedback.record_score(store, shop.key, "o6", 3, NOW)  # a second click changes the answer, not the count
    s = feedback.summary(store, shop.key)
    assert (s.answers, s.promoters, s.passives, s.detractors) == (7, 2, 2, 3)
    assert s.nps == pytest.approx(100 * (2 - 3) / 7) and s.average == pytest.approx(43 / 7)
    row = feedback.answer_of(store, shop.key, "o6")
    assert row is not None and row["score"] == 3 and row["clicks"] == 2
    first: datetime = row["first_answered_at"]
    assert first == ago(1) and row["answered_at"] == NOW
    assert feedback.record_comment(store, shop.key, "o6", "  box was crushed  ", NOW)
    assert feedback.answer_of(store, shop.key, "o6")["comment"] == "box was crushed"  # type: ignore[index]
    assert not feedback.record_comment(store, shop.key, "nope", "x", NOW)


def test_report_has_a_feedback_section_when_answers_came(store) -> None:
    from winback.report import build_report
    from winback.report.render import render_html

    shop = Shop(store)
    shop.put(shop.customer("a"), shipped(shop.order("o1", 40, customer_id="a", email="a@example.com"), 39, 35))
    assert build_report(store, shop.key)["feedback"] is None
    assert 'id="feedback"' not in render_html([build_report(store, shop.key)])
    feedback.record_score(store, shop.key, "o1", 10, ago(20))
    feedback.record_score(store, shop.key, "o2", 5, ago(19))
    report = build_report(store, shop.key)  # the default end follows the newest order: answers come later
    assert report["feedback"] == {"answers": 2, "average": 7.5, "nps": 0.0, "promoters": 1, "passives": 0,
                                  "detractors": 1}
    assert build_report(store, shop.key, start=ago(60), end=ago(19.5))["feedback"]["answers"] == 1  # type: ignore[index]
    page = render_html([report])
    assert 'id="feedback"' in page and "NPS" in page and "+0" in page


def test_answers_are_in_a_data_request_and_unlinked_by_a_redaction(any_store) -> None:
    from winback.sync import privacy

    shop = Shop(any_store)
    shop.put(shop.customer("a"), shop.customer("b"),
             shipped(shop.order("o1", 20, customer_id="a", email="a@example.com"), 19, 15),
             shipped(shop.order("o2", 20, customer_id="b", email="b@example.com"), 19, 15))
    for order_id in ("o1", "o2"):
        feedback.record_score(any_store, shop.key, order_id, 4, ago(3))
        feedback.record_comment(any_store, shop.key, order_id, "slow", ago(3))
    held = privacy.customer_data(any_store, shop.key, "a", "a@example.com")
    assert [(r["order_id"], r["comment"]) for r in held["feedback"]] == [("o1", "slow")]
    any_store.redact_customer(shop.key, "a")
    gone = feedback.answer_of(any_store, shop.key, "o1")
    kept = feedback.answer_of(any_store, shop.key, "o2")
    assert gone is not None and (gone["lower_email"], gone["comment"], gone["score"]) == (None, None, 4)
    assert kept is not None and (kept["lower_email"], kept["comment"]) == ("b@example.com", "slow")


def test_the_store_keeps_the_first_sighting_of_a_fulfilment(store) -> None:
    """Ecwid says "shipped" only with the order's updateDate, which every later edit moves."""
    shop = Shop(store)
    first = shipped(shop.order("o1", 10, email="a@example.com"), 9)
    shop.put(first)
    later = shipped(first, 2, 1).model_copy(update={"updated_at": ago(1)})
    shop.put(later)
    with store.reading() as conn:
        row = conn.execute(select(tables.orders).where(tables.orders.c.id == "o1")).mappings().one()
    assert (row["fulfilled_at"], row["delivered_at"], row["fulfillment_status"]) == (ago(9), ago(1), "delivered")
    shop.put(later.model_copy(update={"updated_at": ago(0.5), "fulfilled_at": None, "delivered_at": None,
                                      "fulfillment_status": "returned"}))
    with store.reading() as conn:
        row = conn.execute(select(tables.orders).where(tables.orders.c.id == "o1")).mappings().one()
    assert (row["fulfilled_at"], row["delivered_at"]) == (None, None)  # no longer reported: cleared
