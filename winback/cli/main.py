"""The ``winback`` command: parse arguments, call the layers below, print.

No business logic lives here; each command is a thin wrapper so the same operations are usable from
Python. Errors derived from :class:`winback.errors.WinbackError` are printed as one clear line and
turn into exit code 1 (2 for configuration errors, like click's own usage errors).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from winback import __version__
from winback.display import printable
from winback.errors import ConfigError, WinbackError
from winback.logging_setup import configure_logging
from winback.cli.lazy import LazyCommand, LazyGroup


INTERRUPTED = (
    "interrupted: nothing done so far is lost. Every page committed before the interrupt is kept and "
    "the next sync resumes from the saved cursors; every action is in the ledger, so the next run "
    "never repeats one (an email cut off mid-send waits for `winback review`)."
)


COMMANDS: dict[str, LazyCommand] = {
    "check": LazyCommand(
        "winback.cli.check:check",
        "Check each client: config, store connection, access scopes, capabilities, email, database.",
    ),
    "connect": LazyCommand(
        "winback.cli.connect:connect",
        "Install the app on a client's Shopify store (authorization code grant) and save its token.",
    ),
    "dispatch": LazyCommand(
        "winback.cli.workers:dispatch",
        "Send one task per client to the workers (the periodic job of a worker deployment).",
    ),
    "export": LazyCommand(
        "winback.cli.export:export",
        "Export RESOURCE (customers, orders or products) of one client's store from the local database.",
    ),
    "init": LazyCommand(
        "winback.cli.init:init",
        "Write a commented starter config for one store to PATH (default: <shop>.toml).",
    ),
    "plan": LazyCommand(
        "winback.cli.plan:plan",
        "Show the actions the rules would take and each one the guard rails hold back: who, why and, when the "
        "guard knows, until when (quiet hours, the per-customer cap).",
    ),
    "preview": LazyCommand(
        "winback.cli.preview:preview",
        "Render RULE's email to one customer (subject, HTML and text) without sending or creating anything.",
    ),
    "report": LazyCommand(
        "winback.cli.report:report",
        "What came back: store health, cohorts, predicted value, and each rule's lift over its holdout.",
    ),
    "review": LazyCommand(
        "winback.cli.review:review",
        "List and settle actions waiting for review (interrupted sends, never resent automatically).",
    ),
    "run": LazyCommand(
        "winback.cli.run:run",
        "Sync each client's store, then run its enabled rules within the guard rails.",
    ),
    "schedule": LazyCommand(
        "winback.cli.schedule:schedule",
        "Print a crontab line and a systemd winback.service + winback.timer pair.",
    ),
    "serve": LazyCommand(
        "winback.cli.serve:serve",
        "Serve one-click unsubscribe links and the platforms' webhooks for every client in CONFIG_DIR.",
    ),
    "status": LazyCommand(
        "winback.cli.status:status",
        "Last sync times, cursors, record counts and last error of each client's store; with workers, each "
        "client's last run (worker, start, end, outcome) and the queue's depth.",
    ),
    "suppress": LazyCommand(
        "winback.cli.suppress:suppress",
        "Add, remove or list suppressed email addresses (checked before every action).",
    ),
    "sync": LazyCommand("winback.cli.sync:sync", "Sync clients' stores into their local databases."),
    "webhooks": LazyCommand(
        "winback.cli.serve:webhooks",
        "Subscribe a store's webhooks, or mark a reinstalled app connected again.",
    ),
    "worker": LazyCommand(
        "winback.cli.workers:worker",
        "Run a Celery worker that carries out client runs sent by `winback dispatch`.",
    ),
}
"""The commands imported when run or asked for their help, with the first paragraph of their help
for ``winback --help`` (see :mod:`winback.cli.lazy`; a test holds each summary to its command)."""


class _Group(LazyGroup):
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


@click.group(cls=_Group, lazy=COMMANDS)
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
    import asyncio

    from winback.demo import run_demo

    summary = asyncio.run(run_demo(workdir, customers=customers, seed=seed))
    click.echo(summary.render())
    if with_serve:
        from winback.demo_serve import run_serve_demo

        click.echo("\nwinback serve:")
        for line in asyncio.run(run_serve_demo(workdir, seed=seed)):
            click.echo(f"  {line}")


def main() -> None:
    cli(prog_name="winback")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
