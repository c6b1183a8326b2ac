"""What the demo reports: per store its syncs, counts and rule outcomes (:class:`DemoStore`), and
the whole run (:class:`DemoSummary`) with the text ``winback demo`` prints.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from winback.clients import ClientRun
from winback.demo.configs import DEMO_RULES
from winback.rules.runner import Outcome
from winback.sync import SyncReport


REPORT_DAYS = 31
"""The demo's report looks this many days past the run, so every reminder's 30-day window has ended."""

OUTCOMES = ("done", "skipped", "failed", "needs review", "held", "held out")


@dataclass(slots=True)
class DemoStore:
    label: str
    platform: str
    store_key: str
    first: SyncReport
    second: SyncReport
    counts: dict[str, int]
    config: Path | None = None
    rules: dict[str, Counter[str]] = field(default_factory=dict)
    """Per rule: how many actions were ``done``, ``skipped``, ``failed``, ``needs review``, ``held``."""
    held: Counter[str] = field(default_factory=Counter)
    """Held actions by reason (no consent, capped, ...)."""
    error: str | None = None
    returned: int = 0
    """Orders placed by reminded or held-out customers after the run (:mod:`winback.emulator.respond`)."""
    third: SyncReport | None = None


@dataclass(slots=True)
class DemoSummary:
    workdir: Path
    database: Path
    seconds: float
    stores: list[DemoStore] = field(default_factory=list)
    now: datetime | None = None
    """The moment the rules ran at (the emulated stores' today)."""
    outbox: Path | None = None
    index: Path | None = None
    emails: int = 0
    rules_seconds: float = 0.0
    report: Path | None = None
    lifts: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"winback demo finished in {self.seconds:.1f} s", ""]
        header = f"{'store':<34} {'customers':>9} {'orders':>7} {'products':>8} {'buyers':>7} {'quarantined':>11}"
        lines += [header, "-" * len(header)]
        for store in self.stores:
            c = store.counts
            lines.append(
                f"{store.label:<34} {c['customers']:>9} {c['orders']:>7} {c['products']:>8} "
                f"{c['buyers']:>7} {c['quarantine']:>11}"
            )
        lines.append("")
        for store in self.stores:
            lines.append(
                f"{store.label}: first sync {store.first.upserted} records in {store.first.requests} requests "
                f"({store.first.duration:.1f} s); second sync {store.second.upserted} records in "
                f"{store.second.requests} requests ({store.second.duration:.1f} s)"
            )
        lines += ["", *self._render_rules(), "", f"database: {self.database}"]
        return "\n".join(lines)

    def _render_rules(self) -> list[str]:
        when = f" at {self.now:%Y-%m-%d %H:%M} UTC (the emulated stores' today)" if self.now else ""
        lines = [f"rules ({self.rules_seconds:.1f} s){when}"]
        header = f"{'store':<34} {'rule':<22}" + "".join(f" {name:>12}" for name in OUTCOMES)
        lines += [header, "-" * len(header)]
        for store in self.stores:
            for rule, counts in store.rules.items():
                lines.append(f"{store.label:<34} {rule:<22}" + "".join(f" {counts[name]:>12}" for name in OUTCOMES))
        for store in self.stores:
            if store.held:
                reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(store.held.items()))
                lines.append(f"{store.label}: held by the guard rails: {reasons}")
            if store.error:
                lines.append(f"{store.label}: {store.error}")
        lines.append("")
        if self.outbox is not None:
            lines.append(f"emails: {self.emails} in the outbox {self.outbox} (one .eml each, nothing was sent)")
        if self.index is not None:
            lines.append(f"open in a browser: {self.index.resolve().as_uri()}")
        if self.report is not None:
            lines.append("")
            for store in self.stores:
                lines.append(f"{store.label}: {store.returned} orders from reminded and held-out customers in the "
                             f"{REPORT_DAYS} days after the run, synced ({store.third.upserted if store.third else 0} records)")
            lines += self.lifts
            lines.append(f"report: {self.report.resolve().as_uri()}")
        configs = [store.config for store in self.stores if store.config is not None]
        if configs:
            lines.append(f"client configs: {', '.join(str(path) for path in configs)}")
            lines.append(f"try: winback plan --no-connect --config {configs[0]}")
            lines.append(f"     winback status --config {configs[0]}")
        return lines


def tally(demo_store: DemoStore, run: ClientRun) -> None:
    rules: dict[str, Counter[str]] = {name: Counter() for name in DEMO_RULES}
    if run.report is not None:
        for result in run.report.results:
            outcome = result.outcome
            name = "done" if outcome in (Outcome.DONE, Outcome.ALREADY_DONE) else outcome.value
            rules.setdefault(result.action.rule, Counter())[name] += 1
    if run.plan is not None:
        for held in run.plan.held:
            rules.setdefault(held.action.rule, Counter())["held"] += 1
            demo_store.held[held.reason.value] += 1
    demo_store.rules = rules
    demo_store.error = run.error


def outbox_labels(demo_store: DemoStore, run: ClientRun) -> dict[str, dict[str, str]]:
    """Message-ID → rule and store, for the outbox index."""
    if run.report is None:
        return {}
    return {
        str(result.created_ref["message_id"]): {"rule": result.action.rule, "store": demo_store.label}
        for result in run.report.results
        if result.created_ref.get("message_id")
    }
