"""``winback demo``: the main job end to end on built-in emulators, with no credentials or network.

It starts a Shopify and an Ecwid emulator in this process (real HTTP servers on 127.0.0.1, each
with its own seeded store), syncs both through the real connectors into one SQLite file in the demo
folder, runs the sync a second time to show it is incremental, then plans and runs the three
built-in rules for both stores exactly as ``winback run`` would (discount codes and accounts are
created on the emulators, every step is recorded in the ledger) with emails going to a local
outbox, and writes an HTML index of that outbox to open in a browser.

The demo folder gets real client configs (``configs/shopify.toml``, ``configs/ecwid.toml``, their
tokens in ``*.secrets.toml`` files of mode 0600) so ``winback plan --no-connect --config ...``
and ``winback status --config ...`` work on the demo's database afterwards; the emulators stop
with the demo, so they cannot connect.

The rules run at the emulated stores' "now" (:data:`winback.emulator.generate.DEFAULT_NOW`, the
end of their seeded history), not the wall clock, so the same seed always gives the same emails.

The Shopify emulator runs with a Shopify Plus-sized cost bucket (20,000 points, 1,000 points/s) so
the demo finishes in about a minute; the connector paces itself on that bucket exactly as it would
on a live store. The first Shopify read of orders goes through a bulk export (the connector's
default for stores of 500 orders or more), as it should for a store of that size.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from winback.config import load_config
from winback.connectors.registry import load_connector_class
from winback.emulator.ecwid import ALL_SCOPES, start_ecwid_emulator
from winback.emulator.generate import generate_world
from winback.emulator.respond import Reminder, responses
from winback.emulator.server import EmulatorServer
from winback.emulator.shopify import start_shopify_emulator
from winback.notify.outbox_index import HTML_DIR, INDEX_NAME, write_outbox_index
from winback.clients import ClientRun, run_clients
from winback.report import build_report
from winback.report.render import render_html
from winback.rules.runner import Outcome
from winback.sync import SyncReport, open_store, sync_store
from winback.sync import tables

DEMO_RULES: dict[str, dict[str, Any]] = {
    "auto_create_accounts": {"enabled": True},
    "back_to_bestsellers": {"after_days": 180, "discount": {"kind": "percentage", "value": 10}, "holdout": 0.2},
    "discount_codes": {"segment": {"min_orders": 3}, "kind": "percentage", "value": 15, "holdout": 0.2},
}
"""The demo clients' ``[rules.*]`` tables, in the order the planner runs them."""

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


@dataclass(slots=True)
class _Target:
    label: str
    platform: str
    settings: dict[str, Any]
    name: str
    """Config file stem."""
    client: str
    sender: str
    """``from_address`` of the client's ``[email]``."""


async def run_demo(workdir: Path, *, customers: int = 2000, seed: int = 1) -> DemoSummary:
    """Run the demo into ``workdir`` (created if missing); a rerun starts from a fresh database
    and an empty outbox."""
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "winback.db"
    for leftover in (database, database.with_name("winback.db-wal"), database.with_name("winback.db-shm")):
        leftover.unlink(missing_ok=True)
    outbox = workdir / "outbox"
    _empty_outbox(outbox)
    outbox.mkdir(mode=0o700, exist_ok=True)

    servers: list[EmulatorServer] = []
    try:
        shopify_world = generate_world(seed, customers=customers)
        shopify_server, shop = start_shopify_emulator(shopify_world, bucket_size=20_000, restore_rate=1_000)
        servers.append(shopify_server)
        ecwid_world = generate_world(seed + 1, customers=customers, store_name="Café Ørsted Goods")
        # The demo runs every rule, so its token has every scope winback uses; a new Ecwid custom
        # app's token reaches only orders and products until Ecwid extends it (see the README).
        ecwid_server, ecwid = start_ecwid_emulator(ecwid_world, requests_per_minute=6_000, scopes=ALL_SCOPES)
        servers.append(ecwid_server)

        targets = [
            _Target(
                f"Shopify {shop.shop_domain}",
                "shopify",
                {"shop": shop.shop_domain, "access_token": shop.access_token, "base_url": shopify_server.url},
                name="shopify",
                client=f"Demo Shopify ({shopify_world.store_name})",
                sender="hello@maple-and-thread.example",
            ),
            _Target(
                f"Ecwid store {ecwid.store_id}",
                "ecwid",
                {
                    "store_id": str(ecwid.store_id),
                    "token": ecwid.token,
                    "base_url": f"{ecwid_server.url}/api/v3",
                    "requests_per_minute": 6_000,
                },
                name="ecwid",
                client=f"Demo Ecwid ({ecwid_world.store_name})",
                sender="hello@cafe-orsted.example",
            ),
        ]
        summary = DemoSummary(workdir=workdir, database=database, seconds=0.0, now=shopify_world.now)
        with open_store(f"sqlite:///{database}") as store:
            for target in targets:
                connector_class = load_connector_class(target.platform)
                reports = []
                for _ in range(2):
                    async with connector_class.from_settings(target.settings) as connector:
                        reports.append(await sync_store(connector, store))
                key = reports[0].store_key
                counts = {name: store.count(key, name) for name in ("customers", "orders", "products", "buyers", "quarantine")}
                summary.stores.append(DemoStore(target.label, target.platform, key, reports[0], reports[1], counts))

        configs = [_write_config(workdir / "configs", target) for target in targets]
        rules_started = time.monotonic()
        with _quiet_per_action_logs():
            runs = await run_clients(
                [load_config(path) for path in configs], sync=False, concurrency=1, now=shopify_world.now
            )
        summary.rules_seconds = time.monotonic() - rules_started
        worlds = [(shopify_world, lambda o: shop.state.place_order(o)),
                  (ecwid_world, lambda o: ecwid.state.place_order(
                      o, ecwid_world.customer(o.customer_key) if o.customer_key is not None else None))]
        with open_store(f"sqlite:///{database}") as store:
            for demo_store, target, (world, place) in zip(summary.stores, targets, worlds, strict=True):
                placed = responses(world, _reminders(store, demo_store.store_key), seed=seed)
                for order in placed:
                    place(order)
                demo_store.returned = len(placed)
                async with load_connector_class(target.platform).from_settings(target.settings) as connector:
                    demo_store.third = await sync_store(connector, store)
    finally:
        for server in servers:
            server.stop()

    labels: dict[str, dict[str, str]] = {}
    for demo_store, path, run in zip(summary.stores, configs, runs, strict=True):
        demo_store.config = path
        _tally(demo_store, run)
        labels.update(_labels(demo_store, run))
    summary.outbox = outbox
    summary.report, summary.lifts = _write_report(workdir, database, summary)
    summary.emails = sum(1 for _ in outbox.glob("*.eml"))
    summary.index = write_outbox_index(outbox, labels=labels, title="winback demo outbox")
    summary.seconds = time.monotonic() - started
    return summary


