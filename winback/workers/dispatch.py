"""Enqueue one task per client, and ask the broker how many wait."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from celery import Celery

from winback.errors import BrokerUnavailableError, DistributedStoreError
from winback.workers.settings import DispatchEntry, WorkerSettings, require_postgres_url
from winback.workers.tasks import TASK_NAME


@dataclass(frozen=True, slots=True)
class Dispatched:
    client: str
    config: str
    task_id: str | None = None
    error: str | None = None
    """Why the client was not sent (a SQLite store)."""


def dispatch_clients(app: Celery, settings: WorkerSettings, configs: Sequence[DispatchEntry]) -> list[Dispatched]:
    """One task per client whose store is PostgreSQL; the others come back with their refusal.

    The message holds the config's absolute path and the client's name: no setting, no secret.
    """
    task = app.tasks[TASK_NAME]
    sent: list[Dispatched] = []
    for config in configs:
        path = str(config.path.resolve())
        try:
            require_postgres_url(config.name, config.path, config.database_url)
        except DistributedStoreError as exc:
            sent.append(Dispatched(config.name, path, error=str(exc)))
            continue
        try:
            result = task.apply_async(args=[path, config.name], queue=settings.queue,
                                      retry=True, retry_policy={"max_retries": 2, "interval_start": 0.5})
        except Exception as exc:  # kombu's OperationalError and friends: the broker is down
            raise BrokerUnavailableError(
                f"the broker {settings.broker_label} did not take the task for {config.name} "
                f"({type(exc).__name__}: {exc}); {len([s for s in sent if s.task_id])} were sent before"
            ) from None
        sent.append(Dispatched(config.name, path, task_id=result.id))
    return sent


def queue_depth(app: Celery, settings: WorkerSettings) -> int:
    """Tasks waiting in the queue (not those a worker holds); 0 for a queue never declared."""
    from kombu.exceptions import OperationalError

    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=5)
            channel = conn.channel()
            try:
                _, count, _ = channel.queue_declare(queue=settings.queue, passive=True)
            except Exception as exc:
                if "NOT_FOUND" in str(exc) or "404" in str(exc) or type(exc).__name__ == "NotFound":
                    return 0
                raise
            finally:
                try:
                    channel.close()
                except Exception:  # noqa: BLE001 - a channel closed by a 404 cannot be closed again
                    pass
            return int(count)
    except (OperationalError, OSError) as exc:
        raise BrokerUnavailableError(f"the broker {settings.broker_label} did not answer: {exc}") from None
