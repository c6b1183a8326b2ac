"""The ``runs`` table: which worker ran which client when, and how it ended.

A row is written when a task starts (``running``) and updated when it ends. A worker killed
mid-run leaves its row ``running``; when the broker hands the same task to another worker, or
the next run of the store takes its run lock, that run marks the orphan ``lost`` before starting
its own row, so ``winback status`` tells a dead worker's run from a live one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from winback.sync import LocalStore
from winback.sync.tables import runs

OUTCOMES = ("running", "ok", "failed", "retrying", "busy", "lost")


@dataclass(frozen=True, slots=True)
class RunStart:
    client: str
    store_key: str
    task_id: str | None
    worker: str | None
    attempt: int = 0


def record_start(store: LocalStore, start: RunStart, *, now: datetime | None = None,
                 holding_lock: bool = False) -> int:
    """Mark orphaned ``running`` rows ``lost`` and insert this run's row; its id.

    Orphans are the earlier rows of the same task (redelivered after its worker died) and, when
    the caller holds the store's run lock (``holding_lock``), every other ``running`` row of the
    store: no other run can be going on, so those ended without a word (a hard time limit
    replaces the process before it can record anything)."""
    now = now or datetime.now(UTC)
    with store.writing() as conn:
        if start.task_id is not None:
            conn.execute(
                update(runs)
                .where(runs.c.task_id == start.task_id, runs.c.outcome == "running")
                .values(outcome="lost", finished_at=now, error="its worker stopped mid-run; the task was redelivered")
            )
        if holding_lock:
            conn.execute(
                update(runs)
                .where(runs.c.store_key == start.store_key, runs.c.outcome == "running")
                .values(outcome="lost", finished_at=now,
                        error="ended without recording an outcome (its worker died or passed the hard time limit)")
            )
        row = conn.execute(
            insert(runs).values(
                store_key=start.store_key, client=start.client, task_id=start.task_id, worker=start.worker,
                attempt=start.attempt, started_at=now, outcome="running",
            ).returning(runs.c.id)
        )
        return int(row.scalar_one())


def record_end(store: LocalStore, run_id: int, outcome: str, error: str | None = None, *,
               now: datetime | None = None) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown run outcome {outcome!r}")
    with store.writing() as conn:
        conn.execute(
            update(runs).where(runs.c.id == run_id)
            .values(outcome=outcome, error=error, finished_at=now or datetime.now(UTC))
        )


def last_run(store: LocalStore, store_key: str) -> dict[str, Any] | None:
    """The latest run of ``store_key`` as JSON-able data, or ``None`` if no worker ran it yet."""
    with store.reading() as conn:
        row = conn.execute(
            select(runs).where(runs.c.store_key == store_key).order_by(runs.c.started_at.desc(), runs.c.id.desc())
            .limit(1)
        ).mappings().first()
    if row is None:
        return None
    return {
        "task_id": row["task_id"],
        "worker": row["worker"],
        "attempt": row["attempt"],
        "started": row["started_at"].isoformat(),
        "finished": None if row["finished_at"] is None else row["finished_at"].isoformat(),
        "outcome": row["outcome"],
        "error": row["error"],
    }


def runs_of(store: LocalStore, store_key: str) -> list[dict[str, Any]]:
    """Every recorded run of ``store_key``, oldest first (tests and ``status --json`` history)."""
    with store.reading() as conn:
        rows = conn.execute(
            select(runs).where(runs.c.store_key == store_key).order_by(runs.c.started_at, runs.c.id)
        ).mappings().all()
    return [dict(row) for row in rows]
