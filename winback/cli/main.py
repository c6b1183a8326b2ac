"""The ``winback`` command: parse arguments, call the layers below, print.

No business logic lives here; each command is a thin wrapper so the same operations are usable from
Python. Errors derived from :class:`winback.errors.WinbackError` are printed as one clear line and
turn into exit code 1 (2 for configuration errors, like click's own usage errors).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from winback import __version__
from winback.display import printable
from winback.errors import ConfigError, WinbackError
from winback.logging_setup import configure_logging


INTERRUPTED = (
    "interrupted: nothing done so far is lost. Every page committed before the interrupt is kept and "
    "the next sync resumes from the saved cursors; every action is in the ledger, so the next run "
    "never repeats one (an email cut off mid-send waits for `winback review`)."
)


class _Group(click.Group):
    """Turns WinbackError into a clean message instead of a traceback, and Ctrl-C into a word on
    what was kept (exit status 130, as shells report SIGINT) instead of click's bare ``Aborted!``."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.secho(f"\n{INTERRUPTED}", fg="yellow", err=True)
            ctx.exit(130)
        except ConfigError as exc:
            click.secho(f"error: {printable(exc)}", fg="red", err=True)
            ctx.exit(2)
        except WinbackError as exc:
            click.secho(f"error: {printable(exc)}", fg="red", err=True)
            ctx.exit(1)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="winback")
@click.option("--json-log", is_flag=True, help="Log JSON lines instead of human-readable lines.")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors.")
@click.option("--verbose", "-v", is_flag=True, help="Debug logging (secrets are still redacted).")
@click.pass_context
def cli(ctx: click.Context, json_log: bool, quiet: bool, verbose: bool) -> None:
    """Bring online-store customers back: sync Shopify and Ecwid stores and run win-back rules."""
    configure_logging(json_log=json_log, quiet=quiet, verbose=verbose)
    ctx.ensure_object(dict)
    ctx.obj["quiet"] = quiet


@cli.command()
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("winback-demo"),
    show_default=True,
    help="Where the demo writes its database and outputs.",
)
@click.option("--customers", default=2000, show_default=True, help="Customers per emulated store.")
@click.option("--seed", default=1, show_default=True, help="Seed of the emulated stores' data.")
@click.option("--serve", "with_serve", is_flag=True,
              help="Then show winback serve: a webhook landing an order change, an unsubscribe flowing back.")
def demo(workdir: Path, customers: int, seed: int, with_serve: bool) -> None:
    """Run the whole job against built-in Shopify and Ecwid emulators (no credentials, no network)."""
    from winback.demo import run_demo

    summary = asyncio.run(run_demo(workdir, customers=customers, seed=seed))
    click.echo(summary.render())
    if with_serve:
        from winback.demo_serve import run_serve_demo

        click.echo("\nwinback serve:")
        for line in asyncio.run(run_serve_demo(workdir, seed=seed)):
            click.echo(f"  {line}")


from winback.cli.export import export  # noqa: E402  (commands register after the group exists)
from winback.cli.check import check  # noqa: E402
from winback.cli.init import init  # noqa: E402
from winback.cli.plan import plan  # noqa: E402
from winback.cli.preview import preview  # noqa: E402
from winback.cli.review import review  # noqa: E402
from winback.cli.run import run  # noqa: E402
from winback.cli.schedule import schedule  # noqa: E402
from winback.cli.status import status  # noqa: E402
from winback.cli.suppress import suppress  # noqa: E402
from winback.cli.sync import sync  # noqa: E402
from winback.cli.connect import connect  # noqa: E402
from winback.cli.serve import serve, webhooks  # noqa: E402
from winback.cli.report import report  # noqa: E402
from winback.cli.workers import dispatch, worker  # noqa: E402

cli.add_command(sync)
cli.add_command(status)
cli.add_command(export)
cli.add_command(plan)
cli.add_command(run)
cli.add_command(preview)
cli.add_command(suppress)
cli.add_command(review)
cli.add_command(schedule)
cli.add_command(init)
cli.add_command(check)
cli.add_command(connect)
cli.add_command(serve)
cli.add_command(webhooks)
cli.add_command(report)
cli.add_command(worker)
cli.add_command(dispatch)


def main() -> None:
    cli(prog_name="winback")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
