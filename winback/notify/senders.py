"""Deliver built messages: the :class:`Sender` protocol and the sender an ``[email]`` table asks for.

Both senders (:class:`~winback.notify.outbox.OutboxSender`, :class:`~winback.notify.smtp.SmtpSender`)
return the ``Message-ID`` they delivered and raise :class:`~winback.errors.NotifyError` with a
message a merchant can act on.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Protocol, runtime_checkable

from winback.config import EmailSection
from winback.errors import NotifyError
from winback.notify.message import check_address
from winback.notify.outbox import OutboxSender
from winback.notify.smtp import SmtpSender


@runtime_checkable
class Sender(Protocol):
    """Something that delivers a built message."""

    async def check_recipient(self, address: str) -> None:
        """Raise :class:`~winback.errors.UnsendableAddressError` if this sender can never deliver
        to ``address``. Asked before anything is done for a message (a discount code is created
        only for an email that can go out); may open the sender's connection to find out."""
        ...

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


async def check_recipient(sender: object, address: str) -> None:
    """Ask ``sender`` whether it can deliver to ``address`` (:meth:`Sender.check_recipient`); a
    sender without that method is held to plain ASCII addresses, which every server takes."""
    check = getattr(sender, "check_recipient", None)
    if check is not None:
        await check(address)
    else:
        check_address(address, "recipient")


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
