"""Interval maths for sent-versus-held-out comparisons.

* A proportion: Wilson's score interval (Wilson 1927), good at small counts and near 0 or 1.
* A difference of two independent proportions: Newcombe's hybrid score interval (Newcombe 1998,
  *Statistics in Medicine* 17:873-890, method 10), built from the two Wilson intervals; unlike the
  Wald interval it stays inside [-1, 1] and keeps its coverage with few events.
* A difference of two means (revenue per customer): Welch's t interval, which does not assume
  equal variances (revenue per customer is skewed and the groups differ in size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as _stats

Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def as_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


def wilson(successes: int, n: int, z: float = Z95) -> Interval:
    """Wilson score interval for ``successes`` out of ``n`` (n > 0)."""
    if n <= 0:
        raise ValueError("wilson needs n > 0")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> Interval:
    """Newcombe's hybrid score interval for p1 - p2 (his method 10)."""
    a, b = wilson(x1, n1, z), wilson(x2, n2, z)
    p1, p2 = a.estimate, b.estimate
    d = p1 - p2
    low = d - math.sqrt((p1 - a.low) ** 2 + (b.high - p2) ** 2)
    high = d + math.sqrt((a.high - p1) ** 2 + (p2 - b.low) ** 2)
    return Interval(d, low, high)


def welch_difference(mean1: float, var1: float, n1: int, mean2: float, var2: float, n2: int,
                     level: float = 0.95) -> Interval | None:
    """Welch's t interval for mean1 - mean2 from sample means and (n-1) variances; ``None`` when
    a group has fewer than two members or both variances are zero."""
    if n1 < 2 or n2 < 2:
        return None
    s1, s2 = var1 / n1, var2 / n2
    se = math.sqrt(s1 + s2)
    d = mean1 - mean2
    if se == 0:
        return None
    df = (s1 + s2) ** 2 / (s1 * s1 / (n1 - 1) + s2 * s2 / (n2 - 1))
    t = float(_stats.t.ppf(0.5 + level / 2, df))
    return Interval(d, d - t * se, d + t * se)
