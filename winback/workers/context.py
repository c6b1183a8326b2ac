"""Client and task ids on every log line a task emits, without passing them to every call.

A task sets them in context variables for its duration; :class:`TaskContextFilter`, installed on
the root handlers by ``winback worker``, copies them onto each record, so ``--json-log`` lines
carry ``client`` and ``task_id`` whatever module logged them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_client: ContextVar[str | None] = ContextVar("winback_client", default=None)
_task_id: ContextVar[str | None] = ContextVar("winback_task_id", default=None)


@contextmanager
def task_context(*, client: str, task_id: str | None) -> Iterator[None]:
    tokens = (_client.set(client), _task_id.set(task_id))
    try:
        yield
    finally:
        _client.reset(tokens[0])
        _task_id.reset(tokens[1])


class TaskContextFilter(logging.Filter):
    """Adds ``client`` and ``task_id`` to records made inside :func:`task_context` (never overrides)."""

    def filter(self, record: logging.LogRecord) -> bool:
        client, task_id = _client.get(), _task_id.get()
        if client is not None and not hasattr(record, "client"):
            record.client = client
        if task_id is not None and not hasattr(record, "task_id"):
            record.task_id = task_id
        return True


def install_filter() -> None:
    """Put the filter on every root handler (once)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, TaskContextFilter) for f in handler.filters):
            handler.addFilter(TaskContextFilter())
