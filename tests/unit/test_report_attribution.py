"""Per-rule figures and sent-versus-held-out lift, from ledger rows and orders worked out by hand."""

from __future__ import annotations

import pytest

from tests.report_fakes import STORE_KEY, day, order, record_action, seed
from winback.report.attribution import rule_report
from winback.report.metrics import Period
from winback.sync import LocalStore, open_store

PERIOD = Period(day("2026-01-01"), day("2026-07-01"))


@pytest.fixture
def store(tmp_path) -> LocalStore:
    s = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    yield s
    s.close()


def test_counts_redemptions_and_returns(store: LocalStore) -> None:
    seed(store, [
        order("s1-old", "s1@example.com", "2025-01-01", "10"),
        order("s1-new", "s1@example.com", "2026-03-10", "40", discount_codes=("WB-S1",)),
        order("s2-new", "s2@example.com", "2026-05-01", "70"),  # after the 30-day window
        order("h1-new", "h1@example.com", "2026-03-05", "20"),
        order("s1-cancelled", "s1@example.com", "2026-03-11", "500", cancelled_at=day("2026-03-12")),
    ])
    record_action(store, "s1@example.com", "2026-03-01", code="WB-S1")
    record_action(store, "s2@example.com", "2026-03-01", code="WB-S2")
    record_action(store, "s3@example.com", "2026-06-20")  # its window has not ended by 1 July
    record_action(store, "h1@example.com", "2026-03-01", holdout=True)
    record_action(store, "old@example.com", "2025-06-01")  # before the period

    [rule] = rule_report(store, STORE_KEY, PERIOD)
    assert {k: rule[k] for k in ("rule", "planned", "sent", "held_out", "codes_created", "codes_redeemed",
                                 "customers_ordering_within_window", "orders_within_window")} == {
        "rule": "back_to_bestsellers", "planned": 3, "sent": 3, "held_out": 1, "codes_created": 2,
        "codes_redeemed": 1, "customers_ordering_within_window": 1, "orders_within_window": 1}
    assert rule["revenue_within_window"] == pytest.approx(40)
    assert rule["revenue_per_recipient"] == pytest.approx(40 / 3)
    lift = rule["lift"]
    assert (lift["sent_n"], lift["held_out_n"], lift["sent_returned"], lift["held_out_returned"]) == (2, 1, 1, 1)
    assert lift["verdict"].startswith("not enough data yet")
    assert lift["incremental_revenue"] == pytest.approx((40 / 2 - 20) * 2)


def test_a_clear_lift_is_reported_with_its_interval(store: LocalStore) -> None:
    seed(store, [])
    orders = []
    for i in range(60):
        record_action(store, f"s{i}@example.com", "2026-02-01")
        if i < 30:
            orders.append(order(f"s{i}", f"s{i}@example.com", "2026-02-10", "50"))
        record_action(store, f"h{i}@example.com", "2026-02-01", holdout=True)
        if i < 3:
            orders.append(order(f"h{i}", f"h{i}@example.com", "2026-02-10", "50"))
    seed(store, orders)  # the store row exists already: this adds the orders
    [rule] = rule_report(store, STORE_KEY, PERIOD)
    lift = rule["lift"]
    assert lift["sent_return_rate"]["estimate"] == pytest.approx(0.5)
    assert lift["held_out_return_rate"]["estimate"] == pytest.approx(0.05)
    assert lift["return_rate_lift"]["estimate"] == pytest.approx(0.45)
    assert 0.2 < lift["return_rate_lift"]["low"] < 0.45 < lift["return_rate_lift"]["high"] < 0.7
    assert lift["conclusive"] is True
    assert lift["verdict"] == "the messages brought customers back who would not have come otherwise"
    assert lift["incremental_revenue"] == pytest.approx((25 - 2.5) * 60)


def test_no_holdout_says_how_to_measure(store: LocalStore) -> None:
    seed(store, [])
    record_action(store, "s@example.com", "2026-02-01")
    [rule] = rule_report(store, STORE_KEY, PERIOD)
    assert rule["lift"]["verdict"].startswith("no held-out customers")


def test_timings_are_compared_against_their_own_holdouts_and_follow_ups_count_per_step(store: LocalStore) -> None:
    """Entries (first steps) carry the lift, per timing; a follow-up is counted in by_step only."""
    seed(store, [])
    orders = []
    for i in range(30):
        record_action(store, f"a{i}@example.com", "2026-02-01", variant="after_days", step=0)
        record_action(store, f"ah{i}@example.com", "2026-02-01", variant="after_days", step=0, holdout=True)
        record_action(store, f"p{i}@example.com", "2026-02-01", variant="p_alive", step=0)
        record_action(store, f"ph{i}@example.com", "2026-02-01", variant="p_alive", step=0, holdout=True)
        if i < 10:
            record_action(store, f"p{i}@example.com", "2026-02-15", variant="p_alive", step=1)
            orders.append(order(f"p{i}", f"p{i}@example.com", "2026-02-20", "30"))
    seed(store, orders)
    [rule] = rule_report(store, STORE_KEY, PERIOD)
    assert rule["sent"] == 70 and rule["held_out"] == 60
    assert (rule["lift"]["sent_n"], rule["lift"]["held_out_n"]) == (60, 60)  # entries only
    by_timing = {t["timing"]: t for t in rule["by_timing"]}
    assert set(by_timing) == {"after_days", "p_alive"}
    assert (by_timing["p_alive"]["sent"], by_timing["p_alive"]["held_out"]) == (30, 30)
    assert by_timing["p_alive"]["lift"]["sent_returned"] == 10
    assert by_timing["after_days"]["lift"]["sent_returned"] == 0
    assert [(s["step"], s["sent"], s["customers_ordering_within_window"]) for s in rule["by_step"]] == [
        (1, 60, 10), (2, 10, 10)]