# --- customers respond, and the report -----------------------------------------------------------


def _reminders(store: Any, store_key: str) -> list[Reminder]:
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


def _write_report(workdir: Path, database: Path, summary: DemoSummary) -> tuple[Path, list[str]]:
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


def _write_config(directory: Path, target: _Target) -> Path:
    """``<name>.toml`` with the store, database, outbox and rules; the token in ``<name>.secrets.toml``."""
    directory.mkdir(parents=True, exist_ok=True)
    secret_keys = {"access_token", "token"}
    secrets = {key: value for key, value in target.settings.items() if key in secret_keys}
    settings = {key: value for key, value in target.settings.items() if key not in secret_keys}
    secrets_path = directory / f"{target.name}.secrets.toml"
    _write_private(secrets_path, "".join(f"{key} = {_toml(value)}\n" for key, value in secrets.items()))
    store = "".join(f"{key} = {_toml(value)}\n" for key, value in settings.items())
    rules = "".join(
        f"\n[rules.{name}]\n" + "".join(f"{key} = {_toml(value)}\n" for key, value in options.items())
        for name, options in DEMO_RULES.items()
    )
    path = directory / f"{target.name}.toml"
    _write_private(
        path,
        f"""\
# Written by `winback demo`: a client config for the demo's {target.platform} emulator store.
# The emulator stopped when the demo ended, so use it offline on the demo's database:
#   winback plan --no-connect --config {path}
#   winback status --config {path}
secrets_file = "{secrets_path.name}"

[client]
name = {_toml(target.client)}

[store]
platform = "{target.platform}"
{store}
[database]
url = "../winback.db"

[email]
sender = "outbox"
outbox_dir = "../outbox"
from_address = {_toml(target.sender)}
unsubscribe_mailto = {_toml("unsubscribe@" + target.sender.partition("@")[2])}
{rules}""",
    )
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key} = {_toml(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    os.chmod(path, 0o600)


# --- outbox and results -------------------------------------------------------------------------


def _empty_outbox(outbox: Path) -> None:
    """Remove what an earlier demo wrote (and only that), so the index shows this run's emails."""
    if not outbox.is_dir():
        return
    for pattern in ("*.eml", "index.jsonl", INDEX_NAME, f"{HTML_DIR}/*.html"):
        for path in outbox.glob(pattern):
            path.unlink(missing_ok=True)


def _tally(demo_store: DemoStore, run: ClientRun) -> None:
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


def _labels(demo_store: DemoStore, run: ClientRun) -> dict[str, dict[str, str]]:
    """Message-ID → rule and store, for the outbox index."""
    if run.report is None:
        return {}
    return {
        str(result.created_ref["message_id"]): {"rule": result.action.rule, "store": demo_store.label}
        for result in run.report.results
        if result.created_ref.get("message_id")
    }


@contextmanager
def _quiet_per_action_logs() -> Iterator[None]:
    """The executor logs one line per action; the demo's summary counts them instead."""
    logger = logging.getLogger("winback.rules.executor")
    before = logger.level
    logger.setLevel(max(logging.WARNING, before))
    try:
        yield
    finally:
        logger.setLevel(before)
