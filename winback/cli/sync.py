"""``winback sync``: bring the local copy of one or many clients' stores up to date."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from winback.cli._common import cell, config_options, load_configs, logs_through, rich_stderr, rich_stdout, say, totals
from winback.connectors.base import Resource
from winback.clients import ClientProgress, ClientRun, sync_clients
from winback.sync import SyncProgress


@click.command()
@config_options
@click.option("--full", is_flag=True, help="Re-read everything instead of reading from the cursors.")
@click.option(
    "--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Stores synced at once."
)
@click.option(
    "--resource",
    "resources",
    type=click.Choice([r.value for r in Resource]),
    multiple=True,
    help="Only these resources (repeatable); default: each config's [sync] resources.",
)
@click.pass_context
def sync(
    ctx: click.Context,
    config: Path | None,
    config_dir: Path | None,
    full: bool,
    concurrency: int,
    resources: tuple[str, ...],
) -> None:
    """Sync clients' stores into their local databases.

    Exit status: 0 when every client synced, 1 when any client failed, 2 for config errors
    (with --config-dir, the valid clients are still synced).
    """
    configs, problems = load_configs(config, config_dir)
    results: list[ClientRun] = []
    if configs:
        with _progress(rich_stderr(ctx)) as progress:
            results = asyncio.run(
                sync_clients(
                    configs, full=full, concurrency=concurrency, resources=resources or None, progress=progress
                )
            )
        _summary(results, config_errors=len(problems))
    elif problems:
        say(totals(len(problems), 'client', {'synced': 0, 'failed': 0}, config_errors=len(problems)))
    if problems:
        ctx.exit(2)
    if any(not result.ok for result in results):
        ctx.exit(1)


@contextmanager
def _progress(enabled: bool) -> Iterator[ClientProgress | None]:
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bars = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[records]:>8} records  {task.fields[pages]:>5} pages"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    tasks: dict[tuple[str, str], int] = {}

    def update(client: str, event: SyncProgress) -> None:
        key = (client, event.resource.value)
        if key not in tasks:
            tasks[key] = bars.add_task(f"{client} · {event.resource.value}", total=None, records=0, pages=0)
        bars.update(tasks[key], records=event.records, pages=event.pages)

    with bars, logs_through(sys.stderr):
        yield update
        for task in tasks.values():
            bars.update(task, total=1, completed=1)


def _counts(result: ClientRun) -> dict[str, int]:
    if result.sync is None:
        return {}
    return {resource.value: report.upserted for resource, report in result.sync.resources.items()
            if report.unreachable is None}


def _partial(result: ClientRun) -> str:
    """``partial: customers unreachable (why and the remedy)``, or empty for a whole sync."""
    return "" if result.sync is None else result.sync.partial or ""


def _summary(results: list[ClientRun], *, config_errors: int = 0) -> None:
    failed = sum(1 for r in results if not r.ok)
    line = totals(
        len(results) + config_errors, "client",
        {"synced": len(results) - failed, "failed": failed}, config_errors=config_errors,
    )
    if rich_stdout():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=cell(line))
        for column in ("client", "store", "result", "customers", "orders", "products", "rejected", "deleted",
                       "requests", "seconds"):
            table.add_column(column, justify="right" if column not in ("client", "store", "result") else "left")
        for r in results:
            counts, report = _counts(r), r.sync
            table.add_row(
                cell(r.client),
                cell(r.store),
                (f"[yellow]{cell(_partial(r))}[/yellow]" if _partial(r) else "[green]ok[/green]")
                if r.ok else f"[red]FAILED: {cell(r.error)}[/red]",
                *(str(counts.get(name, "")) for name in ("customers", "orders", "products")),
                "" if report is None else str(report.rejected),
                "" if report is None else str(report.deleted),
                "" if report is None or report.requests is None else str(report.requests),
                "" if report is None else f"{report.duration:.1f}",
            )
        Console().print(table)
        return
    for r in results:
        if r.ok and r.sync is not None:
            counts = " ".join(f"{name}={count}" for name, count in _counts(r).items())
            requests = "" if r.sync.requests is None else f" requests={r.sync.requests}"
            deleted = f" deleted={r.sync.deleted}" if r.sync.deleted else ""
            partial = _partial(r)
            say(
                f"{'partial' if partial else 'ok':<7} {r.client} ({r.store}): {counts} rejected={r.sync.rejected}{deleted}{requests} "
                f"{r.sync.duration:.1f}s" + (f"\n        {partial}" if partial else "")
            )
        else:
            say(f"FAILED  {r.client} ({r.store}): {r.error}")
    say(line)
