"""One self-contained HTML page for one or more stores' reports: inline CSS and SVG, no script,
no external request, readable on a phone (the charts scale to the screen's width)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from winback.report import svg

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2937;background:#f9fafb}
main{max-width:760px;margin:auto;padding:12px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px;margin:12px 0}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:0}h3{font-size:1em}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px}
.kpi{background:#f3f4f6;border-radius:6px;padding:8px}.kpi b{display:block;font-size:1.2em}
.chart{width:100%;height:auto;display:block}
table{border-collapse:collapse;width:100%;font-size:.9em}td,th{border-bottom:1px solid #e5e7eb;padding:4px;text-align:right}
td:first-child,th:first-child{text-align:left}.wrap{overflow-x:auto}
.note{color:#6b7280;font-size:.9em}.verdict{font-weight:600}
dl{font-size:.9em}dt{font-weight:600}dd{margin:0 0 6px 0;color:#374151}
"""


def _money(value: float | None, currency: str | None) -> str:
    return "—" if value is None else f"{value:,.2f} {currency or ''}".strip()


def _num(value: float | None, fmt: str = "{:,.2f}") -> str:
    return "—" if value is None else fmt.format(value)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _kpi(label: str, value: str) -> str:
    return f'<div class="kpi">{escape(label)}<b>{escape(value)}</b></div>'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="wrap"><table><tr>{th}</tr>{body}</table></div>'


def _health(r: dict[str, Any]) -> str:
    h, cur = r["health"], r["store"]["currency"]
    ret = h["retention"]
    crr = "undefined" if ret["crr"] is None else f"{ret['crr']:.1f} %"
    kpis = "".join([
        _kpi("Customers", f"{h['customers']:,}"), _kpi("Buyers in period", f"{h['buyers']:,}"),
        _kpi("Orders", f"{h['orders']:,}"), _kpi("Revenue", _money(h["revenue"], cur)),
        _kpi("CRR", crr), _kpi("Repeat purchase rate", _pct(h["repeat_purchase_rate"])),
        _kpi("Purchase frequency", _num(h["purchase_frequency"])), _kpi("AOV", _money(h["aov"], cur)),
        _kpi("CLV", _money(h["clv"], cur)), _kpi("Lifespan used", f"{h['lifespan']['years']:.2f} years"),
    ])
    note = f"S = {ret['S']:,}, E = {ret['E']:,}, N = {ret['N']:,}." + (f" {ret['note']}." if ret.get("note") else "")
    return (f'<section id="health"><h2>Store health</h2><div class="kpis">{kpis}</div>'
            f'<p class="note">CRR: {escape(note)} Lifespan: {escape(h["lifespan"]["how"])}.</p></section>')


def _cohorts(r: dict[str, Any]) -> str:
    rows = r["cohorts"]["cohorts"]
    if not rows:
        return '<section id="cohorts"><h2>Cohorts</h2><p>No orders yet.</p></section>'
    chart = svg.cohort_heatmap(rows, r["cohorts"]["months"])
    table = _table(["First-order month", "Customers", "Revenue to date", "Value per customer"],
                   [[c["cohort"], f"{c['customers']:,}", _money(c["revenue"], r["store"]["currency"]),
                     _money(c["value_per_customer"], r["store"]["currency"])] for c in rows])
    return (f'<section id="cohorts"><h2>Cohort retention</h2><p class="note">Share of each first-order month\'s '
            f"customers who ordered again k months later (percent).</p>{chart}<h3>Historical value per cohort</h3>"
            f"{table}</section>")


def _intervals(r: dict[str, Any]) -> str:
    ri = r["reorder_intervals"]
    if not ri["count"]:
        return '<section id="reorder"><h2>Time between orders</h2><p>No repeat orders yet.</p></section>'
    labels = [f"{b['from']}–{b['to']}" if b["to"] is not None else f"{b['from']}+" for b in ri["histogram"]]
    chart = svg.bars("reorder-histogram", "Days between consecutive orders", labels,
                     [b["count"] for b in ri["histogram"]])
    hints = "".join(f"<li>{escape(h)}</li>" for h in ri["hints"])
    return (f'<section id="reorder"><h2>Time between orders</h2><p>Median reorder interval: '
            f"<b>{ri['median_days']:.0f} days</b> (half of repeat orders within {ri['p25_days']:.0f}–"
            f"{ri['p75_days']:.0f} days) over {ri['count']:,} repeat orders.</p>{chart}"
            + (f"<ul>{hints}</ul>" if hints else "") + "</section>")


