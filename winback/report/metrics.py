"""Store health for a period, from :class:`~winback.report.data.OrderHistory`.

Definitions (stated in every report, see :data:`DEFINITIONS`):

* the period is ``[start, end)``;
* a *customer* is a buyer with at least one real order; a customer is *active* on a date when
  their latest real order before it is at most :data:`ACTIVE_DAYS` old;
* CRR = ((E − N) / S) × 100 with S the customers active at the start, E those active at the end
  and N the new customers (first real order ever) during the period. Undefined when S = 0;
* repeat purchase rate = buyers in the period with 2+ real orders in it / buyers with 1+;
* purchase frequency = real orders in the period / buyers in it (and per year);
* AOV = revenue / real orders in the period; revenue is net of refunds;
* CLV = AOV × yearly purchase frequency × lifespan (years), the lifespan estimated as
  1 / (1 − CRR) over a one-year window, bounded to [0.5, 5] years, else 2 years.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from winback.report.data import DAY, OrderHistory

ACTIVE_DAYS = 365
DEFAULT_LIFESPAN_YEARS = 2.0
LIFESPAN_BOUNDS = (0.5, 5.0)

DEFINITIONS = {
    "period": "From the start date (included) to the end date (excluded), UTC.",
    "real order": "An order that is not cancelled, not a test order and not refunded in full; its value is "
                  "net of partial refunds.",
    "customer": "A buyer (by email address, else by the platform's customer id) with at least one real order.",
    "active customer": f"A customer whose latest real order is at most {ACTIVE_DAYS} days old on that date.",
    "CRR": "Customer retention rate = ((E − N) / S) × 100: S customers active at the start of the period, "
           "E active at its end, N new during it (first real order ever). Undefined with no customers at the start.",
    "repeat purchase rate": "Customers with 2 or more real orders in the period / customers with 1 or more.",
    "purchase frequency": "Real orders in the period / customers who ordered in it.",
    "AOV": "Average order value = revenue / real orders in the period.",
    "CLV": "Customer lifetime value = AOV × purchases per year × lifespan in years.",
    "lifespan": "1 / (1 − CRR), CRR measured over the year before the period's end, kept within 0.5–5 years; "
                "2 years (middle of e-commerce's usual 1–3) when CRR cannot be measured.",
    "cohort": "Customers grouped by the month of their first real order.",
    "reorder interval": "Days between a customer's consecutive real orders (all history).",
}


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime

    @property
    def start_s(self) -> float:
        return self.start.timestamp()

    @property
    def end_s(self) -> float:
        return self.end.timestamp()

    @property
    def days(self) -> float:
        return (self.end_s - self.start_s) / DAY


def _last_before(h: OrderHistory, moment: float) -> np.ndarray:
    """Per buyer, the time of their latest order before ``moment`` (NaN if none)."""
    last = np.full(h.buyers, np.nan)
    mask = h.at < moment
    # orders are sorted by (buyer, time): the last write per buyer wins
    last[h.buyer[mask]] = h.at[mask]
    return last


def _first(h: OrderHistory) -> np.ndarray:
    first = np.full(h.buyers, np.nan)
    idx = h.first_index()
    first[h.buyer[idx]] = h.at[idx]
    return first


def crr(h: OrderHistory, start: float, end: float) -> dict[str, Any]:
    """S, E, N and CRR (``None`` when S = 0) for ``[start, end)``."""
    window = ACTIVE_DAYS * DAY
    first = _first(h)
    at_start = _last_before(h, start)
    at_end = _last_before(h, end)
    s = int(np.sum(at_start >= start - window))
    e = int(np.sum(at_end >= end - window))
    n = int(np.sum((first >= start) & (first < end)))
    result: dict[str, Any] = {"S": s, "E": e, "N": n, "crr": None if s == 0 else (e - n) / s * 100}
    if s == 0:
        result["note"] = "no customers at the start of the period: CRR is undefined"
    return result


def lifespan(h: OrderHistory, end: float) -> dict[str, Any]:
    year = crr(h, end - 365 * DAY, end)
    rate = year["crr"]
    if rate is None or rate >= 100:
        return {"years": DEFAULT_LIFESPAN_YEARS, "how": "default: CRR over the last year cannot be measured"
                if rate is None else "default: no customer lost over the last year", "crr_last_year": rate}
    years = 1 / (1 - rate / 100)
    bounded = min(max(years, LIFESPAN_BOUNDS[0]), LIFESPAN_BOUNDS[1])
    how = f"1 / (1 − CRR) with CRR {rate:.1f} % over the year before the period's end"
    if bounded != years:
        how += f" = {years:.2f}, kept within {LIFESPAN_BOUNDS[0]}–{LIFESPAN_BOUNDS[1]} years"
    return {"years": bounded, "how": how, "crr_last_year": rate}


def health(h: OrderHistory, period: Period) -> dict[str, Any]:
    """The period's store-health figures (see the module docstring)."""
    start, end = period.start_s, period.end_s
    inside = (h.at >= start) & (h.at < end)
    orders = int(inside.sum())
    revenue = float(h.value[inside].sum())
    per_buyer = np.bincount(h.buyer[inside], minlength=h.buyers) if h.buyers else np.array([], int)
    buyers = int(np.sum(per_buyer >= 1))
    repeaters = int(np.sum(per_buyer >= 2))
    customers = int(np.sum(_first(h) < end)) if h.buyers else 0
    aov = revenue / orders if orders else None
    frequency = orders / buyers if buyers else None
    yearly = None if frequency is None else frequency * 365 / max(period.days, 1)
    life = lifespan(h, end)
    clv = None if aov is None or yearly is None else aov * yearly * life["years"]
    return {
        "customers": customers,
        "buyers": buyers,
        "orders": orders,
        "revenue": revenue,
        "retention": crr(h, start, end),
        "repeat_purchase_rate": None if not buyers else repeaters / buyers,
        "purchase_frequency": frequency,
        "purchase_frequency_per_year": yearly,
        "aov": aov,
        "lifespan": life,
        "clv": clv,
    }


