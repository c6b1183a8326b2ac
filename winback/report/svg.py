"""Small inline-SVG charts drawn in Python: no JavaScript, no CDN, nothing to download.

Each function returns one ``<svg>`` element scaled by its ``viewBox`` (so it fits a phone's width),
with ``data-chart`` naming it and a ``<title>`` for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

W = 480
INK = "#1f2937"
MUTED = "#6b7280"
SENT = "#2563eb"
HELD = "#9ca3af"


def _svg(name: str, title: str, height: int, body: list[str]) -> str:
    return (f'<svg class="chart" data-chart="{name}" viewBox="0 0 {W} {height}" role="img" '
            f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet" font-family="system-ui,sans-serif">'
            f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, *, size: int = 14, anchor: str = "start", fill: str = INK) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}">'
            f"{escape(text)}</text>")


def _heat(value: float) -> str:
    """White to deep blue."""
    v = max(0.0, min(1.0, value))
    r = round(239 - v * (239 - 30))
    g = round(246 - v * (246 - 64))
    b = round(255 - v * (255 - 175))
    return f"rgb({r},{g},{b})"


def cohort_heatmap(rows: Sequence[dict], months: int) -> str:
    """Cohort (rows) × months since first order (columns); colour scaled to the largest share
    after month 0, which is 100 % by definition."""
    left, top, cell_h = 72, 32, 24
    cell_w = (W - left - 8) / months
    later = [v for r in rows for v in r["retention"][1:]]
    scale = max(later) if later and max(later) > 0 else 1.0
    body = [_text(left, 16, "months since first order →", size=13, fill=MUTED)]
    for k in range(months):
        body.append(_text(left + (k + 0.5) * cell_w, top - 2, str(k), size=12, anchor="middle", fill=MUTED))
    for i, row in enumerate(rows):
        y = top + i * cell_h
        body.append(_text(left - 6, y + 16, row["cohort"], size=13, anchor="end"))
        for k, value in enumerate(row["retention"]):
            shade = 1.0 if k == 0 else value / scale
            x = left + k * cell_w
            body.append(f'<rect class="cell" x="{x:.1f}" y="{y}" width="{cell_w - 1:.1f}" height="{cell_h - 1}" '
                        f'fill="{_heat(shade)}"><title>{escape(row["cohort"])} +{k}: {value:.1%}</title></rect>')
            if cell_w > 30:
                colour = "#fff" if shade > 0.55 else INK
                body.append(_text(x + cell_w / 2, y + 16, f"{value * 100:.0f}", size=11, anchor="middle", fill=colour))
    return _svg("cohort-heatmap", "Cohort retention: share of each first-order month ordering again",
                top + len(rows) * cell_h + 8, body)


def bars(name: str, title: str, labels: Sequence[str], values: Sequence[float], *, fmt: str = "{:.0f}",
         colour: str = SENT) -> str:
    """Vertical bars with their values on top (reorder intervals, revenue per month)."""
    height, bottom, top = 240, 40, 20
    n = max(len(values), 1)
    slot = (W - 16) / n
    peak = max(values) if values and max(values) > 0 else 1.0
    body = [f'<line x1="8" y1="{height - bottom}" x2="{W - 8}" y2="{height - bottom}" stroke="{MUTED}"/>']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = (height - bottom - top) * value / peak
        x = 8 + i * slot
        body.append(f'<rect class="bar" x="{x + slot * 0.1:.1f}" y="{height - bottom - h:.1f}" '
                    f'width="{slot * 0.8:.1f}" height="{h:.1f}" fill="{colour}"><title>{escape(label)}: '
                    f"{escape(fmt.format(value))}</title></rect>")
        if n <= 12:
            body.append(_text(x + slot / 2, height - bottom - h - 4, fmt.format(value), size=11, anchor="middle"))
        if i % max(1, -(-n // 6)) == 0:
            body.append(_text(x + slot / 2, height - bottom + 14, label, size=12, anchor="middle", fill=MUTED))
    return _svg(name, title, height, body)


def rate_intervals(rows: Sequence[dict]) -> str:
    """Per rule: return rate of sent and held-out customers, each with its 95 % Wilson interval."""
    row_h, left, right = 62, 12, 110
    height = 46 + row_h * max(len(rows), 1)
    peak = math.ceil(max([r[g]["high"] for r in rows for g in ("sent", "held_out")] + [0.05]) * 10) / 10
    span = W - left - right

    def x_of(v: float) -> float:
        return left + span * v / peak

    body = [_text(left, 16, "came back within the window (95 % interval)", size=13, fill=MUTED)]
    for tick in (0, peak / 2, peak):
        body.append(f'<line x1="{x_of(tick):.1f}" y1="24" x2="{x_of(tick):.1f}" y2="{height - 20}" stroke="#e5e7eb"/>')
        body.append(_text(x_of(tick), height - 4, f"{tick:.0%}", size=12, anchor="middle", fill=MUTED))
    for i, row in enumerate(rows):
        base = 40 + i * row_h
        body.append(_text(left, base + 8, row["rule"], size=13))
        for j, (group, colour, label) in enumerate((("sent", SENT, "sent"), ("held_out", HELD, "held out"))):
            ci = row[group]
            y = base + 24 + j * 20
            body.append(f'<line class="ci" x1="{x_of(ci["low"]):.1f}" y1="{y}" x2="{x_of(ci["high"]):.1f}" '
                        f'y2="{y}" stroke="{colour}" stroke-width="3"/>')
            body.append(f'<circle class="point" cx="{x_of(ci["estimate"]):.1f}" cy="{y}" r="5" fill="{colour}">'
                        f'<title>{escape(label)}: {ci["estimate"]:.1%} ({ci["low"]:.1%}–{ci["high"]:.1%})</title>'
                        "</circle>")
            body.append(_text(x_of(ci["high"]) + 8, y + 4, f"{label} {ci['estimate']:.1%}", size=12, fill=colour))
    return _svg("return-rate", "Return rate, sent versus held out, with 95 % intervals", height, body)
