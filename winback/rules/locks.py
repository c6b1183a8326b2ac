"""One ``winback run`` per store at a time, across processes and machines sharing a database.

SQLite: ``fcntl.flock`` on ``<database file>.<store>.lock`` next to the database (the lock dies
with the process, so a killed run never leaves a stale lock). PostgreSQL: a session advisory lock
``pg_try_advisory_lock`` keyed by a hash of the store key, held on a dedicated connection. A second
run waits up to ``wait`` seconds, then gives up with :class:`StoreBusyError`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from sqlalchemy import text

from winback.errors import WinbackError
from winback.sync import LocalStore

DEFAULT_WAIT_S = 5.0
_POLL_S = 0.1


class StoreBusyError(WinbackError):
    """Another ``winback run`` holds the store's lock."""

    def __init__(self, store_key: str) -> None:
        self.store_key = store_key
        super().__init__(
            f"another winback run is working on {store_key}: this run leaves it alone "
            "(its actions will be picked up by the next run)"
        )


def lock_path(database: str | os.PathLike[str], store_key: str) -> Path:
    """``/data/winback.db`` + ``shopify:acme.myshopify.com`` → ``/data/winback.db.shopify_acme.myshopify.com.lock``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", store_key)[:120]
    digest = hashlib.sha256(store_key.encode()).hexdigest()[:8] if safe != store_key else ""
    suffix = f"{safe}-{digest}" if digest else safe
    return Path(f"{database}.{suffix}.lock")


def advisory_key(store_key: str) -> int:
    """A signed 64-bit key for ``pg_try_advisory_lock``, stable across processes."""
    return int.from_bytes(hashlib.sha256(f"winback.run:{store_key}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def store_lock(store: LocalStore, store_key: str, *, wait: float = DEFAULT_WAIT_S) -> Iterator[None]:
    """Hold the exclusive run lock of ``store_key`` (blocking; see :func:`astore_lock`)."""
    url = store.engine.url
    if url.get_backend_name() == "postgresql":
        with _pg_lock(store, store_key, wait):
            yield
        return
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        yield  # a private in-memory database cannot be shared with another run
        return
    with _file_lock(lock_path(Path(database).expanduser(), store_key), store_key, wait):
        yield


@asynccontextmanager
async def astore_lock(store: LocalStore, store_key: str, *, wait: float = DEFAULT_WAIT_S) -> AsyncIterator[None]:
    """:func:`store_lock` for async code: acquiring waits in a thread, never on the event loop."""
    manager = store_lock(store, store_key, wait=wait)
    await asyncio.to_thread(manager.__enter__)
    try:
        yield
    except BaseException as exc:
        if not manager.__exit__(type(exc), exc, exc.__traceback__):
            raise
    else:
        manager.__exit__(None, None, None)


@contextmanager
def _file_lock(path: Path, store_key: str, wait: float) -> Iterator[None]:
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreBusyError(store_key) from None
                time.sleep(_POLL_S)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def _pg_lock(store: LocalStore, store_key: str, wait: float) -> Iterator[None]:
    key = advisory_key(store_key)
    with store.engine.connect() as conn:
        deadline = time.monotonic() + wait
        while True:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar_one()
            conn.commit()
            if got:
                break
            if time.monotonic() >= deadline:
                raise StoreBusyError(store_key)
            time.sleep(_POLL_S)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.commit()
