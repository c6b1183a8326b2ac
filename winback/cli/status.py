"""``winback status``: what the local database knows about each client's store."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import click

from winback.cli._common import cell, config_options, load_configs, rich_stdout, say
from winback.config import ClientConfig
from winback.display import printable
from winback.errors import LocalStoreMissingError, WinbackError
from winback.workers.runs import last_run
from winback.clients import StorePool, client_status
from winback.rules.engine import action_status
from winback.sync import feedback


@click.command()
@config_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per client.")
@click.option("--queue", default="winback", show_default=True,
              help="The workers' queue whose depth is shown (when a broker is configured).")
@click.pass_context
def status(ctx: click.Context, config: Path | None, config_dir: Path | None, as_json: bool, queue: str) -> None:
    """Last sync times, cursors, record counts and last error of each client's store; with
    workers, each client's last run (worker, start, end, outcome) and the queue's depth."""
    configs, problems = load_configs(config, config_dir)
    statuses = asyncio.run(_collect(configs))
    queue_line = _queue_line(configs, queue)
    if as_json:
        click.echo(json.dumps(statuses, indent=2, ensure_ascii=False))
    elif rich_stdout():
        _table(statuses)
    else:
        for entry in statuses:
            for line in _plain(entry).splitlines():
                say(line)
    if queue_line:
        if as_json:
            click.echo(queue_line, err=True)
        else:
            say(queue_line)
    if problems:
        ctx.exit(2)


async def _collect(configs: list[ClientConfig]) -> list[dict[str, Any]]:
    pool = StorePool()
    try:
        statuses = []
        for config in configs:
            try:
                store = await pool.get(config.database.url, create=False)
            except LocalStoreMissingError:
                statuses.append(client_status(config, None))
                continue
            entry = await asyncio.to_thread(client_status, config, store)
            entry["actions"] = await asyncio.to_thread(action_status, store, entry["store_key"])
            entry["last_run"] = await asyncio.to_thread(last_run, store, entry["store_key"])
            entry["feedback"] = await asyncio.to_thread(feedback.status_entry, store, entry["store_key"])
            statuses.append(entry)
        return statuses
    finally:
        await asyncio.to_thread(pool.close)


def _plain(entry: dict[str, Any]) -> str:
    counts = ", ".join(f"{name} {count}" for name, count in entry["counts"].items())
    cursors = ", ".join(f"{name} {c['cursor'] or '-'}" for name, c in entry["cursors"].items()) or "-"
    lines = [
        f"{entry['client']} ({entry['store_key']})",
        f"  last sync: started {entry['last_sync_started'] or 'never'}, finished {entry['last_sync_finished'] or 'never'}",
        f"  cursors: {cursors}",
        f"  counts: {counts}",
        f"  last error: {last_error(entry) or '-'}",
        *_connection_lines(entry),
        *_run_lines(entry.get("last_run")),
        *_actions_lines(entry.get("actions")),
        *_feedback_lines(entry),
    ]
    return "\n".join(lines)


def _feedback_lines(entry: dict[str, Any]) -> list[str]:
    line = feedback.status_line(entry.get("feedback"))
    return [] if line is None else [f"  {line}"]


def _connection_lines(entry: dict[str, Any]) -> list[str]:
    """The lines the rich view prints under its table: the app uninstalled, consent changes waiting."""
    lines = []
    if entry.get("disconnected_at"):
        lines.append(f"  disconnected: app uninstalled {_short(entry['disconnected_at'])}")
    if entry.get("consent_pending"):
        lines.append(f"  consent pending: {entry['consent_pending']} change(s) for the platform "
                     "(pushed by winback serve or the next run)")
    return lines


def _run_lines(run: dict[str, Any] | None) -> list[str]:
    """``last worker run: ok on w1@host, 09:20:31 → 09:21:02 UTC (task ...)`` when a worker ran it."""
    if not run:
        return []
    line = (f"  last worker run: {run['outcome']} on {run['worker'] or '?'}, started {run['started']}, "
            f"finished {run['finished'] or '-'} (task {run['task_id']}, attempt {run['attempt'] + 1})")
    return [line] + ([f"    {run['error']}"] if run["error"] else [])


def _queue_line(configs: list[ClientConfig], queue: str) -> str | None:
    """``queue winback on redis://...: 3 waiting``; ``None`` when no broker is configured (cron only)."""
    from winback.errors import ConfigError

    if not os.environ.get("WINBACK_BROKER") and not any(c.workers.broker for c in configs):
        return None
    try:
        from winback.workers import WorkerSettings, create_app, queue_depth, resolve_broker

        settings = WorkerSettings(broker=resolve_broker(configs), queue=queue)
        depth = queue_depth(create_app(settings), settings)
    except ModuleNotFoundError:
        return "queue: unknown (Celery is not installed: pip install 'winback[workers]')"
    except (ConfigError, WinbackError) as exc:
        return f"queue {queue}: unknown ({exc})"
    return f"queue {queue} on {settings.broker_label}: {depth} waiting"


