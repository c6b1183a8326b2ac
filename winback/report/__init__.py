"""``winback report``: what came back — store health, cohorts, predicted value, and each rule's
effect measured against its held-out control group.

:func:`build_report` returns one JSON-ready dict per store (the same numbers ``--json`` prints and
the HTML shows); :func:`winback.report.render.render_html` turns reports into one self-contained
page. Modules: ``data`` (order history as arrays), ``metrics`` (store health, cohorts, reorder
intervals), ``attribution`` (per rule, lift), ``stats`` (intervals), ``models`` (BG/NBD and
Gamma-Gamma).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from winback.report import attribution, metrics, models
from winback.report.data import load_history
from winback.report.metrics import DEFINITIONS, Period
from winback.sync import LocalStore, feedback

__all__ = ["Period", "build_report", "default_period"]


def default_period(newest: datetime | None, start: datetime | None, end: datetime | None) -> Period:
    """``end`` defaults to just after the newest order (so a report on a copy of the database reads
    the same any day), ``start`` to a year before ``end``."""
    if end is None:
        end = (newest + timedelta(seconds=1)) if newest is not None else datetime.now(UTC)
    if start is None:
        start = end - timedelta(days=365)
    return Period(start, end)


def build_report(
    store: LocalStore,
    store_key: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    window_days: int = attribution.DEFAULT_WINDOW_DAYS,
    rules_after_days: dict[str, int] | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """All of one store's report figures for the period (see :data:`DEFINITIONS`)."""
    info = store.get_store(store_key) or {}
    history = load_history(store, store_key)
    period = default_period(history.newest(), start, end)
    end_s = period.end_s
    return {
        "store": {"key": store_key, "name": info.get("name") or label or store_key,
                  "currency": info.get("currency"), "platform": info.get("platform")},
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat(), "days": round(period.days, 2)},
        "definitions": {**DEFINITIONS, "return": f"A real order within {window_days} days after the message "
                        "(for a held-out customer: after the moment they would have been sent it)."},
        "orders_excluded": history.excluded,
        "health": metrics.health(history, period),
        "cohorts": metrics.cohorts(history, end_s),
        "reorder_intervals": metrics.reorder_intervals(history, end_s, rules_after_days),
        "revenue_by_month": metrics.revenue_by_month(history, period.start_s, end_s),
        "predicted": models.predict(history, end_s),
        "rules": attribution.rule_report(store, store_key, period, window_days=window_days),
        "feedback": feedback_report(store, store_key, period.start, end),
    }


def feedback_report(store: LocalStore, store_key: str, start: datetime, end: datetime | None) -> dict[str, Any] | None:
    """Answers to feedback requests given from ``start`` (to ``end`` when the report was asked for
    one: the default end follows the newest order, and answers come days after it), or ``None``."""
    found = feedback.summary(store, store_key, since=start, until=end)
    if not found.answers:
        return None
    return {"answers": found.answers, "average": found.average, "nps": found.nps, "promoters": found.promoters,
            "passives": found.passives, "detractors": found.detractors}
