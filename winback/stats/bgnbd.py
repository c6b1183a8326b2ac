"""BG/NBD: how many purchases a customer will make, and the probability they are still active.

Fader, Hardie and Lee, "Counting your customers the easy way: an alternative to the Pareto/NBD
model" (Marketing Science, 2005). Fitted per store by maximum likelihood with SciPy (L-BFGS-B on
log-parameters), on at most :data:`FIT_SAMPLE` customers drawn with a fixed seed (the likelihood
is a sum over customers: a large sample estimates the same four numbers, in bounded time).

Time is in weeks. Per customer: ``x`` repeat purchases (real orders after the first), ``t_x``
the time of the last one since the first, ``T`` the time from the first to "now".
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from scipy import optimize, special

FIT_SAMPLE = 50_000


class BgNbd(TypedDict):
    """Fitted parameters (and the log-likelihood of the fit)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float


def _bgnbd_ll(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> float:
    r, alpha, a, b = np.exp(params)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x), -np.inf)
    return -float(np.sum(a1 + a2 + np.logaddexp(a3, a4)))


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> BgNbd | None:
    """Maximum-likelihood parameters, or ``None`` when no start converges to a finite value."""
    best = None
    for guess in ([0.0, 1.0, 0.0, 0.0], [-0.5, 2.0, -0.5, 1.0]):
        res = optimize.minimize(_bgnbd_ll, np.array(guess), args=(x, t_x, T), method="L-BFGS-B",
                                bounds=[(-8, 6)] * 4)
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
    if best is None:
        return None
    r, alpha, a, b = np.exp(best.x)
    return {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b), "log_likelihood": float(-best.fun)}


def p_alive(p: BgNbd | dict[str, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(still active | x, t_x, T); 1 for a customer without a repeat purchase (the model's own
    assumption: nobody drops out before their first repeat)."""
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = a / np.maximum(b + x - 1, 1e-12) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    return np.where(x > 0, 1 / (1 + ratio), 1.0)


def expected_purchases(
    p: BgNbd | dict[str, float], t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T] (Fader, Hardie and Lee 2005, eq. 10)."""
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    head = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tail = 1 + np.where(x > 0, a / np.maximum(b + x - 1, 1e-12) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    return head / tail


def usable(params: BgNbd | dict[str, float]) -> bool:
    """Finite parameters away from a = 1, where the expectation's closed form divides by zero."""
    return all(np.isfinite(v) for v in params.values()) and abs(params["a"] - 1) > 1e-6


def fit_sample(n: int) -> np.ndarray:
    """Indices of the customers a fit uses: all up to :data:`FIT_SAMPLE`, else a fixed-seed draw
    (the same customers on every run, so the same store gives the same parameters)."""
    if n <= FIT_SAMPLE:
        return np.arange(n)
    return np.sort(np.random.default_rng(12).choice(n, FIT_SAMPLE, replace=False))


def weeks_to_alive_below(p: BgNbd | dict[str, float], x: int, threshold: float) -> float:
    """``c(x) - 1`` such that P(alive) falls below ``threshold`` once the weeks since the last
    purchase exceed ``(c(x) - 1) * (alpha + t_x)``; negative when it is below at once.

    From P(alive) = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)): the
    ratio grows with T, so the moment it passes ``1 / threshold - 1`` is closed-form. Only for
    ``x >= 1`` (P(alive) is 1 without a repeat purchase).
    """
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    k = 1 / threshold - 1
    return float((k * (b + x - 1) / a) ** (1 / (r + x)) - 1)
