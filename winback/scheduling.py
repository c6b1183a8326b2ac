"""Turn a schedule into a crontab line and a systemd service + timer pair.

Pure functions from data to text: nothing here reads the environment or writes a file, so the
``winback schedule`` command and its tests see exactly what a merchant would paste.

Cron expressions are converted to systemd ``OnCalendar=`` for the forms people actually write:
numbers, ``*``, ``*/N``, ``a-b``, ``a-b/N`` and lists in every field, month and weekday names.
What has no faithful equivalent (day-of-month *and* day-of-week both restricted, which cron ORs
and systemd ANDs; ``L``, ``W``, ``#``, ``?``) raises :class:`UnsupportedCron`;
:func:`calendar_for` then falls back to hourly and says why in a comment.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

DEFAULT_MINUTE = 17
"""Minute past the hour for ``--every`` schedules: off the :00 rush every other job joins."""
HOURLY_CRON = f"{DEFAULT_MINUTE} * * * *"
HOURLY_CALENDAR = f"*-*-* *:{DEFAULT_MINUTE:02d}:00"
RANDOMIZED_DELAY = "60s"

_EVERY = re.compile(r"^\s*(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?)\s*$", re.IGNORECASE)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_SYSTEMD_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


class UnsupportedCron(ValueError):
    """The cron expression has no faithful ``OnCalendar=`` equivalent; the message says why."""


# --- --every -----------------------------------------------------------------------------------


def every_to_cron(every: str) -> str:
    """``15m`` → ``*/15 * * * *``, ``1h`` → ``17 * * * *``, ``6h`` → ``17 */6 * * *``, ``1d`` → ``17 3 * * *``.

    Raises ``ValueError`` for intervals cron cannot repeat evenly (e.g. ``7m``, ``5h``, ``2d``).
    """
    match = _EVERY.match(every)
    if not match:
        raise ValueError(f"--every {every!r}: give minutes, hours or a day, e.g. 15m, 1h, 6h, 1d")
    count, unit = int(match.group(1)), match.group(2)[0].lower()
    if count <= 0:
        raise ValueError(f"--every {every!r} must be positive")
    if unit == "m":
        if count % 60 == 0:
            return every_to_cron(f"{count // 60}h")
        if 60 % count:
            raise ValueError(f"--every {every!r}: minutes must divide the hour evenly (5m, 10m, 15m, 20m, 30m)")
        return f"*/{count} * * * *"
    if unit == "h":
        if count == 24:
            return every_to_cron("1d")
        if 24 % count:
            raise ValueError(f"--every {every!r}: hours must divide the day evenly (1h, 2h, 3h, 4h, 6h, 8h, 12h)")
        return HOURLY_CRON if count == 1 else f"{DEFAULT_MINUTE} */{count} * * *"
    if count != 1:
        raise ValueError(f"--every {every!r}: at most once a day (1d); use [schedule] cron for other calendars")
    return f"{DEFAULT_MINUTE} 3 * * *"


# --- cron → OnCalendar -------------------------------------------------------------------------


def _value(token: str, low: int, high: int, names: Sequence[str] | None, field: str) -> int:
    lowered = token.lower()
    if names is not None and lowered[:3] in names and len(lowered) >= 3:
        return names.index(lowered[:3]) + (1 if names is _MONTHS else 0)
    if not token.isdigit():
        raise UnsupportedCron(f"the {field} field uses {token!r}, which has no systemd calendar equivalent")
    number = int(token)
    if field == "day-of-week" and number == 7:
        number = 0
    if not low <= number <= high:
        raise UnsupportedCron(f"the {field} value {number} is outside {low}-{high}")
    return number


def _expand(text: str, low: int, high: int, names: Sequence[str] | None, field: str) -> list[int] | None:
    """The values a cron field matches, sorted; ``None`` for ``*`` (every value)."""
    if text in ("*", "*/1"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        if step_text and not step_text.isdigit() or step_text == "0":
            raise UnsupportedCron(f"the {field} field has an invalid step in {part!r}")
        step = int(step_text) if step_text else 1
        if base == "*":
            start, stop = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start = _value(first, low, high, names, field)
            stop = _value(last, low, high, names, field)
            if field == "day-of-week" and last == "7":
                stop = 6
                values.add(0)
            if stop < start:
                raise UnsupportedCron(f"the {field} range {base!r} runs backwards")
        else:
            start = _value(base, low, high, names, field)
            stop = high if step_text else start
        values.update(range(start, stop + 1, step))
    if values == set(range(low, high + 1)):
        return None
    return sorted(values)


def _calendar_field(values: list[int] | None, low: int, high: int) -> str:
    if values is None:
        return "*"
    if len(values) > 2:
        step = values[1] - values[0]
        progression = all(b - a == step for a, b in pairwise(values))
        if progression and values[0] < step and values[-1] + step > high:
            return f"{values[0]:02d}/{step}"
    return ",".join(_runs(values, lambda v: f"{v:02d}"))


def _runs(values: list[int], show: Callable[[int], str]) -> list[str]:
    """``[8, 9, 10, 11, 14]`` → ``["08..11", "14"]``: consecutive runs of three or more as ranges."""
    parts: list[str] = []
    start = 0
    for index in range(1, len(values) + 1):
        if index == len(values) or values[index] != values[index - 1] + 1:
            run = values[start:index]
            parts += [f"{show(run[0])}..{show(run[-1])}"] if len(run) >= 3 else [show(v) for v in run]
            start = index
    return parts


def cron_to_oncalendar(cron: str) -> str:
    """A five-field cron expression as a systemd ``OnCalendar=`` value.

    ``17 * * * *`` → ``*-*-* *:17:00``; ``*/15 8-18 * * mon-fri`` → ``Mon..Fri`` style lists.
    Raises :class:`UnsupportedCron` when there is no faithful equivalent.
    """
    fields = cron.split()
    if len(fields) != 5:
        raise UnsupportedCron(f"{cron!r} does not have 5 fields (minute hour day-of-month month day-of-week)")
    minute, hour, dom, month, dow = fields
    minutes = _expand(minute, 0, 59, None, "minute")
    hours = _expand(hour, 0, 23, None, "hour")
    days = _expand(dom, 1, 31, None, "day-of-month")
    months = _expand(month, 1, 12, _MONTHS, "month")
    weekdays = _expand(dow, 0, 6, _DAYS, "day-of-week")
    if days is not None and weekdays is not None:
        raise UnsupportedCron(
            "both day-of-month and day-of-week are restricted: cron runs when either matches, "
            "systemd only when both do"
        )
    date = f"*-{_calendar_field(months, 1, 12)}-{_calendar_field(days, 1, 31)}"
    time = f"{_calendar_field(hours, 0, 23)}:{_calendar_field(minutes, 0, 59)}:00"
    prefix = "" if weekdays is None else ",".join(_runs(weekdays, _SYSTEMD_DAYS.__getitem__)) + " "
    return f"{prefix}{date} {time}"


def calendar_for(cron: str) -> tuple[str, str | None]:
    """``(OnCalendar value, None)``, or the hourly fallback and a comment saying why."""
    try:
        return cron_to_oncalendar(cron), None
    except UnsupportedCron as exc:
        return HOURLY_CALENDAR, (
            f"cron {cron!r} has no systemd equivalent ({exc}); this timer runs hourly instead: "
            "edit OnCalendar= (see `man systemd.time`) or use the crontab line"
        )


# --- jobs and their text -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Job:
    """One scheduled invocation of ``winback run``."""

    name: str
    """Unit name stem (``winback``, ``winback-acme``) and lock/log file stem."""
    cron: str
    command: tuple[str, ...]
    """The full argv, executable first."""
    clients: tuple[str, ...]
    """The config files this job covers (for comments)."""


def plan_jobs(
    winback: Sequence[str],
    config_dir: Path,
    config_crons: Sequence[tuple[Path, str | None]],
    default_cron: str,
) -> list[Job]:
    """One job for the whole directory when every config agrees on the schedule, else one per config.

    ``config_crons`` is each config file with its ``[schedule] cron`` (``None``: use ``default_cron``).
    ``--quiet`` is an option of the ``winback`` group, so it comes before ``run``.
    """
    effective = [(path, cron or default_cron) for path, cron in config_crons]
    crons = {cron for _, cron in effective}
    if len(crons) <= 1:
        cron = next(iter(crons), default_cron)
        command = (*winback, "--quiet", "run", "--config-dir", str(config_dir))
        return [Job("winback", cron, command, tuple(str(path) for path, _ in effective))]
    jobs = []
    for path, cron in effective:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-") or "client"
        command = (*winback, "--quiet", "run", "--config", str(path))
        jobs.append(Job(f"winback-{stem}", cron, command, (str(path),)))
    return jobs


def _cron_escape(text: str) -> str:
    return text.replace("%", r"\%")


def crontab_line(job: Job, *, lock: Path, log: Path, user: str | None = None) -> str:
    """``17 * * * * [user] flock -n LOCK winback run ... >> LOG 2>&1``.

    ``flock -n`` skips a run while the previous one still holds the lock. With ``user`` the line
    has the user column of ``/etc/cron.d`` files; without it, it is for ``crontab -e``.
    """
    command = " ".join(shlex.quote(part) for part in ("flock", "-n", str(lock), *job.command))
    who = f" {user}" if user else ""
    return _cron_escape(f"{job.cron}{who} {command} >> {shlex.quote(str(log))} 2>&1")


def _systemd_quote(part: str) -> str:
    escaped = part.replace("%", "%%")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_service(job: Job, *, user: str | None = None, workdir: Path | None = None) -> str:
    """The ``Type=oneshot`` service a timer starts; systemd never starts it twice at once."""
    lines = [
        "[Unit]",
        f"Description=winback: sync stores and run win-back rules ({', '.join(Path(c).name for c in job.clients) or 'no clients'})",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=oneshot",
    ]
    if user:
        lines.append(f"User={user}")
    if workdir is not None:
        lines.append(f"WorkingDirectory={_systemd_quote(str(workdir))}")
    lines += [
        "# The configs' ${VAR} references must be set here, e.g. from a file only this user can read:",
        "# EnvironmentFile=/etc/winback/winback.env",
        f"ExecStart={' '.join(_systemd_quote(part) for part in job.command)}",
        "Nice=10",
        "",
    ]
    return "\n".join(lines)


def systemd_timer(job: Job, *, randomized_delay: str = RANDOMIZED_DELAY) -> str:
    """The timer: ``OnCalendar=`` from the job's cron, catch-up after downtime, a little jitter."""
    calendar, note = calendar_for(job.cron)
    lines = ["[Unit]", f"Description=Run {job.name}.service on schedule (cron: {job.cron})", "", "[Timer]"]
    if note:
        lines.append(f"# {note}")
    lines += [
        f"OnCalendar={calendar}",
        "Persistent=true",
        f"RandomizedDelaySec={randomized_delay}",
        f"Unit={job.name}.service",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ]
    return "\n".join(lines)


