"""After the rules ran: which customers were reminded or held out (so the emulators can make some
of them order again), and the report over the weeks after the run.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from winback.demo.configs import DEMO_RULES
from winback.demo.summary import REPORT_DAYS, DemoSummary
from winback.emulator.respond import Reminder
from winback.report import build_report
from winback.report.render import render_html
from winback.sync import open_store, tables


def reminders(store: Any, store_key: str) -> list[Reminder]:
    """One reminder per customer from the ledger: sent emails of the marketing rules (with their
    codes) and held-out customers; a customer both sent and held out counts as sent."""
    ledger = tables.action_ledger
    query = select(ledger.c.email, ledger.c.holdout, ledger.c.created_ref, ledger.c.email_started_at,
                   ledger.c.created_at, ledger.c.status).where(
        ledger.c.store_key == store_key, ledger.c.rule.in_(("back_to_bestsellers", "discount_codes")))
    chosen: dict[str, Reminder] = {}
    with store.reading() as conn:
        for row in conn.execute(query.order_by(ledger.c.id)).mappings():
            sent = row["status"] == "done" and row["email_started_at"] is not None
            if not (sent or row["holdout"]) or not row["email"]:
                continue
            code = (row["created_ref"] or {}).get("discount_code")
            reminder = Reminder(row["email"], row["email_started_at"] or row["created_at"], bool(row["holdout"]), code)
            key = row["email"].strip().lower()
            if key not in chosen or (chosen[key].held_out and sent):
                chosen[key] = reminder
    return list(chosen.values())


def write_report(workdir: Path, database: Path, summary: DemoSummary) -> tuple[Path, list[str]]:
    """``report.html`` over the stores, REPORT_DAYS past the run; the lift lines for the summary."""
    assert summary.now is not None
    end = summary.now + timedelta(days=REPORT_DAYS)
    after_days = {name: int(options["after_days"]) for name, options in DEMO_RULES.items() if "after_days" in options}
    lines = []
    with open_store(f"sqlite:///{database}") as store:
        reports = [build_report(store, s.store_key, end=end, rules_after_days=after_days, label=s.label)
                   for s in summary.stores]
    for demo_store, report in zip(summary.stores, reports, strict=True):
        for rule in report["rules"]:
            lift = rule["lift"]
            if "return_rate_lift" not in lift:
                continue
            d = lift["return_rate_lift"]
            lines.append(
                f"{demo_store.label} {rule['rule']}: came back {lift['sent_return_rate']['estimate']:.0%} of "
                f"{lift['sent_n']} sent vs {lift['held_out_return_rate']['estimate']:.0%} of {lift['held_out_n']} held "
                f"out, lift {d['estimate'] * 100:+.1f} points (95 % CI {d['low'] * 100:+.1f} to {d['high'] * 100:+.1f})"
                f": {lift['verdict']}")
    path = workdir / "report.html"
    path.write_text(render_html(reports, title="winback demo report"), encoding="utf-8")
    (workdir / "report.json").write_text(json.dumps(reports, indent=2, default=str), encoding="utf-8")
    return path, lines


# --- configs ------------------------------------------------------------------------------------