def _revenue(r: dict[str, Any]) -> str:
    months = r["revenue_by_month"]
    if not months:
        return ""
    chart = svg.bars("revenue-over-time", "Revenue per month", [m["month"] for m in months],
                     [m["revenue"] for m in months], fmt="{:,.0f}", colour="#059669")
    return f'<section id="revenue"><h2>Revenue over time</h2>{chart}</section>'


def _predicted(r: dict[str, Any]) -> str:
    p, cur = r["predicted"], r["store"]["currency"]
    if not p.get("fitted"):
        return f'<section id="predicted"><h2>Predicted value</h2><p>{escape(p["why"])}.</p></section>'
    bg = p["bgnbd"]
    rows = [[c["cohort"], f"{c['customers']:,}", _num(c["predicted_purchases_next_year"]),
             _money(c["predicted_clv_next_year"], cur), _pct(c["p_alive_mean"])] for c in p["cohorts"]]
    v = p["validation"]
    if v.get("done"):
        vrows = [[g["calibration_repeat_orders"], f"{g['customers']:,}", _num(g["predicted"]), _num(g["actual"])]
                 for g in v["by_calibration_frequency"]]
        valid = (f"<h3>Validation</h3><p>Fitted on the history up to {v['cutoff_weeks_before_end']} weeks before the "
                 f"end, the model predicted <b>{v['predicted_total']:,.0f}</b> purchases by {v['customers']:,} "
                 f"customers in those weeks; they made <b>{v['actual_total']:,.0f}</b> (mean absolute error "
                 f"{v['mean_absolute_error']:.2f} per customer).</p>"
                 + _table(["Repeat orders before cutoff", "Customers", "Predicted per customer",
                           "Actual per customer"], vrows))
    else:
        valid = f"<h3>Validation</h3><p>{escape(v['why'])}.</p>"
    gg = "" if p["gamma_gamma"] else f"<p class=\"note\">{escape(p['gamma_gamma_note'])}.</p>"
    return (f'<section id="predicted"><h2>Predicted value (BG/NBD and Gamma-Gamma)</h2>'
            f"<p><b>{p['share_likely_lapsed']:.1%}</b> of {p['customers']:,} customers are likely lapsed "
            f"(probability still active below {p['alive_threshold']:.0%}). Expected value over the next "
            f"{p['horizon_weeks']} weeks: <b>{_money(p['predicted_clv_next_year_mean'], cur)}</b> per customer.</p>"
            + _table(["Cohort", "Customers", "Purchases next year", "Predicted CLV next year", "P(alive)"], rows)
            + gg + valid
            + f'<p class="note">BG/NBD r={bg["r"]:.3g}, α={bg["alpha"]:.3g}, a={bg["a"]:.3g}, b={bg["b"]:.3g}; '
            f"fitted on {p['fit_sample']:,} customers.</p></section>")


