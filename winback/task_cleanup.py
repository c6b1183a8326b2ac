"""Stopping background tasks for good: cancelled, waited for, their errors taken.

Why one place: the sync's read-ahead, the Ecwid reader's next window and its pages in flight all
start tasks that must not outlive the code that started them (a caller that stops early, a
failure, a Ctrl-C), and each ending needs the same three steps; one forgotten step leaves a task
reading in the background or an "exception was never retrieved" warning.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` (those already done stay as they are), wait until none of them runs, and
    mark each one's error retrieved: the caller has already raised the error that matters, or is
    stopping on purpose. A cancellation of the caller itself during the wait still propagates
    (:func:`asyncio.wait` does not swallow it)."""
    pending = list(tasks)
    if not pending:
        return
    for task in pending:
        task.cancel()
    await asyncio.wait(pending)
    for task in pending:
        if not task.cancelled():
            task.exception()
