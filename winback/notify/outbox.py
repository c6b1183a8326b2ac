"""The outbox sender: each message becomes a private ``.eml`` file instead of leaving the machine.

Used for trying rules out, for dry runs and for merchants who send the files themselves;
:mod:`winback.notify.outbox_index` builds a browsable page of an outbox.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Self

from winback.errors import NotifyError, SenderUnavailableError
from winback.notify.message import check_address, message_bytes, message_id_of

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


class OutboxSender:
    """Write each message to ``directory`` as ``<slug of Message-ID>.eml`` instead of sending it.

    Files are written atomically (a temporary file, then :func:`os.replace`) with mode 0600, since
    they hold customers' addresses; a resend of the same Message-ID replaces its file. Each send
    also appends one JSON line (``time``, ``message_id``, ``to``, ``subject``, ``file``) to
    ``index.jsonl`` in the same directory.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()

    @property
    def index_path(self) -> Path:
        return self.directory / "index.jsonl"

    async def check_recipient(self, address: str) -> None:
        """Any ``local@domain`` will do: files carry UTF-8 headers where an address needs them."""
        check_address(address, "recipient", utf8=True)

    async def ready(self) -> None:
        try:
            await asyncio.to_thread(make_private_dirs, self.directory)
        except OSError as exc:
            raise SenderUnavailableError(self._unwritable(exc)) from None

    async def send(self, message: EmailMessage) -> str:
        return await asyncio.to_thread(self._write, message)

    def _unwritable(self, exc: OSError) -> str:
        return (
            f"cannot write to the outbox {str(self.directory)!r}: {exc.strerror or exc}; "
            "check outbox_dir in [email] and its permissions"
        )

    async def aclose(self) -> None:
        return None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _write(self, message: EmailMessage) -> str:
        message_id = message_id_of(message)
        name = f"{slug(message_id)}.eml"
        data = message_bytes(message)
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "message_id": message_id,
            "to": str(message.get("To", "")),
            "subject": str(message.get("Subject", "")),
            "file": name,
        }
        with self._lock:
            try:
                make_private_dirs(self.directory)
                write_private_file(self.directory / name, data)
            except OSError as exc:
                # The atomic write either placed the whole file or nothing.
                raise SenderUnavailableError(self._unwritable(exc)) from None
            try:
                line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
                fd = os.open(self.index_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                try:
                    os.write(fd, line)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise NotifyError(self._unwritable(exc) + " (the message itself was written)") from None
        return message_id


def make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and every missing parent with mode 0700: outboxes hold customers'
    addresses, and ``mkdir(parents=True, mode=...)`` applies the mode to the last folder only."""
    missing: list[Path] = []
    current = directory
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
    if not directory.is_dir():
        raise NotADirectoryError(20, "not a directory", str(directory))


def slug(message_id: str) -> str:
    """A file-name-safe form of a Message-ID (``<abc@shop.example>`` → ``abc_at_shop.example``)."""
    text = message_id.strip().strip("<>").replace("@", "_at_")
    text = _SLUG.sub("_", text).strip("._-")[:200]
    return text or "message"


def write_private_file(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (a temporary file, synced, then renamed), readable
    by this user only (mode 0600): a reader sees the old file or the whole new one, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
