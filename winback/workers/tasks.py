"""The one task: one client run, exactly what ``winback run --config FILE`` does for that client.

The message carries the config file's path and the client's name, nothing else: the worker
reads the config (and its secrets, from its own environment or the config's ``secrets_file``)
from the shared config folder, mounted at the same path on every worker.

Outcomes, each a row of the ``runs`` table:

* ``ok``: :func:`winback.clients.run_client` finished without an error.
* ``busy``: another task holds the store's run lock (the PostgreSQL advisory lock every
  ``winback run`` takes): this one ends at once and is not retried, since the running one does
  the work and the next dispatch comes soon enough.
* ``retrying`` then ``failed``: the run reported an error that may pass by itself (a platform
  outage, a rate limit, a busy database, a time limit): Celery retries it with exponential
  back-off, then the last attempt is ``failed``. Retrying never acts twice: every side effect went
  through the ledger.
* ``failed`` at once: an error only the merchant can fix (a revoked token, a missing scope, an
  uninstalled app, a template that cannot render; :attr:`winback.errors.WinbackError.transient`
  is false): retrying would fail the same way and only delay the report.
* ``lost``: the worker died mid-run; the broker gave the task to another worker.

A config that does not load, or a SQLite store, is refused without retry (retrying cannot help).
A run stopped by the hard time limit (its process is replaced) keeps its row ``running`` until that
client's next run takes the store's lock and marks it ``lost``; the soft limit, earlier, normally
ends it as ``retrying``/``failed`` first.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from winback.clients import run_client
from winback.config import ClientConfig, load_config
from winback.errors import ClientRunFailed, WinbackError
from winback.rules.engine import client_rules
from winback.rules.locks import StoreBusyError, store_lock
from winback.sync import LocalStore, open_store
from winback.workers.context import task_context
from winback.workers.runs import RunStart, record_end, record_start
from winback.workers.settings import require_postgres

log = logging.getLogger(__name__)

TASK_NAME = "winback.run_client"

_stores: dict[str, LocalStore] = {}
"""One store per database URL per worker process (opened and migrated once, after the fork)."""


def _store(url: str) -> LocalStore:
    if url not in _stores:
        _stores[url] = open_store(url)
    return _stores[url]


def load_client_config(path: str) -> ClientConfig:
    config = load_config(Path(path))
    client_rules(config)
    return config


def execute(config_path: str, client: str, *, task_id: str | None, worker: str | None, attempt: int,
            will_retry: bool) -> dict[str, Any]:
    """Run one client; returns ``{"client", "outcome", "error"}``; raises :class:`ClientRunFailed`
    for Celery to retry (``will_retry``) or report."""
    with task_context(client=client, task_id=task_id):
        try:
            config = load_client_config(config_path)
            url = require_postgres(config)
        except WinbackError as exc:  # a config error, an unknown platform, a SQLite store
            log.error("refused: %s", exc, extra={"client": client, "task_id": task_id})
            return {"client": client, "outcome": "refused", "error": str(exc)}
        store = _store(url)
        start = RunStart(client=config.name, store_key=config.store_key, task_id=task_id, worker=worker,
                         attempt=attempt)
        try:
            with store_lock(store, config.store_key, wait=0):
                return _run_locked(config, store, start, will_retry=will_retry)
        except StoreBusyError:
            run_id = record_start(store, start)
            record_end(store, run_id, "busy", "already running elsewhere: left to that run")
            log.info("%s is already running elsewhere: this task ends", config.name)
            return {"client": config.name, "outcome": "busy", "error": None}


def _run_locked(config: ClientConfig, store: LocalStore, start: RunStart, *, will_retry: bool) -> dict[str, Any]:
    run_id = record_start(store, start, holding_lock=True)
    log.info("run of %s started (attempt %d)", config.name, start.attempt + 1)
    transient = True
    try:
        result = asyncio.run(run_client(config, store, locked=True))
        error = None if result.ok else (result.error or "failed")
        transient = result.transient
    except SoftTimeLimitExceeded:
        error = "the run passed its time limit and was stopped (the next attempt resumes from the saved cursors)"
    except Exception as exc:  # a plugin's bug: report it like any failure, never take the worker down
        log.exception("unexpected failure of %s", config.name)
        error = f"unexpected {type(exc).__name__}: {exc}"
    if error is None:
        record_end(store, run_id, "ok")
        log.info("run of %s finished: ok", config.name)
        return {"client": config.name, "outcome": "ok", "error": None}
    if not transient:
        record_end(store, run_id, "failed", error)
        log.error("run of %s failed, not retried (it needs the merchant): %s", config.name, error)
        return {"client": config.name, "outcome": "failed", "error": error}
    record_end(store, run_id, "retrying" if will_retry else "failed", error)
    if will_retry:
        log.warning("run of %s failed, retried later: %s", config.name, error)
    else:
        log.error("run of %s failed after %d attempts: %s", config.name, start.attempt + 1, error)
    raise ClientRunFailed(error)
