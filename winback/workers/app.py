"""The Celery app factory: the reliability settings live here, in one place.

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a task is acknowledged only when it ends,
  so a worker killed mid-run (machine gone, OOM, SIGKILL) leaves it with the broker, which gives
  it to another worker: RabbitMQ as soon as the dead worker's connection closes, Redis once the
  task has been unacknowledged for ``visibility_timeout`` (set above the time limit and the
  longest retry countdown, so a healthy run is never handed out twice).
* ``worker_prefetch_multiplier = 1``: a worker reserves one task per process, so a long client
  never holds back short ones queued behind it on a busy worker.
* per-task soft and hard time limits; retries with exponential back-off (``autoretry_for``).
* results are not stored: the ``runs`` table in the client's own database is the record.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task

from winback.workers.settings import WorkerSettings
from winback.workers.tasks import TASK_NAME, ClientRunFailed, execute


def celery_config(settings: WorkerSettings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "broker_url": settings.broker,
        "task_default_queue": settings.queue,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_time_limit": settings.time_limit,
        "task_soft_time_limit": settings.soft_time_limit,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 5,
        "enable_utc": True,
    }
    if settings.transport == "redis":
        config["broker_transport_options"] = {
            "visibility_timeout": settings.visibility_timeout,
            "unacked_restore_interval": settings.restore_interval,
            "unacked_restore_throttle": 1,
        }
    return config


def create_app(settings: WorkerSettings) -> Celery:
    """A Celery app for ``settings`` with the one task registered (dispatcher and workers alike)."""
    app = Celery("winback", set_as_current=False)
    app.conf.update(celery_config(settings))

    @app.task(
        name=TASK_NAME, bind=True, shared=False, autoretry_for=(ClientRunFailed,), max_retries=settings.max_retries,
        retry_backoff=settings.retry_backoff, retry_backoff_max=settings.retry_backoff_max, retry_jitter=False,
        acks_late=True, reject_on_worker_lost=True,
    )
    def run_client_task(self: Task, config_path: str, client: str) -> dict[str, Any]:
        request = self.request
        return execute(
            config_path, client, task_id=request.id, worker=request.hostname, attempt=request.retries,
            will_retry=request.retries < settings.max_retries,
        )

    return app
