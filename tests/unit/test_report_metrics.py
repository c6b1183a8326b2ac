"""Store-health figures on a tiny store whose every number is worked out by hand below."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.report_fakes import STORE_KEY, day, order, seed
from winback.model import FinancialStatus
from winback.report import build_report
from winback.report.data import OrderHistory, load_history
from winback.report.metrics import Period, cohorts, crr, health, reorder_intervals
from winback.sync import LocalStore, open_store

ORDERS = [
    # ann: active at the start, orders twice in the period
    order("a1", "ann@example.com", "2025-03-01", "100"),
    order("a2", "Ann@Example.com", "2026-02-01", "50"),
    order("a3", "ann@example.com", "2026-03-01", "30"),
    # bob: active at the start (within 365 days), lapsed by the end
    order("b1", "bob@example.com", "2025-06-01", "80"),
    # cy: new in the period; a cancelled and a test order that do not count
    order("c1", "cy@example.com", "2026-04-01", "40"),
    order("c2", "cy@example.com", "2026-05-01", "999", cancelled_at=day("2026-05-02")),
    order("c3", "cy@example.com", "2026-05-03", "500", test=True),
    # dee: her only order was refunded in full: never a customer
    order("d1", "dee@example.com", "2026-05-10", "60", status=FinancialStatus.REFUNDED, refunded="60"),
    # eve: lapsed long before the period
    order("e1", "eve@example.com", "2024-01-01", "20"),
    # fay: active at the start, one order in the period refunded in part (net 75)
    order("f1", "fay@example.com", "2025-12-01", "100"),
    order("f2", "fay@example.com", "2026-06-15", "100", refunded="25", status=FinancialStatus.PARTIALLY_REFUNDED),
]
PERIOD = Period(day("2026-01-01"), day("2026-07-01"))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> LocalStore:
    s = open_store(f"sqlite:///{tmp_path_factory.mktemp('r') / 'tiny.db'}")
    seed(s, ORDERS)
    yield s
    s.close()


def test_store_health_by_hand(store: LocalStore) -> None:
    h = health(load_history(store, STORE_KEY), PERIOD)
    # S: ann, bob, fay active on 1 Jan; E: ann, cy, fay active on 1 Jul; N: cy
    assert h["retention"] == {"S": 3, "E": 3, "N": 1, "crr": pytest.approx(200 / 3)}
    assert h["customers"] == 5  # ann, bob, cy, eve, fay (not dee: refunded in full)
    assert h["buyers"] == 3 and h["orders"] == 4
    assert h["revenue"] == pytest.approx(50 + 30 + 40 + 75)
    assert h["aov"] == pytest.approx(195 / 4)
    assert h["repeat_purchase_rate"] == pytest.approx(1 / 3)
    assert h["purchase_frequency"] == pytest.approx(4 / 3)
    assert h["clv"] == pytest.approx(h["aov"] * h["purchase_frequency_per_year"] * h["lifespan"]["years"])


def test_cancelled_test_and_refunded_orders_are_excluded_and_counted(store: LocalStore) -> None:
    history = load_history(store, STORE_KEY)
    assert history.excluded == {"cancelled": 1, "test": 1, "refunded in full": 1, "no buyer": 0, "all orders": 11}
    assert len(history.at) == 8


def test_crr_with_no_customers_at_the_start_is_undefined(store: LocalStore) -> None:
    history = load_history(store, STORE_KEY)
    result = crr(history, day("2023-01-01").timestamp(), day("2024-06-01").timestamp())
    assert result["S"] == 0 and result["N"] == 1 and result["crr"] is None
    assert "no customers at the start" in result["note"]


def test_crr_when_everyone_stays() -> None:
    # one customer ordering every six months: active at both ends, not new
    times = np.array([day(d).timestamp() for d in ("2025-06-01", "2025-12-01", "2026-06-01")])
    history = OrderHistory(np.zeros(3, dtype=np.int64), times, np.ones(3), {})
    assert crr(history, day("2026-01-01").timestamp(), day("2026-07-01").timestamp())["crr"] == 100.0


def test_reorder_intervals_and_hint(store: LocalStore) -> None:
    result = reorder_intervals(load_history(store, STORE_KEY), PERIOD.end_s, {"back_to_bestsellers": 30,
                                                                              "other": 200})
    # ann: 337 and 28 days; fay: 196 days
    assert result["count"] == 3 and result["median_days"] == pytest.approx(196)
    assert len(result["hints"]) == 1 and result["hints"][0].startswith("back_to_bestsellers: after_days = 30")


def test_cohort_matrix(store: LocalStore) -> None:
    rows = {r["cohort"]: r for r in cohorts(load_history(store, STORE_KEY), PERIOD.end_s)["cohorts"]}
    assert set(rows) == {"2025-12", "2026-04"}  # fay, cy: the cohorts of the last 12 months
    assert rows["2026-04"]["retention"] == [1.0, 0.0, 0.0]
    assert rows["2025-12"]["retention"] == [1.0, 0, 0, 0, 0, 0, 1.0]
    assert rows["2025-12"]["value_per_customer"] == pytest.approx(175)


def test_report_states_its_definitions_and_thin_models(store: LocalStore) -> None:
    report = build_report(store, STORE_KEY, start=PERIOD.start, end=PERIOD.end)
    assert {"customer", "real order", "period", "CRR", "CLV", "lifespan"} <= set(report["definitions"])
    assert report["predicted"]["fitted"] is False and report["predicted"]["why"].startswith("too thin to fit")
    assert report["rules"] == []


def test_default_period_ends_after_the_newest_order(store: LocalStore, tmp_path: Path) -> None:
    report = build_report(store, STORE_KEY)
    assert report["period"]["to"].startswith("2026-06-15T00:00:01")
    assert report["period"]["from"].startswith("2025-06-15")