def month_index(seconds: np.ndarray) -> np.ndarray:
    """Months since January 1970 of UNIX times."""
    dates = seconds.astype("datetime64[s]").astype("datetime64[M]")
    return dates.astype(np.int64)


def month_label(index: int) -> str:
    return str(np.datetime64(int(index), "M"))


def cohorts(h: OrderHistory, end: float, *, last: int = 12, months: int = 12) -> dict[str, Any]:
    """Retention matrix (share of a first-order-month cohort ordering again k months later) and
    historical value per customer of each cohort, for the ``last`` cohorts before ``end``."""
    if not h.buyers:
        return {"cohorts": [], "months": months}
    mask = h.at < end
    first_month = np.full(h.buyers, -1, dtype=np.int64)
    idx = h.first_index()
    first_month[h.buyer[idx]] = month_index(h.at[idx])
    order_month = month_index(h.at[mask])
    buyer = h.buyer[mask]
    offset = order_month - first_month[buyer]
    end_month = int(month_index(np.array([end - 1]))[0])
    lo = end_month - last + 1
    cohort_of = first_month[buyer]
    keep = (cohort_of >= lo) & (offset < months)
    # one count per (buyer, months since first order), then per (cohort, months since)
    pairs = np.unique(buyer[keep] * months + offset[keep])
    pair_cohort = first_month[pairs // months] - lo
    active = np.bincount(pair_cohort * months + pairs % months, minlength=last * months).reshape(last, months)
    members = np.bincount(first_month[(first_month >= lo) & (first_month <= end_month)] - lo, minlength=last)
    value = np.bincount(cohort_of[cohort_of >= lo] - lo, weights=h.value[mask][cohort_of >= lo], minlength=last)
    rows = []
    for i in range(last):
        if members[i] == 0:
            continue
        seen = min(months, end_month - (lo + i) + 1)
        rows.append({"cohort": month_label(lo + i), "customers": int(members[i]),
                     "retention": [float(active[i, k] / members[i]) for k in range(seen)],
                     "revenue": float(value[i]), "value_per_customer": float(value[i] / members[i])})
    return {"cohorts": rows, "months": months}


def reorder_intervals(h: OrderHistory, end: float, rules_after_days: dict[str, int] | None = None) -> dict[str, Any]:
    """Histogram of days between consecutive real orders, the median, and hints for rules whose
    ``after_days`` is far from it (less than half or more than twice the median)."""
    mask = h.at < end
    buyer, at = h.buyer[mask], h.at[mask]
    same = buyer[1:] == buyer[:-1]
    gaps = (at[1:] - at[:-1])[same] / DAY
    if not len(gaps):
        return {"count": 0, "median_days": None, "histogram": [], "hints": []}
    median = float(np.median(gaps))
    edges = [0, 7, 14, 30, 60, 90, 120, 180, 270, 365, 540, 730]
    counts, _ = np.histogram(np.minimum(gaps, edges[-1] + 1), bins=[*edges, np.inf])
    histogram = [{"from": lo, "to": hi if hi != np.inf else None, "count": int(c)}
                 for lo, hi, c in zip(edges, [*edges[1:], np.inf], counts, strict=True)]
    hints = []
    for rule, days in sorted((rules_after_days or {}).items()):
        if days < median / 2 or days > median * 2:
            hints.append(f"{rule}: after_days = {days}, but half of this store's repeat orders come within "
                         f"{median:.0f} days; consider after_days near {round(median * 1.5)} "
                         "(a little past the usual reorder time)")
    return {"count": int(len(gaps)), "median_days": median,
            "p25_days": float(np.percentile(gaps, 25)), "p75_days": float(np.percentile(gaps, 75)),
            "histogram": histogram, "hints": hints}


def revenue_by_month(h: OrderHistory, start: float, end: float) -> list[dict[str, Any]]:
    inside = (h.at >= start) & (h.at < end)
    if not inside.any():
        return []
    months = month_index(h.at[inside])
    lo = int(months.min())
    sums = np.bincount(months - lo, weights=h.value[inside])
    counts = np.bincount(months - lo)
    return [{"month": month_label(lo + i), "revenue": float(s), "orders": int(c)}
            for i, (s, c) in enumerate(zip(sums, counts, strict=True))]
