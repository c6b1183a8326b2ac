"""``winback schedule``: print a crontab line and a systemd service + timer that run ``winback run``."""

from __future__ import annotations

import os
import shutil
import sys
import tomllib
from pathlib import Path

import click
from pydantic import ValidationError

from winback.config import SECRETS_SUFFIX, ScheduleSection
from winback.errors import ConfigError
from winback.scheduling import (
    crontab_line,
    dispatch_job,
    every_to_cron,
    plan_jobs,
    systemd_service,
    systemd_timer,
    worker_service,
)


@click.command()
@click.option(
    "--config-dir",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Directory of client configs the scheduled job runs.",
)
@click.option(
    "--every",
    default="1h",
    show_default=True,
    help="Interval for configs without [schedule] cron: 15m, 30m, 1h, 6h, 1d ...",
)
@click.option("--user", help="Run as this user: /etc/cron.d line and system units with User=.")
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the crontab job appends its output and keeps its lock file; default: the config dir.",
)
@click.option(
    "--workers", is_flag=True,
    help="For Celery workers: a periodic `winback dispatch` (crontab line, service + timer) and a "
         "winback-worker.service, instead of `winback run` jobs.",
)
def schedule(config_dir: Path, every: str, user: str | None, log_dir: Path | None, workers: bool) -> None:
    """Print a crontab line and a systemd winback.service + winback.timer pair.

    Each config's [schedule] cron is used when set, else --every. When all configs share one
    schedule, one job runs the whole directory; otherwise each config gets its own job.
    Nothing is installed: paste the output where it says.
    """
    try:
        default_cron = every_to_cron(every)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--every") from None
    config_dir = config_dir.resolve()
    crons = _read_crons(config_dir)
    log_dir = (log_dir or config_dir).resolve()
    if workers:
        _print_workers(config_dir, crons, default_cron, user, log_dir)
        return
    jobs = plan_jobs(_winback_command(), config_dir, crons, default_cron)

    units = "/etc/systemd/system" if user else "~/.config/systemd/user"
    systemctl = "systemctl" if user else "systemctl --user"
    crontab = "/etc/cron.d/winback (user column included)" if user else "crontab -e"
    click.echo(f"# --- crontab: add with {crontab} ---")
    click.echo("# The configs' ${VAR} references must be set for cron too: define them at the top of the")
    click.echo("# crontab or keep them in each config's secrets_file.")
    for job in jobs:
        lock = log_dir / f".{job.name}.lock"
        log = log_dir / f"{job.name}.log"
        click.echo(crontab_line(job, lock=lock, log=log, user=user))
    for job in jobs:
        click.echo(f"\n# --- {units}/{job.name}.service ---")
        click.echo(systemd_service(job, user=user, workdir=config_dir), nl=False)
        click.echo(f"\n# --- {units}/{job.name}.timer ---")
        click.echo(systemd_timer(job), nl=False)
    names = " ".join(f"{job.name}.timer" for job in jobs)
    click.echo(f"\n# Then: {systemctl} daemon-reload && {systemctl} enable --now {names}")


def _print_workers(config_dir: Path, crons: list[tuple[Path, str | None]], default_cron: str,
                   user: str | None, log_dir: Path) -> None:
    """The dispatch job (one machine) and the worker unit (every worker machine)."""
    job, note = dispatch_job(_winback_command(), config_dir, crons, default_cron)
    units = "/etc/systemd/system" if user else "~/.config/systemd/user"
    systemctl = "systemctl" if user else "systemctl --user"
    if note:
        click.echo(f"# NOTE: {note}")
    click.echo("# --- on ONE machine: a periodic dispatch (crontab line, or the service + timer below) ---")
    click.echo(crontab_line(job, lock=log_dir / f".{job.name}.lock", log=log_dir / f"{job.name}.log", user=user))
    click.echo(f"\n# --- {units}/{job.name}.service ---")
    click.echo(systemd_service(job, user=user, workdir=config_dir), nl=False)
    click.echo(f"\n# --- {units}/{job.name}.timer ---")
    click.echo(systemd_timer(job), nl=False)
    click.echo(f"\n# --- on EVERY worker machine: {units}/winback-worker.service ---")
    click.echo("# The config folder must be mounted at the same path on every worker machine.")
    click.echo(worker_service(_winback_command(), config_dir, user=user), nl=False)
    click.echo(f"\n# Then: {systemctl} daemon-reload && {systemctl} enable --now {job.name}.timer (dispatching "
               f"machine) and {systemctl} enable --now winback-worker.service (each worker machine)")


def _read_crons(config_dir: Path) -> list[tuple[Path, str | None]]:
    """Each config's ``[schedule] cron``, read without expanding secrets (they need not be set here)."""
    found: list[tuple[Path, str | None]] = []
    for path in sorted(config_dir.glob("*.toml")):
        if path.name.endswith(SECRETS_SUFFIX) or not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot be read as TOML ({exc}): run `winback check --config {path}`", path=str(path)) from None
        table = data.get("schedule", {})
        try:
            section = ScheduleSection.model_validate(table)
        except ValidationError as exc:
            problem = exc.errors(include_url=False)[0]
            message = str(problem["msg"]).removeprefix("Value error, ")
            raise ConfigError(message, path=str(path), key="schedule." + ".".join(map(str, problem["loc"]))) from None
        found.append((path, section.cron))
    if not found:
        raise ConfigError("holds no client configs (*.toml)", path=str(config_dir))
    return found


def _winback_command() -> tuple[str, ...]:
    """The absolute path of the ``winback`` being run (or ``python -m winback.cli.main``)."""
    invoked = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if invoked is not None and invoked.name == "winback" and invoked.is_file():
        return (str(invoked.absolute()),)
    beside = Path(sys.executable).parent / "winback"
    if beside.is_file() and os.access(beside, os.X_OK):
        return (str(beside.absolute()),)
    found = shutil.which("winback")
    if found:
        return (str(Path(found).absolute()),)
    return (str(Path(sys.executable).absolute()), "-m", "winback.cli.main")
