"""``winback report``: store health, cohorts, predicted value and each rule's lift over its
held-out control group, as text, JSON or one self-contained HTML file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from winback.cli._common import config_options, load_configs, say
from winback.config import ClientConfig
from winback.errors import ConfigError
from winback.sync import open_store


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD or an ISO 8601 time)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _after_days(config: ClientConfig) -> dict[str, int]:
    return {name: int(options["after_days"]) for name, options in config.rules.items()
            if isinstance(options, dict) and isinstance(options.get("after_days"), int)
            and options.get("enabled", True) is not False}


def client_report(config: ClientConfig, *, start: datetime | None, end: datetime | None,
                  window_days: int) -> dict[str, Any]:
    """One client's report from its local database (no network)."""
    # Imported here, not at the top: numpy and SciPy double the start-up time of every other
    # ``winback`` command (each kill test, cron run and worker task starts one).
    from winback.report import build_report

    store = open_store(config.database.url, create=False)
    try:
        report = build_report(store, config.store_key, start=start, end=end, window_days=window_days,
                              rules_after_days=_after_days(config), label=config.name)
    finally:
        store.close()
    report["client"] = config.name
    return report


@click.command()
@config_options
@click.option("--from", "start", callback=_date, help="Start of the period (included; default: a year before --to).")
@click.option("--to", "end", callback=_date, help="End of the period (excluded; default: just after the newest order).")
@click.option("--window-days", default=30, show_default=True, type=click.IntRange(1, 365),
              help="A customer 'came back' when they ordered within this many days of the message.")
@click.option("--html", "html", type=click.Path(dir_okay=False, path_type=Path), help="Write one self-contained HTML file.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (the same numbers as the HTML).")
@click.pass_context
def report(ctx: click.Context, config: Path | None, config_dir: Path | None, start: datetime | None,
           end: datetime | None, window_days: int, html: Path | None, as_json: bool) -> None:
    """What came back: store health, cohorts, predicted value, and each rule's lift over its holdout."""
    if start is not None and end is not None and start >= end:
        raise ConfigError(f"--from {start.date()} is not before --to {end.date()}")
    configs, problems = load_configs(config, config_dir)
    reports = [client_report(c, start=start, end=end, window_days=window_days) for c in configs]
    if html is not None:
        from winback.report.render import render_html

        html.write_text(render_html(reports), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(reports, indent=2, ensure_ascii=False, default=str))
    else:
        for r in reports:
            _summary(r)
        if html is not None:
            say(f"wrote {html}")
    if problems:
        ctx.exit(2)


def _summary(r: dict[str, Any]) -> None:
    h, cur = r["health"], r["store"]["currency"] or ""
    crr = h["retention"]["crr"]
    say(f"{r['client']}: {r['period']['from'][:10]} to {r['period']['to'][:10]}", bold=True)
    say(f"  customers {h['customers']:,}, buyers {h['buyers']:,}, orders {h['orders']:,}, "
        f"revenue {h['revenue']:,.2f} {cur}")
    say(f"  CRR {_fmt(crr, '{:.1f} %', 'undefined')}, repeat rate {_fmt(h['repeat_purchase_rate'], '{:.1%}')}, "
        f"AOV {_fmt(h['aov'], '{:,.2f}')}, CLV {_fmt(h['clv'], '{:,.2f}')} (lifespan {h['lifespan']['years']:.2f} y)")
    median = r["reorder_intervals"]["median_days"]
    if median is not None:
        say(f"  median reorder interval {median:.0f} days")
    for hint in r["reorder_intervals"]["hints"]:
        say(f"  hint: {hint}")
    p = r["predicted"]
    say(f"  predicted: {p['why']}" if not p.get("fitted") else
        f"  predicted: {p['share_likely_lapsed']:.1%} likely lapsed, CLV next year {p['predicted_clv_next_year_mean']:,.2f}")
    for rule in r["rules"]:
        say(f"  {rule['rule']}: sent {rule['sent']}, held out {rule['held_out']}, codes {rule['codes_created']} "
            f"(redeemed {rule['codes_redeemed']}), came back {rule['customers_ordering_within_window']} -> "
            f"{rule['lift']['verdict']}")


def _fmt(value: float | None, pattern: str, missing: str = "-") -> str:
    return missing if value is None else pattern.format(value)