def last_error(entry: dict[str, Any]) -> str | None:
    """The sync's last error and the actions failed since (the latest one's message), together."""
    parts = [f"sync: {entry['last_error']}"] if entry["last_error"] else []
    failure = (entry.get("actions") or {}).get("last_failure")
    if failure:
        count = failure["count"]
        parts.append(
            f"{count} action{'s' if count != 1 else ''} failed (tried again next run); the latest, "
            f"{failure['rule']} at {_short(failure['updated_at'])}: {failure['error']}"
        )
    return "; ".join(parts) or None


def _actions_lines(actions: dict[str, Any] | None) -> list[str]:
    """The ledger part: ``actions: rule done 12, failed 1`` and one line per action needing review."""
    if not actions:
        return []
    per_rule = [
        f"{rule} " + ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))
        for rule, counts in sorted(actions["counts"].items())
    ]
    lines = [f"  actions: {'; '.join(per_rule) or '-'}"]
    for item in actions["needs_review"]:
        lines.append(f"  NEEDS REVIEW: {item['rule']} to {item['email']}: {item['why'] or 'interrupted'}")
    if actions["needs_review"]:
        lines.append("  settle each with `winback review delivered|resend KEY --config ...` (`winback review list` shows the keys)")
    return lines


def _table(statuses: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="winback status")
    table.add_column("client")
    table.add_column("store", no_wrap=True)
    for column in ("last sync finished", "cursors", "customers", "orders", "products",
                   "buyers", "quarantined", "last error"):
        table.add_column(column)
    for entry in statuses:
        counts = entry["counts"]
        table.add_row(
            cell(entry["client"]),
            cell(entry["store_key"]),
            _short(entry["last_sync_finished"]) or "never",
            "\n".join(f"{name}: {_short(c['cursor']) or '-'}" for name, c in entry["cursors"].items()) or "-",
            *(str(counts[name]) for name in ("customers", "orders", "products", "buyers", "quarantined")),
            cell(last_error(entry) or ""),
        )
    Console().print(table)
    for entry in statuses:
        if entry.get("disconnected_at"):
            Console().print(printable(f"{entry['client']}: disconnected (app uninstalled {_short(entry['disconnected_at'])})"),
                            markup=False, highlight=False)
        if entry.get("consent_pending"):
            Console().print(printable(f"{entry['client']}: {entry['consent_pending']} consent change(s) pending "
                                      "for the platform (pushed by winback serve or the next run)"),
                            markup=False, highlight=False)
        for line in [*_actions_lines(entry.get("actions")), *_run_lines(entry.get("last_run")), *_feedback_lines(entry)]:
            Console().print(printable(f"{entry['client']}:{line}"), markup=False, highlight=False)


def _short(stamp: str | None) -> str | None:
    """``2026-11-24T09:20:31.123+00:00`` → ``2026-11-24 09:20 UTC`` for the table."""
    return None if stamp is None else f"{stamp[:16].replace('T', ' ')} UTC"
