"""Client runs on Celery workers: ``winback dispatch`` enqueues, ``winback worker`` runs.

A task is one :func:`winback.clients.run_client`, the same function cron's ``winback run``
calls. See :mod:`winback.workers.app` for the reliability settings, :mod:`winback.workers.tasks`
for the outcomes and :mod:`winback.workers.settings` for the broker and the PostgreSQL rule.
Celery is imported only when a name that needs it is first used, so ``winback status`` (which
reads the runs table) does not pay for it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from winback.errors import BrokerUnavailableError, ClientRunFailed, DistributedStoreError
from winback.workers.runs import last_run, runs_of
from winback.workers.settings import (
    BROKER_ENV,
    DEFAULT_QUEUE,
    WorkerSettings,
    require_postgres,
    resolve_broker,
)

_LAZY = {
    "celery_config": "winback.workers.app",
    "create_app": "winback.workers.app",
    "Dispatched": "winback.workers.dispatch",
    "dispatch_clients": "winback.workers.dispatch",
    "queue_depth": "winback.workers.dispatch",
    "TASK_NAME": "winback.workers.tasks",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'winback.workers' has no attribute {name!r}")


__all__ = [
    "BROKER_ENV",
    "DEFAULT_QUEUE",
    "TASK_NAME",
    "BrokerUnavailableError",
    "ClientRunFailed",
    "Dispatched",
    "DistributedStoreError",
    "WorkerSettings",
    "celery_config",
    "create_app",
    "dispatch_clients",
    "last_run",
    "queue_depth",
    "require_postgres",
    "resolve_broker",
    "runs_of",
]
