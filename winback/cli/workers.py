"""``winback worker`` and ``winback dispatch``: client runs on Celery workers (see winback.workers)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from winback.cli._common import say

if TYPE_CHECKING:
    from winback.workers.settings import DispatchEntry

DEFAULT_QUEUE = "winback"
"""winback.workers.DEFAULT_QUEUE, repeated so that `winback --help` does not import Celery."""
LOG_LEVELS = ("debug", "info", "warning", "error")


def _queue_option(command):  # type: ignore[no-untyped-def]
    return click.option("--queue", default=DEFAULT_QUEUE, show_default=True,
                        help="The broker queue the tasks go through.")(command)


def _configs(config_dir: Path | None) -> list[DispatchEntry]:
    """The configs' broker settings, read without their secrets (a worker expands those per task)."""
    from winback.workers.settings import read_for_dispatch

    return read_for_dispatch(config_dir)[0] if config_dir is not None else []


@click.command()
@click.option("--config-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Read the broker from these configs' [workers] broker (WINBACK_BROKER wins).")
@_queue_option
@click.option("--concurrency", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Client runs at once (worker processes); one per core is a good start.")
@click.option("--loglevel", type=click.Choice(LOG_LEVELS), default="info", show_default=True)
@click.option("--time-limit", type=click.FloatRange(min=1), default=3600.0, show_default=True,
              help="Hard limit of one client run in seconds; a soft limit (10%, at most 60 s, earlier) ends it as a failure.")
@click.option("--max-retries", type=click.IntRange(0, 20), default=3, show_default=True,
              help="Retries of a failed client run before it is reported as failed.")
@click.option("--retry-backoff", type=click.IntRange(1), default=60, show_default=True,
              help="Seconds before the first retry; each next retry waits twice as long.")
@click.option("--retry-backoff-max", type=click.IntRange(1), default=900, show_default=True)
@click.option("--hostname", default="winback@%h", show_default=True, help="The worker's name (%h: this host).")
@click.option("--pool", type=click.Choice(["prefork", "solo", "threads"]), default="prefork", show_default=True)
@click.option("--restore-interval", type=click.IntRange(1), default=30, show_default=True, hidden=True)
def worker(config_dir: Path | None, queue: str, concurrency: int, loglevel: str, time_limit: float,
           max_retries: int, retry_backoff: int, retry_backoff_max: int, hostname: str, pool: str,
           restore_interval: int) -> None:
    """Run a Celery worker that carries out client runs sent by `winback dispatch`.

    Each task is one client's `winback run` (sync, plan, act). The worker reads the client's config
    and secrets from the shared config folder named in the task (same path on every machine). Stop
    it with SIGTERM (it finishes its runs first); a killed worker's runs go to another worker.
    """
    import logging

    from celery.signals import setup_logging

    from winback.workers import WorkerSettings, create_app, resolve_broker
    from winback.workers.context import install_filter

    settings = WorkerSettings(
        broker=resolve_broker(_configs(config_dir)), queue=queue, time_limit=time_limit, max_retries=max_retries,
        retry_backoff=retry_backoff, retry_backoff_max=retry_backoff_max, restore_interval=restore_interval,
    )
    setup_logging.connect(lambda **_: None, weak=False)  # keep winback's handlers (--json-log) as they are
    install_filter()
    logging.getLogger().setLevel(loglevel.upper())
    logging.getLogger(__name__).info(
        "worker %s on %s, queue %s, %d at once, time limit %.0f s",
        hostname, settings.broker_label, queue, concurrency, time_limit,
    )
    app = create_app(settings)
    app.worker_main([
        "worker", f"--concurrency={concurrency}", f"--queues={queue}", f"--loglevel={loglevel.upper()}",
        f"--hostname={hostname}", f"--pool={pool}", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ])


@click.command()
@click.option("--config-dir", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Directory of client configs: one task per client.")
@_queue_option
@click.pass_context
def dispatch(ctx: click.Context, config_dir: Path, queue: str) -> None:
    """Send one task per client to the workers (the periodic job of a worker deployment).

    A task carries the config file's path and the client's name, never a secret; the configs are
    read without expanding their secrets (only the workers hold them). A client whose
    store is SQLite is refused (workers need a shared PostgreSQL database); the others are sent.
    Exit status: 0 all sent, 1 some refused, 2 config errors.
    """
    from winback.workers import WorkerSettings, create_app, dispatch_clients, resolve_broker
    from winback.workers.settings import read_for_dispatch

    configs, problems = read_for_dispatch(config_dir)
    for problem in problems:
        click.secho(f"error: {problem}", fg="red", err=True)
    settings = WorkerSettings(broker=resolve_broker(configs), queue=queue)
    sent = dispatch_clients(create_app(settings), settings, configs)
    for item in sent:
        if item.error:
            click.secho(f"error: {item.error}", fg="red", err=True)
        else:
            say(f"sent {item.client}: task {item.task_id}")
    refused = [item for item in sent if item.error]
    say(f"{len(sent) - len(refused)} of {len(sent) + len(problems)} clients sent to queue {queue} "
        f"on {settings.broker_label}" + (f"; {len(refused)} refused" if refused else "")
        + (f"; {len(problems)} config errors" if problems else ""))
    if problems:
        ctx.exit(2)
    if refused:
        ctx.exit(1)