def _rules(r: dict[str, Any]) -> str:
    cur = r["store"]["currency"]
    if not r["rules"]:
        return '<section id="rules"><h2>Rules</h2><p>No rule has acted in this period.</p></section>'
    rows = [[x["rule"], str(x["planned"]), str(x["sent"]), str(x["held_out"]), str(x["codes_created"]),
             str(x["codes_redeemed"]), str(x["customers_ordering_within_window"]), str(x["orders_within_window"]),
             _money(x["revenue_within_window"], cur), _money(x["revenue_per_recipient"], cur)] for x in r["rules"]]
    window = r["rules"][0]["window_days"]
    table = _table(["Rule", "Planned", "Sent", "Held out", "Codes", "Redeemed", f"Ordered ≤{window} d", "Orders",
                    "Revenue", "Per recipient"], rows)
    charted, verdicts = [], []
    for x in r["rules"]:
        lift = x["lift"]
        text = f"<p><b>{escape(x['rule'])}</b>: <span class=\"verdict\">{escape(lift['verdict'])}</span>"
        if "return_rate_lift" in lift:
            d = lift["return_rate_lift"]
            charted.append({"rule": x["rule"], "sent": lift["sent_return_rate"], "held_out": lift["held_out_return_rate"]})
            text += (f". Return rate {lift['sent_return_rate']['estimate']:.1%} sent (n={lift['sent_n']}) vs "
                     f"{lift['held_out_return_rate']['estimate']:.1%} held out (n={lift['held_out_n']}): lift "
                     f"{d['estimate'] * 100:+.1f} points (95 % CI {d['low'] * 100:+.1f} to {d['high'] * 100:+.1f}). "
                     f"Revenue per customer {_money(lift['sent_revenue_per_customer'], cur)} vs "
                     f"{_money(lift['held_out_revenue_per_customer'], cur)}")
            rv = lift.get("revenue_per_customer_lift")
            if rv:
                text += f" (difference 95 % CI {rv['low']:,.2f} to {rv['high']:,.2f})"
            text += f"; incremental revenue ≈ {_money(lift['incremental_revenue'], cur)}"
        verdicts.append(text + ".</p>")
        if len(x.get("by_timing") or ()) > 1:
            verdicts.append("<p>By timing: " + "; ".join(
                f"{escape(t['timing'])} ({t['sent']} sent, {t['held_out']} held out): {escape(t['lift']['verdict'])}"
                + (f", lift {t['lift']['return_rate_lift']['estimate'] * 100:+.1f} points"
                   if "return_rate_lift" in t["lift"] else "")
                for t in x["by_timing"]) + ".</p>")
        if x.get("by_step"):
            verdicts.append("<p>By step: " + "; ".join(
                f"step {t['step']}: {t['sent']} sent, {t['customers_ordering_within_window']} ordered within the window"
                for t in x["by_step"]) + ".</p>")
    chart = svg.rate_intervals(charted) if charted else ""
    return (f'<section id="rules"><h2>Rules: what came back</h2>{table}<h3>Sent versus held out</h3>{chart}'
            + "".join(verdicts) + "</section>")


def _feedback(r: dict[str, Any]) -> str:
    f = r.get("feedback")
    if not f:
        return ""
    kpis = "".join([
        _kpi("answers", f"{f['answers']:,}"), _kpi("average score", _num(f["average"], "{:.1f}") + " / 10"),
        _kpi("NPS", _num(f["nps"], "{:+.0f}")), _kpi("promoters (9-10)", f"{f['promoters']:,}"),
        _kpi("passives (7-8)", f"{f['passives']:,}"), _kpi("detractors (0-6)", f"{f['detractors']:,}"),
    ])
    return (f'<section id="feedback"><h2>Feedback after delivery</h2><div class="kpis">{kpis}</div>'
            '<p class="note">Answers to the feedback_request emails given in the period. NPS = % promoters '
            "minus % detractors, from -100 to +100.</p></section>")


def _definitions(r: dict[str, Any]) -> str:
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in r["definitions"].items())
    excluded = ", ".join(f"{k}: {v:,}" for k, v in r["orders_excluded"].items())
    return (f'<section id="definitions"><h2>Definitions</h2><dl>{items}</dl>'
            f'<p class="note">Orders in the database and left out: {escape(excluded)}.</p></section>')


def render_html(reports: Sequence[dict[str, Any]], title: str = "winback report") -> str:
    parts = []
    for r in reports:
        period = r["period"]
        parts.append(
            f"<h1>{escape(r['store']['name'])}</h1><p class=\"note\">{escape(period['from'][:10])} to "
            f"{escape(period['to'][:10])} ({period['days']:.0f} days)</p>"
            + _health(r) + _rules(r) + _feedback(r) + _cohorts(r) + _intervals(r) + _revenue(r) + _predicted(r) + _definitions(r)
        )
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>"
            + "".join(parts) + "</main></body></html>")
