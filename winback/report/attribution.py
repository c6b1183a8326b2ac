"""What each rule's messages were followed by, and the lift over its held-out control group.

An action's *moment* is when its email was handed to the sender (``email_started_at``), or, for
a held-out customer, when the ledger recorded them (the moment they would have been sent). A
customer *returned* when they placed a real order within ``window_days`` after that moment;
their revenue is the net value of those orders. Only actions whose whole window has passed
before the period's end are compared (a fresh send cannot have returned yet). A discount code is
*redeemed* when a real order of its recipient carries it, at any time after the message.

A rule with steps (:mod:`winback.rules.sequences`) is compared at its entry: the lift counts each
lapse once, by its first step (held out there, the customer got no step at all), so the window
should cover the sequence. Follow-ups are counted per step (``by_step``). Actions carry the
timing their rule used (the ledger's ``variant``); with more than one, or any, recorded, the rule
also gets the same comparison per timing (``by_timing``), so timings can be judged against their
own holdouts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from winback.report.metrics import Period
from winback.report.stats import newcombe_difference, welch_difference, wilson
from winback.sync import LocalStore, tables

DEFAULT_WINDOW_DAYS = 30
MIN_GROUP = 20
"""Below this many customers in either group the comparison says "not enough data yet"."""


@dataclass(slots=True)
class _Action:
    id: int
    rule: str
    holdout: bool
    sent: bool
    status: str
    moment: datetime
    code: str | None
    variant: str | None = None
    step: int = 0
    orders: list[tuple[datetime, float, tuple[str, ...]]] = field(default_factory=list)


def _load(store: LocalStore, store_key: str, period: Period) -> list[_Action]:
    ledger, orders = tables.action_ledger, tables.orders
    moment = ledger.c.email_started_at
    query = select(
        ledger.c.id, ledger.c.rule, ledger.c.holdout, ledger.c.status, ledger.c.email_started_at,
        ledger.c.created_at, ledger.c.created_ref, ledger.c.kind, ledger.c.variant, ledger.c.sequence_step,
    ).where(ledger.c.store_key == store_key, ledger.c.created_at >= period.start, ledger.c.created_at < period.end)
    actions: dict[int, _Action] = {}
    with store.reading() as conn:
        for row in conn.execute(query).mappings():
            ref = row["created_ref"] or {}
            code = ref.get("discount_code") if isinstance(ref, dict) else None
            sent = row["email_started_at"] is not None and row["status"] == "done"
            actions[row["id"]] = _Action(row["id"], row["rule"], bool(row["holdout"]), sent, row["status"],
                                         row["email_started_at"] or row["created_at"], code, row["variant"],
                                         int(row["sequence_step"] or 0))
        joined = (
            select(ledger.c.id, orders.c.ordered_at, orders.c.net_total, orders.c.discount_codes)
            .select_from(ledger.join(orders, and_(orders.c.store_key == ledger.c.store_key,
                                                  orders.c.lower_email == ledger.c.lower_email)))
            .where(ledger.c.store_key == store_key, ledger.c.created_at >= period.start,
                   ledger.c.created_at < period.end, orders.c.counts_as_purchase.is_(True),
                   orders.c.ordered_at > func.coalesce(moment, ledger.c.created_at))
        )
        for row in conn.execute(joined):
            action = actions.get(row.id)
            if action is not None:
                action.orders.append((row.ordered_at, float(row.net_total), tuple(row.discount_codes or ())))
    return list(actions.values())


def _outcomes(group: list[_Action], window: timedelta) -> tuple[int, list[float], int]:
    returned = 0
    revenue: list[float] = []
    orders = 0
    for action in group:
        inside = [o for o in action.orders if o[0] <= action.moment + window]
        returned += bool(inside)
        orders += len(inside)
        revenue.append(sum(o[1] for o in inside))
    return returned, revenue, orders


def _mean_var(values: list[float]) -> tuple[float, float]:
    n = len(values)
    if not n:
        return 0.0, 0.0
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, var


def rule_report(store: LocalStore, store_key: str, period: Period, *, window_days: int = DEFAULT_WINDOW_DAYS
                ) -> list[dict[str, Any]]:
    """Per rule: counts, what followed the messages, and sent-versus-held-out lift."""
    window = timedelta(days=window_days)
    by_rule: dict[str, list[_Action]] = defaultdict(list)
    for action in _load(store, store_key, period):
        by_rule[action.rule].append(action)
    results = []
    for rule, actions in sorted(by_rule.items()):
        sent = [a for a in actions if a.sent]
        held = [a for a in actions if a.holdout]
        codes = [a for a in actions if a.code]
        redeemed = sum(1 for a in codes if any(a.code in o[2] for o in a.orders))
        returned, revenue, orders = _outcomes(sent, window)
        entries = [a for a in actions if a.step == 0]
        results.append({
            "rule": rule,
            "planned": sum(1 for a in actions if not a.holdout),
            "sent": len(sent),
            "held_out": len(held),
            "codes_created": len(codes),
            "codes_redeemed": redeemed,
            "customers_ordering_within_window": returned,
            "orders_within_window": orders,
            "revenue_within_window": sum(revenue),
            "revenue_per_recipient": sum(revenue) / len(sent) if sent else None,
            "window_days": window_days,
            "lift": lift([a for a in entries if a.sent], [a for a in entries if a.holdout], window, period.end),
            **_breakdowns(actions, entries, window, period.end),
        })
    return results


def _breakdowns(actions: list[_Action], entries: list[_Action], window: timedelta, end: datetime) -> dict[str, Any]:
    """``by_step`` for rules with follow-ups, ``by_timing`` for rules that record their timing."""
    out: dict[str, Any] = {}
    if any(a.step for a in actions):
        steps = []
        for step in sorted({a.step for a in actions}):
            sent = [a for a in actions if a.step == step and a.sent]
            returned, revenue, _ = _outcomes(sent, window)
            steps.append({"step": step + 1, "sent": len(sent), "customers_ordering_within_window": returned,
                          "revenue_within_window": sum(revenue)})
        out["by_step"] = steps
    variants = sorted({a.variant for a in entries if a.variant is not None})
    if variants:
        out["by_timing"] = [
            {"timing": variant,
             "sent": sum(1 for a in entries if a.variant == variant and a.sent),
             "held_out": sum(1 for a in entries if a.variant == variant and a.holdout),
             "lift": lift([a for a in entries if a.variant == variant and a.sent],
                          [a for a in entries if a.variant == variant and a.holdout], window, end)}
            for variant in variants
        ]
    return out


def lift(sent: list[_Action], held: list[_Action], window: timedelta, end: datetime) -> dict[str, Any]:
    """Return rate and revenue per customer, sent versus held out, with 95 % intervals."""
    sent = [a for a in sent if a.moment + window <= end]
    held = [a for a in held if a.moment + window <= end]
    out: dict[str, Any] = {"sent_n": len(sent), "held_out_n": len(held), "compared": "actions whose window ended"}
    if not held:
        out["verdict"] = "no held-out customers: set holdout on the rule to measure lift"
        return out
    if not sent:
        out["verdict"] = "not enough data yet: no sent customer's window has ended"
        return out
    xs, rev_s, _ = _outcomes(sent, window)
    xh, rev_h, _ = _outcomes(held, window)
    ms, vs = _mean_var(rev_s)
    mh, vh = _mean_var(rev_h)
    rate = newcombe_difference(xs, len(sent), xh, len(held))
    revenue = welch_difference(ms, vs, len(sent), mh, vh, len(held))
    out.update({
        "sent_returned": xs, "held_out_returned": xh,
        "sent_return_rate": wilson(xs, len(sent)).as_dict(),
        "held_out_return_rate": wilson(xh, len(held)).as_dict(),
        "return_rate_lift": rate.as_dict(),
        "sent_revenue_per_customer": ms, "held_out_revenue_per_customer": mh,
        "revenue_per_customer_lift": None if revenue is None else revenue.as_dict(),
        "incremental_revenue": (ms - mh) * len(sent),
        "incremental_revenue_interval": None if revenue is None else
        [revenue.low * len(sent), revenue.high * len(sent)],
    })
    if len(sent) < MIN_GROUP or len(held) < MIN_GROUP:
        out["verdict"] = f"not enough data yet: fewer than {MIN_GROUP} customers in a group"
    elif not rate.excludes_zero():
        out["verdict"] = "not enough data yet: the interval for the lift includes zero"
    elif rate.low > 0:
        out["verdict"] = "the messages brought customers back who would not have come otherwise"
    else:
        out["verdict"] = "held-out customers came back more often than those sent the message"
    out["conclusive"] = len(sent) >= MIN_GROUP and len(held) >= MIN_GROUP and rate.excludes_zero()
    return out
