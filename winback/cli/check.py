"""``winback check``: a checklist per client of what is ready and what to fix."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from winback.checks import CheckItem, ClientCheck, Status, check_clients
from winback.cli._common import config_options, load_configs, rich_stdout, say
from winback.display import printable
from winback.errors import ConfigError


@click.command()
@config_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: clients, their checks, config errors.")
@click.option("--smtp-timeout", type=click.FloatRange(0.1, 120), default=10.0, show_default=True, help="Seconds per SMTP step.")
@click.pass_context
def check(ctx: click.Context, config: Path | None, config_dir: Path | None, as_json: bool, smtp_timeout: float) -> None:
    """Check each client: config, store connection, access scopes, capabilities, email, database.

    Validates every enabled rule and renders each email it may send for a sample customer; flags
    secrets other users can read; probes the database without creating it.

    Exit status: 0 when everything passes, 1 when any check fails, 2 for config errors, invalid
    rules or templates (with --config-dir, the valid clients are still checked).
    """
    configs, problems = load_configs(config, config_dir, single_raises=False, echo=False)
    results = asyncio.run(check_clients(configs, smtp_timeout=smtp_timeout)) if configs else []
    if as_json:
        document = {
            "ok": not problems and all(r.ok for r in results),
            "clients": [r.as_dict() for r in results],
            "config_errors": [{"path": p.path, "line": p.line, "key": p.key, "message": str(p)} for p in problems],
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        fancy = rich_stdout()
        for problem in problems:
            say(_mark(Status.FAIL, fancy) + f" config  {problem}")
            click.echo("      fix: correct the file (line and key above), then run winback check again")
        for result in results:
            _print_client(result, fancy)
        ready = sum(1 for r in results if r.ok)
        total = len(results) + len(problems)
        click.echo(f"{total} client{'s' if total != 1 else ''}: {ready} ready, {total - ready} with problems")
    if problems or any(r.config_error for r in results):
        ctx.exit(2)
    if any(not r.ok for r in results):
        ctx.exit(1)


def _mark(status: Status, fancy: bool) -> str:
    if fancy:
        return {
            Status.OK: click.style("✓", fg="green"),
            Status.FAIL: click.style("✗", fg="red"),
            Status.SKIPPED: click.style("-", fg="yellow"),
        }[status]
    return {Status.OK: "ok  ", Status.FAIL: "FAIL", Status.SKIPPED: "skip"}[status]


def _print_client(result: ClientCheck, fancy: bool) -> None:
    title = f"{result.client} ({result.store}, {result.platform})"
    say(title, bold=True) if fancy else say(title)
    width = max(len(item.name) for item in result.items)
    for item in result.items:
        _print_item(item, width, fancy)


def _print_item(item: CheckItem, width: int, fancy: bool) -> None:
    click.echo(f"  {_mark(item.status, fancy)} " + printable(f"{item.name:<{width}}  {item.detail}"))
    for fix in item.fixes:
        say(f"      fix: {fix}")
