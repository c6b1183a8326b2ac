"""``winback run``: sync, plan and carry out the rules of one or many clients."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import click

from winback.cli._common import cell, config_options, load_configs, rich_stdout, say, totals
from winback.clients import ClientRun, run_clients
from winback.display import printable
from winback.rules.engine import no_rule_enabled

COLUMNS = ("done", "already done", "skipped", "failed", "needs review", "not run", "would do")


@click.command()
@config_options
@click.option("--no-sync", is_flag=True, help="Act on the local store as it is (no sync first).")
@click.option(
    "--dry-run", is_flag=True,
    help="Write the emails to <outbox>/dry-run/<client>/ instead and list who would get what (full "
         "addresses, like `winback plan`); no platform writes, nothing recorded.",
)
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Stores worked on at once.")
@click.pass_context
def run(
    ctx: click.Context, config: Path | None, config_dir: Path | None, no_sync: bool, dry_run: bool, concurrency: int
) -> None:
    """Sync each client's store, then run its enabled rules within the guard rails.

    Every action is recorded in the ledger before it happens, so a rerun (or a crashed run's
    successor) never repeats one. Exit status: 0 when every client ran and no action failed,
    1 otherwise, 2 for config errors.
    """
    configs, problems = load_configs(config, config_dir)
    results = asyncio.run(run_clients(configs, sync=not no_sync, dry_run=dry_run, concurrency=concurrency)) if configs else []
    notes = {c.path: no_rule_enabled(c) for c in configs}
    if dry_run:
        for result in results:
            _would_do(result)
    _summary(results, dry_run, config_errors=len(problems), notes=notes)
    if problems:
        ctx.exit(2)
    if any(not r.ok or (r.report is not None and r.report.failed) for r in results):
        ctx.exit(1)


def _held(result: ClientRun) -> str:
    if result.plan is None:
        return ""
    return ", ".join(f"{reason} {n}" for reason, n in sorted(result.plan.held_counts().items()))


def outcome(result: ClientRun) -> str:
    """One honest word per client: ``ok``; ``partial`` when some actions failed and others were
    done; ``FAILED`` when the client could not run or every action it tried failed."""
    counts = result.report.counts() if result.report else {}
    failed = counts.get("failed", 0) + counts.get("needs review", 0)
    succeeded = sum(counts.get(c, 0) for c in ("done", "would do"))
    if not result.ok and not succeeded:
        return "FAILED"
    if failed or not result.ok:
        return "partial" if succeeded else "FAILED"
    return "ok"


def _would_do(result: ClientRun) -> None:
    """A dry run's actions, one line each with the full address: the merchant's own data on their
    own terminal, as ``winback plan`` shows it (log lines of real runs keep masking addresses)."""
    if result.report is None or not result.report.results:
        return
    say(f"{result.client} ({result.store_key or result.store}): dry run")
    for r in result.report.results:
        a = r.action
        fields = (r.outcome.value, a.rule, a.email, a.recipient_name or "-", "+".join(s.value for s in a.steps),
                  r.detail or a.reason)
        click.echo("  " + "\t".join(printable(field) for field in fields))


def _summary(
    results: list[ClientRun], dry_run: bool, *, config_errors: int = 0, notes: dict[Path, str | None] | None = None
) -> None:
    notes = notes or {}
    words = [outcome(r) for r in results]
    actions = sum((r.report.counts() for r in results if r.report), start=Counter())
    title = totals(
        len(results) + config_errors, "client",
        {"ok": words.count("ok"), "partial": words.count("partial"), "failed": words.count("FAILED")},
        config_errors=config_errors,
    )
    done_word = "would do" if dry_run else "done"
    title += f"; actions: {actions.get(done_word, 0)} {done_word}, {actions.get('failed', 0)} failed"
    if actions.get("needs review"):
        title += f", {actions['needs review']} need review"
    title += " (dry run)" if dry_run else ""
    if rich_stdout():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=cell(title))
        table.add_column("client")
        table.add_column("store")
        table.add_column("result")
        for column in COLUMNS:
            table.add_column(column, justify="right")
        table.add_column("held")
        for r, word in zip(results, words, strict=True):
            counts = r.report.counts() if r.report else {}
            style = {"ok": "green", "partial": "yellow", "FAILED": "red"}[word]
            shown = word + (f": {cell(r.error)}" if r.error else "")
            table.add_row(
                cell(r.client), cell(r.store_key or r.store), f"[{style}]{shown}[/{style}]",
                *(str(counts.get(c, 0)) for c in COLUMNS), cell(_held(r)),
            )
        Console().print(table)
        for r in results:
            if notes.get(r.path) and not r.error:
                say(f"{r.client}: {notes[r.path]}", fg="yellow")
    else:
        for r, word in zip(results, words, strict=True):
            counts = r.report.counts() if r.report else {}
            shown = " ".join(f"{c.replace(' ', '_')}={counts[c]}" for c in COLUMNS if counts.get(c))
            parts = [shown] if shown else ([] if r.error else [notes.get(r.path) or "nothing to do"])
            if _held(r):
                parts.append(f"held: {_held(r)}")
            if r.error:
                parts.append(r.error)
            say(f"{word:<7} {r.client} ({r.store_key or r.store}): {'; '.join(parts)}")
        say(title)
    for r in results:
        for name, why in (r.plan.rules_held.items() if r.plan is not None else ()):
            say(f"{r.client}: rule {name} held: {why}", fg="yellow")
    for r in results:
        if r.outbox is not None:
            say(f"{r.client}: dry-run emails in {r.outbox}")
