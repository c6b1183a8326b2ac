"""Client runs on Celery workers: ``winback dispatch`` enqueues, ``winback worker`` runs.

A task is one :func:`winback.clients.run_client`, the same function cron's ``winback run``
calls. See :mod:`winback.workers.app` for the reliability settings, :mod:`winback.workers.tasks`
for the outcomes and :mod:`winback.workers.settings` for the broker and the PostgreSQL rule.
"""

from winback.workers.app import celery_config, create_app
from winback.errors import BrokerUnavailableError, ClientRunFailed, DistributedStoreError
from winback.workers.dispatch import Dispatched, dispatch_clients, queue_depth
from winback.workers.runs import last_run, runs_of
from winback.workers.settings import (
    BROKER_ENV,
    DEFAULT_QUEUE,
    WorkerSettings,
    require_postgres,
    resolve_broker,
)
from winback.workers.tasks import TASK_NAME

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