# --- workers: a periodic dispatch and the worker service -------------------------------------


def dispatch_job(winback: Sequence[str], config_dir: Path, config_crons: Sequence[tuple[Path, str | None]],
                 default_cron: str) -> tuple[Job, str | None]:
    """The one periodic ``winback dispatch`` of a worker deployment, and a note when the configs'
    ``[schedule] cron`` values differ (one dispatch sends every client, so ``default_cron`` is used)."""
    crons = {cron or default_cron for _, cron in config_crons}
    cron = next(iter(crons)) if len(crons) == 1 else default_cron
    note = None if len(crons) <= 1 else (
        f"the configs ask for different schedules ({', '.join(sorted(crons))}); one dispatch sends every "
        f"client, so it runs on --every ({default_cron}); split the clients into directories to differ"
    )
    command = (*winback, "--quiet", "dispatch", "--config-dir", str(config_dir))
    return Job("winback-dispatch", cron, command, tuple(str(path) for path, _ in config_crons)), note


def worker_service(winback: Sequence[str], config_dir: Path, *, user: str | None = None, concurrency: int = 2) -> str:
    """A long-running ``winback worker`` unit, restarted if it dies; SIGTERM lets runs finish."""
    command = (*winback, "--json-log", "worker", "--config-dir", str(config_dir), "--concurrency", str(concurrency),
               "--hostname", "winback@%H")
    lines = [
        "[Unit]",
        "Description=winback worker: client runs sent by winback dispatch",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
    ]
    if user:
        lines.append(f"User={user}")
    lines += [
        "# The configs' ${VAR} references (and WINBACK_BROKER, if set) from a file only this user can read:",
        "# EnvironmentFile=/etc/winback/winback.env",
        f"ExecStart={' '.join(_systemd_quote(part).replace('%%H', '%H') for part in command)}",
        "Restart=always",
        "RestartSec=5",
        "KillMode=mixed",
        "TimeoutStopSec=3700",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)
