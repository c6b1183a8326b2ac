"""The client's secrets file as the place where renewed credentials are kept.

A connector whose credentials rotate (Shopify's expiring offline tokens) is given a
:class:`SecretsFile`; it reads the file again under a lock before spending a refresh token, and
saves the new values in one atomic, fsynced replace before using them. The lock is ``flock`` on a
sibling ``.{name}.lock`` file (mode 0600): it serialises a cron run and ``winback serve`` on the
same client, and the kernel releases it when its holder dies, so a killed process blocks nobody.
"""

from __future__ import annotations

import fcntl
import os
import threading
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from winback.config._secrets_write import save_secrets
from winback.errors import ConfigError


class SecretsFile:
    """Read, write and lock one secrets file (implements the connectors' ``SecretStore``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(f".{path.name}.lock")
        self._fd: int | None = None
        self._thread_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SecretsFile({str(self.path)!r})"

    def read(self) -> Mapping[str, Any]:
        """The file's top-level keys as written (empty if the file is missing)."""
        try:
            return tomllib.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot be read: {exc}", path=str(self.path)) from None

    def write(self, values: Mapping[str, str | None]) -> None:
        save_secrets(self.path, values)

    def acquire(self) -> None:
        """Block until this process holds the file's lock (one holder per process at a time too)."""
        self._thread_lock.acquire()
        try:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
        except BaseException:
            self._thread_lock.release()
            raise
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
            self._thread_lock.release()
