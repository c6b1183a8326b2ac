"""Predicted value: BG/NBD (purchases and P(alive)) and Gamma-Gamma (spend per order).

Fader, Hardie and Lee, "Counting your customers the easy way: an alternative to the Pareto/NBD
model" (Marketing Science, 2005) and "RFM and CLV: using iso-value curves for customer base
analysis" (JMR, 2005). BG/NBD itself lives in :mod:`winback.stats.bgnbd` (the rules time
reminders with it too); Gamma-Gamma, used by the report alone, here. Both are fitted per store by
maximum likelihood with SciPy (L-BFGS-B on log-parameters), on at most :data:`FIT_SAMPLE` customers drawn with a fixed seed (the likelihood
is a sum over customers: a large sample estimates the same four numbers, in bounded time).

Time is in weeks. Per customer: ``x`` repeat purchases (real orders after the first), ``t_x``
the time of the last one since the first, ``T`` the time from the first to the end of the data.
Validation: the models are fitted again on the history before a cutoff (the *calibration*
period) and their predicted purchases in the *holdout* period after it are compared with what
the customers actually bought.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import optimize, special

from winback.report.data import DAY, OrderHistory
from winback.report.metrics import month_index, month_label
from winback.stats.bgnbd import FIT_SAMPLE, expected_purchases, fit_bgnbd, fit_sample, p_alive, usable

__all__ = ["FIT_SAMPLE", "WEEK", "expected_purchases", "fit_bgnbd", "p_alive", "predict", "rfm", "validate"]

WEEK = 7 * DAY
MIN_CUSTOMERS = 100
MIN_REPEATERS = 30
ALIVE_THRESHOLD = 0.5
HORIZON_WEEKS = 52


def rfm(h: OrderHistory, end: float, start: float | None = None) -> dict[str, np.ndarray]:
    """Per buyer with a first order before ``end`` (and not before ``start`` when given):
    x, t_x, T (weeks), mean repeat order value, first order time."""
    mask = h.at < end
    buyer, at, value = h.buyer[mask], h.at[mask], h.value[mask]
    if not len(buyer):
        return {k: np.array([]) for k in ("x", "t_x", "T", "m", "first")}
    n = np.bincount(buyer, minlength=h.buyers)
    present = n > 0
    first = np.full(h.buyers, np.nan)
    last = np.full(h.buyers, np.nan)
    starts = np.flatnonzero(np.r_[True, buyer[1:] != buyer[:-1]])
    ends = np.r_[starts[1:] - 1, len(buyer) - 1]
    first[buyer[starts]] = at[starts]
    last[buyer[ends]] = at[ends]
    total = np.bincount(buyer, weights=value, minlength=h.buyers)
    first_value = np.zeros(h.buyers)
    first_value[buyer[starts]] = value[starts]
    x = (n - 1).astype(float)
    keep = present if start is None else present & (first >= start)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(x > 0, (total - first_value) / np.maximum(x, 1), 0.0)
    return {"x": x[keep], "t_x": ((last - first) / WEEK)[keep], "T": ((end - first) / WEEK)[keep],
            "m": m[keep], "first": first[keep]}


def _gg_ll(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> float:
    p, q, g = np.exp(params)
    ll = (special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q) + q * np.log(g)
          + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(g + m * x))
    return -float(np.sum(ll))


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray) -> dict[str, float] | None:
    keep = (x > 0) & (m > 0)
    if keep.sum() < MIN_REPEATERS:
        return None
    res = optimize.minimize(_gg_ll, np.array([0.0, 1.0, 1.0]), args=(x[keep], m[keep]), method="L-BFGS-B",
                            bounds=[(-6, 8)] * 3)
    if not np.isfinite(res.fun):
        return None
    p, q, g = np.exp(res.x)
    if q <= 1:
        return None
    return {"p": float(p), "q": float(q), "gamma": float(g), "log_likelihood": float(-res.fun)}


def expected_spend(gg: dict[str, float], x: np.ndarray, m: np.ndarray, fallback: float) -> np.ndarray:
    p, q, g = gg["p"], gg["q"], gg["gamma"]
    population = p * g / (q - 1)
    weight = p * x / (p * x + q - 1)
    return np.where(x > 0, (1 - weight) * population + weight * m, population if np.isfinite(population) else fallback)


def _too_thin(data: dict[str, np.ndarray]) -> str | None:
    if len(data["x"]) < MIN_CUSTOMERS:
        return f"too thin to fit: {len(data['x'])} customers (at least {MIN_CUSTOMERS} needed)"
    repeaters = int(np.sum(data["x"] > 0))
    if repeaters < MIN_REPEATERS:
        return f"too thin to fit: {repeaters} customers with a repeat order (at least {MIN_REPEATERS} needed)"
    return None


def predict(h: OrderHistory, end: float, *, holdout_weeks: int | None = None) -> dict[str, Any]:
    """Fit on all history before ``end``; predicted CLV per cohort, share likely lapsed, validation."""
    data = rfm(h, end)
    thin = _too_thin(data)
    if thin:
        return {"fitted": False, "why": thin}
    idx = fit_sample(len(data["x"]))
    bg = fit_bgnbd(data["x"][idx], data["t_x"][idx], data["T"][idx])
    if bg is None or not usable(bg):
        return {"fitted": False, "why": "the BG/NBD fit did not converge to usable values"}
    gg = fit_gamma_gamma(data["x"][idx], data["m"][idx])
    alive = p_alive(bg, data["x"], data["t_x"], data["T"])
    purchases = expected_purchases(bg, HORIZON_WEEKS, data["x"], data["t_x"], data["T"])
    mean_value = float(np.mean(h.value[h.at < end])) if len(h.value) else 0.0
    spend = expected_spend(gg, data["x"], data["m"], mean_value) if gg else np.full(len(data["x"]), mean_value)
    clv = purchases * spend
    months = month_index(data["first"])
    cohorts = []
    for month in np.unique(months)[-12:]:
        sel = months == month
        cohorts.append({"cohort": month_label(int(month)), "customers": int(sel.sum()),
                        "predicted_purchases_next_year": float(purchases[sel].mean()),
                        "predicted_clv_next_year": float(clv[sel].mean()),
                        "p_alive_mean": float(alive[sel].mean())})
    return {
        "fitted": True,
        "bgnbd": bg,
        "gamma_gamma": gg,
        "gamma_gamma_note": None if gg else "too few repeat buyers with a positive spend: spend per order is the "
                                             "store's average order value",
        "customers": int(len(data["x"])),
        "fit_sample": int(len(idx)),
        "horizon_weeks": HORIZON_WEEKS,
        "alive_threshold": ALIVE_THRESHOLD,
        "share_likely_lapsed": float(np.mean(alive < ALIVE_THRESHOLD)),
        "predicted_purchases_next_year": float(purchases.sum()),
        "predicted_clv_next_year_mean": float(clv.mean()),
        "cohorts": cohorts,
        "validation": validate(h, end, holdout_weeks),
    }


def validate(h: OrderHistory, end: float, holdout_weeks: int | None = None) -> dict[str, Any]:
    """Fit on history before a cutoff, compare predicted with actual purchases after it."""
    if not len(h.at):
        return {"done": False, "why": "no orders"}
    span = (end - float(h.at.min())) / WEEK
    weeks = holdout_weeks or int(min(52, max(8, span / 4)))
    cutoff = end - weeks * WEEK
    cal = rfm(h, cutoff)
    thin = _too_thin(cal)
    if thin:
        return {"done": False, "why": f"calibration period {thin}"}
    idx = fit_sample(len(cal["x"]))
    bg = fit_bgnbd(cal["x"][idx], cal["t_x"][idx], cal["T"][idx])
    if bg is None or not usable(bg):
        return {"done": False, "why": "the calibration fit did not converge to usable values"}
    predicted = expected_purchases(bg, weeks, cal["x"], cal["t_x"], cal["T"])
    # actual purchases after the cutoff of the customers known at the cutoff
    after = (h.at >= cutoff) & (h.at < end)
    counts = np.bincount(h.buyer[after], minlength=h.buyers)
    first_by_buyer = np.full(h.buyers, np.nan)
    starts = np.flatnonzero(np.r_[True, h.buyer[1:] != h.buyer[:-1]])
    first_by_buyer[h.buyer[starts]] = h.at[starts]
    actual = counts[first_by_buyer < cutoff].astype(float)
    groups = []
    xs = np.minimum(cal["x"], 6).astype(int)
    for k in range(7):
        sel = xs == k
        if sel.any():
            groups.append({"calibration_repeat_orders": f"{k}+" if k == 6 else str(k), "customers": int(sel.sum()),
                           "predicted": float(predicted[sel].mean()), "actual": float(actual[sel].mean())})
    return {
        "done": True,
        "cutoff_weeks_before_end": weeks,
        "customers": int(len(actual)),
        "predicted_total": float(predicted.sum()),
        "actual_total": float(actual.sum()),
        "mean_absolute_error": float(np.mean(np.abs(predicted - actual))),
        "by_calibration_frequency": groups,
    }
