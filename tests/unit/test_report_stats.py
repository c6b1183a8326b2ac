"""Interval maths against published worked examples."""

from __future__ import annotations

import pytest

from winback.report.stats import newcombe_difference, welch_difference, wilson


def test_wilson_matches_newcombe_1998_table_i() -> None:
    # Newcombe (1998a, Stat Med 17:857) Table I, method 3 (score): 81/263 -> 0.2553 to 0.3662
    ci = wilson(81, 263)
    assert (round(ci.low, 4), round(ci.high, 4)) == (0.2553, 0.3662)
    # 0/20 -> 0 to 0.1611 (boundary case)
    ci = wilson(0, 20)
    assert ci.low == 0 and round(ci.high, 4) == 0.1611


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "low", "high"),
    [
        # Newcombe (1998b, Stat Med 17:873) Table II, method 10 (hybrid score), examples (a)-(h)
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
        (0, 10, 0, 10, -0.2775, 0.2775),
        (10, 10, 0, 20, 0.6791, 1.0000),
        (10, 10, 0, 10, 0.6075, 1.0000),
    ],
)
def test_newcombe_hybrid_score_matches_table_ii(x1: int, n1: int, x2: int, n2: int, low: float, high: float) -> None:
    ci = newcombe_difference(x1, n1, x2, n2)
    assert (round(ci.low, 4), round(ci.high, 4)) == (low, high)
    assert ci.estimate == pytest.approx(x1 / n1 - x2 / n2)


def test_welch_agrees_with_scipys_own_welch_test() -> None:
    # An independent implementation: scipy.stats.ttest_ind(equal_var=False).confidence_interval()
    from scipy import stats

    a = [0.0] * 40 + [25.0, 40.0, 55.0, 80.0, 120.0]  # revenue per customer: mostly zero, skewed
    b = [0.0] * 27 + [30.0, 45.0, 60.0]

    def mv(xs: list[float]) -> tuple[float, float]:
        m = sum(xs) / len(xs)
        return m, sum((x - m) ** 2 for x in xs) / (len(xs) - 1)

    ci = welch_difference(*mv(a), len(a), *mv(b), len(b))
    reference = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert ci is not None
    assert ci.estimate == pytest.approx(sum(a) / len(a) - sum(b) / len(b))
    assert (ci.low, ci.high) == (pytest.approx(reference.low), pytest.approx(reference.high))


def test_welch_needs_two_per_group() -> None:
    assert welch_difference(1.0, 0.0, 1, 2.0, 1.0, 5) is None
