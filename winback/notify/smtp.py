"""The SMTP sender: one reused connection, checked before each message, behind a rate limit.

The standard library's :mod:`smtplib` runs in a worker thread. Delivery is at most once: a
connection that drops while a message is being sent is not retried, and only a refusal the
server states (:class:`~winback.errors.EmailNotSentError`) lets the caller try the message again.
Every failure is a message naming the server and what to check, with the password redacted.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl as _ssl
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Self

from winback.errors import EmailNotSentError, NotifyError, SenderUnavailableError, UnsendableAddressError
from winback.notify.message import check_address, message_id_of
from winback.notify.ratelimit import TokenBucket
from winback.secrets import redact, register_secret


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

    async def check_recipient(self, address: str) -> None:
        """A non-ASCII local part needs the server's SMTPUTF8 (RFC 6531), so for such an address
        the connection is opened (or checked) to read the server's EHLO answer."""
        checked = check_address(address, "recipient", utf8=True)
        if checked.isascii():
            return
        if self._closed:
            raise EmailNotSentError(f"the SMTP sender for {self.where} is closed")
        async with self._lock:
            smtp = await asyncio.to_thread(self._live_connection)
        if not smtp.has_extn("smtputf8"):
            raise UnsendableAddressError(
                f"the recipient address {checked!r} has non-ASCII characters before the @ and the SMTP "
                f"server {self.where} does not offer SMTPUTF8: it cannot be sent there (a server that "
                "offers SMTPUTF8 can)"
            )

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
        message_id = message_id_of(message)
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
