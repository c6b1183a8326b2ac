"""``winback run``: sync, plan and carry out the rules of one or many clients."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from winback.cli._common import config_options, load_configs, rich_stdout
from winback.rules.engine import ClientRun, run_clients

COLUMNS = ("done", "already done", "skipped", "failed", "needs review", "not run", "would do")


@click.command()
@config_options
@click.option("--no-sync", is_flag=True, help="Act on the local store as it is (no sync first).")
@click.option(
    "--dry-run", is_flag=True,
    help="Write the emails to <outbox>/dry-run/<client>/ instead; no platform writes, nothing recorded.",
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
    _summary(results, dry_run)
    if problems:
        ctx.exit(2)
    if any(not r.ok or (r.report is not None and r.report.failed) for r in results):
        ctx.exit(1)


def _held(result: ClientRun) -> str:
    if result.plan is None:
        return ""
    return ", ".join(f"{reason} {n}" for reason, n in sorted(result.plan.held_counts().items()))


def _summary(results: list[ClientRun], dry_run: bool) -> None:
    title = f"{len(results)} clients" + (" (dry run)" if dry_run else "")
    if rich_stdout():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        table.add_column("client")
        table.add_column("store")
        table.add_column("result")
        for column in COLUMNS:
            table.add_column(column, justify="right")
        table.add_column("held")
        for r in results:
            counts = r.report.counts() if r.report else {}
            table.add_row(
                r.client, r.store_key or r.store,
                "[green]ok[/green]" if r.ok else f"[red]failed: {r.error}[/red]",
                *(str(counts.get(c, 0)) for c in COLUMNS), _held(r),
            )
        Console().print(table)
    else:
        for r in results:
            counts = r.report.counts() if r.report else {}
            shown = " ".join(f"{c.replace(' ', '_')}={counts[c]}" for c in COLUMNS if counts.get(c))
            state = "ok     " if r.ok else "FAILED "
            line = f"{state} {r.client} ({r.store_key or r.store}): {shown or 'nothing to do'}"
            if _held(r):
                line += f"; held: {_held(r)}"
            if r.error:
                line += f"; {r.error}"
            click.echo(line)
        click.echo(title)
    for r in results:
        if r.outbox is not None:
            click.echo(f"{r.client}: dry-run emails in {r.outbox}")
