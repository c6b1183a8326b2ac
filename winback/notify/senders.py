"""Deliver built messages: to a local outbox directory, or to an SMTP server.

Both senders share one small protocol (:class:`Sender`), return the ``Message-ID`` they delivered,
and raise :class:`~winback.errors.NotifyError` with a message a merchant can act on. SMTP runs the
standard library's :mod:`smtplib` in a worker thread over one reused connection, behind a
client-side rate limit so a run never exceeds what the mail provider allows.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import smtplib
import socket
import ssl as _ssl
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol, Self, runtime_checkable

from winback.config import EmailSection
from winback.errors import EmailNotSentError, NotifyError, SenderUnavailableError
from winback.notify.message import POLICY
from winback.notify.ratelimit import TokenBucket
from winback.secrets import redact, register_secret

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


@runtime_checkable
class Sender(Protocol):
    """Something that delivers a built message."""

    async def ready(self) -> None:
        """Wait for this sender's turn (rate limit) and open what it needs, *before* the caller
        records that a message is being handed over. Raises
        :class:`~winback.errors.EmailNotSentError` when nothing could be sent now."""
        ...

    async def send(self, message: EmailMessage) -> str:
        """Deliver ``message``; return its ``Message-ID``. Raises :class:`NotifyError` on failure,
        :class:`~winback.errors.EmailNotSentError` when the message certainly did not leave."""
        ...

    async def aclose(self) -> None:
        """Release connections; the sender may not be used afterwards."""
        ...


def message_bytes(message: EmailMessage) -> bytes:
    """The message as it goes on the wire (CRLF line endings)."""
    return message.as_bytes(policy=POLICY.clone(linesep="\r\n"))


def _message_id(message: EmailMessage) -> str:
    value = message.get("Message-ID")
    if not value:
        raise NotifyError("the message has no Message-ID: build it with winback.notify.build_message")
    return str(value).strip()


# --- outbox -------------------------------------------------------------------------------------


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
        message_id = _message_id(message)
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
                _write_atomically(self.directory / name, data)
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


def _write_atomically(path: Path, data: bytes) -> None:
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


# --- SMTP ---------------------------------------------------------------------------------------


class SmtpSender:
    """Send through an SMTP server over one connection, reused for every message.

    ``starttls`` upgrades a plain connection (port 587) and fails if the server does not offer it;
    ``ssl`` connects with implicit TLS (port 465). Both verify the server's certificate with
    ``ssl_context`` (default: the system's trust store). The password is registered for redaction
    and never appears in an error. A dropped connection is reopened once per message.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        ssl: bool = False,
        timeout: float = 30,
        rate_per_minute: float = 60,
        burst: int = 1,
        local_hostname: str | None = None,
        ssl_context: _ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if starttls and ssl:
            raise NotifyError("starttls and ssl exclude each other: use ssl for port 465, starttls for 587")
        register_secret(password)
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.starttls = starttls
        self.ssl = ssl
        self.timeout = timeout
        self.local_hostname = local_hostname
        self._ssl_context = ssl_context
        self._bucket = TokenBucket(rate_per_minute, burst=burst, clock=clock, sleep=sleep)
        self._smtp: smtplib.SMTP | None = None
        self._turn_taken = False
        """A rate-limit turn taken by :meth:`ready` and not yet used by :meth:`send`."""
        self._lock = asyncio.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"SmtpSender({self.host!r}, {self.port}, username={self.username!r})"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    async def ready(self) -> None:
        if self._closed:
            raise EmailNotSentError(f"the SMTP sender for {self.where} is closed")
        if not self._turn_taken:
            await self._bucket.acquire()
            self._turn_taken = True
        async with self._lock:
            await asyncio.to_thread(self._live_connection)

    async def send(self, message: EmailMessage) -> str:
        if self._closed:
            raise EmailNotSentError(f"the SMTP sender for {self.where} is closed")
        message_id = _message_id(message)
        if self._turn_taken:
            self._turn_taken = False
        else:
            await self._bucket.acquire()
        async with self._lock:
            await asyncio.to_thread(self._send, message)
        return message_id

    async def aclose(self) -> None:
        self._closed = True
        async with self._lock:
            if self._smtp is not None:
                await asyncio.to_thread(self._disconnect)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # The methods below run in a worker thread, one at a time (``self._lock``).

    def _live_connection(self) -> smtplib.SMTP:
        """The reused connection if the server still answers NOOP, else a new one.

        Checking before sending (rather than resending after a failure) is what keeps delivery at
        most once: a connection that drops *during* a send may already have delivered the message.
        """
        if self._smtp is not None:
            try:
                code, _ = self._smtp.noop()
                if code == 250:
                    return self._smtp
            except (smtplib.SMTPException, OSError):
                pass
            self._disconnect()
        return self._connect()

    def _send(self, message: EmailMessage) -> None:
        smtp = self._live_connection()
        try:
            smtp.send_message(message)
            return
        except smtplib.SMTPServerDisconnected:
            self._disconnect()
            raise NotifyError(
                f"the SMTP server {self.where} closed the connection while sending; the message may or "
                f"may not have been delivered, so it is not resent automatically"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            refused = "; ".join(f"{to}: {_reply(code, text)}" for to, (code, text) in exc.recipients.items())
            raise EmailNotSentError(f"the SMTP server {self.where} refused the recipient ({refused})") from None
        except smtplib.SMTPSenderRefused as exc:
            raise EmailNotSentError(
                f"the SMTP server {self.where} refused the sender {exc.sender!r} ({_reply(exc.smtp_code, exc.smtp_error)}): "
                "check from_address in [email] is allowed for this account"
            ) from None
        except smtplib.SMTPDataError as exc:
            raise EmailNotSentError(
                f"the SMTP server {self.where} rejected the message ({_reply(exc.smtp_code, exc.smtp_error)})"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise EmailNotSentError(f"the SMTP server {self.where} cannot take this message: {redact(str(exc))}") from None
        except (smtplib.SMTPException, OSError) as exc:
            self._disconnect()
            raise NotifyError(f"sending through {self.where} failed: {redact(str(exc)) or type(exc).__name__}") from None

    def _connect(self) -> smtplib.SMTP:
        context = self._ssl_context or _ssl.create_default_context()
        smtp: smtplib.SMTP | None = None
        try:
            if self.ssl:
                smtp = smtplib.SMTP_SSL(
                    self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout)
            smtp.ehlo()
            if self.starttls:
                if not smtp.has_extn("starttls"):
                    raise SenderUnavailableError(
                        f"the SMTP server {self.where} does not offer STARTTLS: use smtp_ssl = true (port 465) "
                        "or, only on a trusted network, smtp_starttls = false"
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self._password or "")
        except SenderUnavailableError:
            _quietly_close(smtp)
            raise
        except smtplib.SMTPAuthenticationError as exc:
            _quietly_close(smtp)
            raise SenderUnavailableError(
                f"the SMTP server {self.where} rejected the login for user {self.username!r} "
                f"({_reply(exc.smtp_code, exc.smtp_error)}): check smtp_username and smtp_password"
            ) from None
        except smtplib.SMTPNotSupportedError:
            _quietly_close(smtp)
            raise SenderUnavailableError(
                f"the SMTP server {self.where} does not offer AUTH on this connection: "
                "enable STARTTLS or SSL, or remove smtp_username"
            ) from None
        except ConnectionRefusedError:
            _quietly_close(smtp)
            raise SenderUnavailableError(
                f"could not connect to the SMTP server {self.where}: connection refused; check smtp_host and smtp_port"
            ) from None
        except socket.gaierror:
            _quietly_close(smtp)
            raise SenderUnavailableError(f"the SMTP host {self.host!r} could not be resolved: check smtp_host") from None
        except TimeoutError:
            _quietly_close(smtp)
            raise SenderUnavailableError(
                f"the SMTP server {self.where} did not answer within {self.timeout:g}s: check smtp_host and smtp_port"
            ) from None
        except _ssl.SSLError as exc:
            _quietly_close(smtp)
            raise SenderUnavailableError(
                f"the TLS handshake with the SMTP server {self.where} failed ({exc.reason or exc}): "
                "check the port (465 is implicit SSL, 587 is STARTTLS) and the server's certificate"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            _quietly_close(smtp)
            raise SenderUnavailableError(
                f"could not talk to the SMTP server {self.where}: {redact(str(exc)) or type(exc).__name__}"
            ) from None
        self._smtp = smtp
        return smtp

    def _disconnect(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            _quietly_close(smtp)


def _quietly_close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        try:
            smtp.close()
        except OSError:
            pass


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {redact(' '.join(str(text).split()))}"


# --- from config --------------------------------------------------------------------------------


def sender_from_config(email: EmailSection, *, base_dir: Path) -> Sender:
    """The sender an ``[email]`` table asks for.

    The outbox defaults to ``base_dir / "outbox"``; a relative ``outbox_dir`` (left as written when
    the section was not loaded through :func:`winback.config.load_config`) is taken relative to
    ``base_dir``. SMTP defaults: STARTTLS on port 587, or implicit SSL on 465 with ``smtp_ssl``.
    """
    if email.sender == "outbox":
        directory = email.outbox_dir or Path("outbox")
        if not directory.expanduser().is_absolute():
            directory = Path(base_dir) / directory
        return OutboxSender(directory.expanduser())
    if not email.smtp_host:
        raise NotifyError("sender = 'smtp' needs smtp_host in [email]")
    starttls = email.smtp_starttls if email.smtp_starttls is not None else not email.smtp_ssl
    port = email.smtp_port or (465 if email.smtp_ssl else 587 if starttls else 25)
    password = email.smtp_password.get_secret_value() if email.smtp_password is not None else None
    return SmtpSender(
        email.smtp_host,
        port,
        username=email.smtp_username,
        password=password,
        starttls=starttls,
        ssl=email.smtp_ssl,
        rate_per_minute=email.rate_per_minute,
    )
