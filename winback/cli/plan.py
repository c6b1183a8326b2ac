"""``winback plan``: what ``winback run`` would do now, without doing anything."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from winback.cli._common import cell, config_options, load_configs, rich_stdout, say, totals
from winback.display import printable
from winback.clients import ClientRun, plan_clients
from winback.rules.engine import no_rule_enabled
from winback.rules.base import PlannedAction
from winback.rules.guards import HeldAction


@click.command()
@config_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per client.")
@click.option("--no-connect", is_flag=True, help="Plan from the local store only (no capabilities request).")
@click.pass_context
def plan(ctx: click.Context, config: Path | None, config_dir: Path | None, as_json: bool, no_connect: bool) -> None:
    """Show the actions the rules would take and each one the guard rails hold back: who, why
    and, when the guard knows, until when (quiet hours, the per-customer cap).

    Reads the local store and the ledger; sends nothing, creates nothing, records nothing.
    Exit status: 1 when a client could not be planned, 2 for config errors.
    """
    configs, problems = load_configs(config, config_dir)
    results = asyncio.run(plan_clients(configs, connect=not no_connect)) if configs else []
    notes = {c.path: no_rule_enabled(c) for c in configs}
    if as_json:
        click.echo(json.dumps([plan_json(r, notes.get(r.path)) for r in results], indent=2, ensure_ascii=False))
    else:
        for result in results:
            _print(result, notes.get(result.path))
        planned = sum(1 for r in results if r.ok)
        actions = sum(len(r.plan.actions) for r in results if r.plan is not None)
        held = sum(sum(r.plan.held_counts().values()) for r in results if r.plan is not None)
        say(
            totals(len(results) + len(problems), "client", {"planned": planned, "failed": len(results) - planned},
                   config_errors=len(problems))
            + f"; {actions} action{'s' if actions != 1 else ''} planned, {held} held"
        )
    if problems:
        ctx.exit(2)
    if any(not r.ok for r in results):
        ctx.exit(1)


def plan_json(result: ClientRun, note: str | None = None) -> dict[str, Any]:
    """One client's plan as JSON; ``note`` says why there is nothing to plan (no rule enabled)."""
    plan = result.plan
    return {
        "client": result.client,
        "config": str(result.path),
        "store_key": result.store_key,
        "ok": result.ok,
        "error": result.error,
        "actions": [] if plan is None else [
            {
                "rule": a.rule,
                "email": a.email,
                "name": a.recipient_name,
                "reason": a.reason,
                "steps": [s.value for s in a.steps],
                "marketing": a.marketing,
                "idempotency_key": a.idempotency_key,
                "step": step_number(a),
                "timing": a.variant,
            }
            for a in plan.actions
        ],
        "held": {} if plan is None else dict(plan.held_counts()),
        "held_actions": [] if plan is None else [
            {
                "rule": h.action.rule,
                "email": h.action.email,
                "name": h.action.recipient_name,
                "held": h.reason.value,
                "detail": h.detail,
                "until": None if h.until is None else h.until.isoformat(),
                "reason": h.action.reason,
                "idempotency_key": h.action.idempotency_key,
                "step": step_number(h.action),
            }
            for h in plan.held
        ],
        "note": note,
        "rules_held": {} if plan is None else dict(plan.rules_held),
    }


def step_number(action: PlannedAction) -> int | None:
    """The 1-based step of a rule with several steps (``None`` for a single message)."""
    sequence = action.sequence
    return None if sequence is None or sequence.of < 2 else sequence.index + 1


def held_until(held: HeldAction) -> str:
    """``until 2026-11-26 07:00 UTC``, or nothing when the guard cannot say."""
    return "" if held.until is None else f"until {held.until:%Y-%m-%d %H:%M} UTC"


def _print(result: ClientRun, note: str | None = None) -> None:
    header = f"{result.client} ({result.store_key or result.store})"
    if result.plan is None:
        say(f"FAILED  {header}: {result.error}", fg="red")
        return
    plan = result.plan
    held = ", ".join(f"{reason} {count}" for reason, count in sorted(plan.held_counts().items())) or "none"
    if rich_stdout():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=cell(f"{header}: {len(plan.actions)} actions; held: {held}"))
        for column in ("rule", "email", "name", "reason", "steps"):
            table.add_column(column)
        for a in plan.actions:
            table.add_row(
                cell(a.rule), cell(a.email), cell(a.recipient_name or ""), cell(a.reason),
                ", ".join(s.value for s in a.steps),
            )
        Console().print(table)
        if plan.held:
            held_table = Table(title=cell(f"{header}: {len(plan.held)} held"))
            for column in ("rule", "email", "name", "held", "why", "until"):
                held_table.add_column(column)
            for h in plan.held:
                held_table.add_row(
                    cell(h.action.rule), cell(h.action.email), cell(h.action.recipient_name or ""),
                    cell(h.reason.value), cell(h.detail), cell(held_until(h).removeprefix("until ") or "-"),
                )
            Console().print(held_table)
    else:
        say(f"{header}: {len(plan.actions)} actions; held: {held}")
        for a in plan.actions:
            steps = "+".join(s.value for s in a.steps)
            fields = (a.rule, a.email, a.recipient_name or "-", steps, a.reason)
            click.echo("  " + "\t".join(printable(field) for field in fields))
        for h in plan.held:
            fields = (h.action.rule, h.action.email, h.action.recipient_name or "-",
                      f"held: {h.reason.value}", h.detail, held_until(h) or "-")
            click.echo("  " + "\t".join(printable(field) for field in fields))
    if note:
        say(f"  {note}", fg="yellow")
    for name, why in plan.rules_held.items():
        say(f"  rule {name} held: {why}", fg="yellow")
    for name, why in plan.rule_errors.items():
        say(f"  rule {name} failed: {why}", fg="red")
