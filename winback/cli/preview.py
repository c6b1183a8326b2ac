"""``winback preview``: the email a rule would send one customer, as an HTML page."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from winback.cli._common import load_client
from winback.rules.engine import preview_email


class _PreviewCommand(click.Command):
    """Lists the installed rules at the end of ``--help``, found when the help is shown (plugins
    included), not when the command is imported."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from winback.rules.registry import available_rules

        names = available_rules()
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(f"Installed rules (RULE): {', '.join(names) if names else 'none'}")
        super().format_epilog(ctx, formatter)


@click.command(cls=_PreviewCommand)
@click.argument("rule")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The client's TOML config.")
@click.option("--customer", "email", required=True, help="The customer's email address.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the page here instead of stdout.")
@click.option("--step", type=click.IntRange(min=1), help="For a rule with steps: render step N (1 is the first) "
              "for the customer's current lapse, whether or not it is due.")
def preview(rule: str, config: Path, email: str, output: Path | None, step: int | None) -> None:
    """Render RULE's email to one customer (subject, HTML and text) without sending or creating anything.

    A customer the rule already acted on is shown the email from the ledger's record of that
    action (the code created then), rendered with today's templates.
    """
    from winback.notify import render_preview_html

    client = load_client(config)
    result = asyncio.run(preview_email(client, rule, email, step=step))
    page = render_preview_html(result.rendered, title=f"{rule} → {email}: {result.rendered.subject}")
    if output is None:
        click.echo(page)
    else:
        output.write_text(page, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    click.echo(f"reason: {result.reason}", err=True)
    if result.recorded:
        click.secho(f"note: {result.recorded}", fg="yellow", err=True)
    if result.held:
        click.secho(f"note: `winback run` would hold this now ({result.held})", fg="yellow", err=True)
