"""BG/NBD and Gamma-Gamma: the closed forms against the paper's worked example, the fit on data
simulated from known parameters, and "too thin to fit"."""

from __future__ import annotations

import numpy as np
import pytest

from winback.report.data import OrderHistory
from winback.report.models import WEEK, expected_purchases, fit_bgnbd, p_alive, predict, rfm

CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
"""Fader, Hardie and Lee (2005), the CDNOW sample's estimates."""


def test_conditional_expectation_matches_the_papers_example() -> None:
    # FHL 2005: x = 2, t_x = 30.43, T = 38.86 weeks -> 1.226 purchases expected in the next 39 weeks
    one = np.array
    assert expected_purchases(CDNOW, 39, one([2.0]), one([30.43]), one([38.86]))[0] == pytest.approx(1.226, abs=5e-4)
    assert p_alive(CDNOW, one([0.0]), one([0.0]), one([38.86]))[0] == 1.0


def simulate(customers: int, seed: int, weeks: float = 78.0) -> tuple[OrderHistory, float]:
    """A store whose buyers follow BG/NBD with the CDNOW parameters and spend Gamma-Gamma amounts."""
    rng = np.random.default_rng(seed)
    end = 1_800_000_000.0
    start = end - weeks * WEEK
    buyers, times, values = [], [], []
    for i in range(customers):
        lam = rng.gamma(CDNOW["r"] * 4, 1 / CDNOW["alpha"])  # a busier store than CDNOW: more repeaters
        drop = rng.beta(CDNOW["a"], CDNOW["b"])
        spend = rng.gamma(6, 1 / rng.gamma(3, 1 / 150))
        t = rng.uniform(0, weeks * 0.6)
        while t < weeks:
            buyers.append(i)
            times.append(start + t * WEEK)
            values.append(float(rng.gamma(6, spend / 6)))
            if rng.random() < drop:
                break
            t += rng.exponential(1 / lam)
    order = np.lexsort((np.array(times), np.array(buyers)))
    return OrderHistory(np.array(buyers)[order], np.array(times)[order], np.array(values)[order], {}), end


def test_fit_recovers_a_known_process_and_validates() -> None:
    history, end = simulate(3000, seed=5)
    data = rfm(history, end)
    fitted = fit_bgnbd(data["x"], data["t_x"], data["T"])
    assert fitted is not None
    assert fitted["r"] / fitted["alpha"] == pytest.approx(4 * CDNOW["r"] / CDNOW["alpha"], rel=0.35)
    assert fitted["a"] / (fitted["a"] + fitted["b"]) == pytest.approx(CDNOW["a"] / (CDNOW["a"] + CDNOW["b"]), rel=0.35)

    report = predict(history, end)
    assert report["fitted"] is True and report["gamma_gamma"] is not None
    assert 0 < report["share_likely_lapsed"] < 1
    validation = report["validation"]
    assert validation["done"] is True
    assert validation["predicted_total"] == pytest.approx(validation["actual_total"], rel=0.2)
    assert len(report["cohorts"]) > 0 and all(c["predicted_clv_next_year"] > 0 for c in report["cohorts"])


def test_thin_data_is_not_fitted() -> None:
    history, end = simulate(40, seed=1)
    report = predict(history, end)
    assert report == {"fitted": False, "why": report["why"]} and report["why"].startswith("too thin to fit")
