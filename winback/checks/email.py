"""The ``email`` line: the outbox directory is writable, or the SMTP server accepts the login.
The SMTP password is masked wherever a server's answer could echo it.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from pathlib import Path

from winback.checks.results import CheckItem, Status
from winback.config import EmailSection
from winback.secrets import redact


def check_email(email: EmailSection | None, *, timeout: float = 10.0) -> CheckItem:
    """The outbox directory is writable, or the SMTP server accepts the login (then we quit)."""
    if email is None or email.sender == "outbox":
        return _check_outbox(None if email is None else email.outbox_dir)
    return check_smtp(email, timeout=timeout)


def _check_outbox(directory: Path | None) -> CheckItem:
    if directory is None:
        return CheckItem("email", Status.OK, "outbox: no [email] section; rules will not send email")
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return CheckItem("email", Status.OK, f"outbox: .eml files go to {directory}")
    return CheckItem(
        "email",
        Status.FAIL,
        f"outbox: {directory} cannot be created or written",
        (f"make {existing} writable for this user, or set [email] outbox_dir to a writable directory",),
    )


def smtp_port(email: EmailSection) -> int:
    if email.smtp_port is not None:
        return email.smtp_port
    return 465 if email.smtp_ssl else 587


def check_smtp(email: EmailSection, *, timeout: float = 10.0) -> CheckItem:
    """Connect, STARTTLS or TLS as configured, log in, quit. The password is never in the result."""
    host, port = email.smtp_host or "", smtp_port(email)
    starttls = email.smtp_starttls if email.smtp_starttls is not None else not email.smtp_ssl
    password = email.smtp_password.get_secret_value() if email.smtp_password is not None else None
    where = f"smtp {host}:{port}" + (" (TLS)" if email.smtp_ssl else " (STARTTLS)" if starttls else "")
    data = {"host": host, "port": port, "ssl": email.smtp_ssl, "starttls": starttls, "username": email.smtp_username}

    def clean(text: str) -> str:
        text = redact(text)
        return text.replace(password, "***") if password else text

    def fail(detail: str, *fixes: str) -> CheckItem:
        return CheckItem("email", Status.FAIL, clean(f"{where}: {detail}"), tuple(clean(f) for f in fixes), data)

    context = ssl.create_default_context()
    client: smtplib.SMTP | None = None
    try:
        if email.smtp_ssl:
            client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        client.ehlo()
        if starttls:
            client.starttls(context=context)
            client.ehlo()
        if email.smtp_username:
            if password is None:
                return fail(
                    f"smtp_username {email.smtp_username!r} has no smtp_password",
                    'set smtp_password = "${SMTP_PASSWORD}" under [email] and export the variable',
                )
            client.login(email.smtp_username, password)
            detail = f"logged in as {email.smtp_username}"
        else:
            detail = "connected (no smtp_username: sending without login)"
    except smtplib.SMTPAuthenticationError as exc:
        return fail(
            f"the server refused the login for {email.smtp_username!r} ({exc.smtp_code} {_reply(exc.smtp_error)})",
            "check smtp_username and the password in the variable smtp_password refers to",
        )
    except smtplib.SMTPNotSupportedError as exc:
        fix = "set smtp_starttls = false only if the server is on a trusted network, or use smtp_ssl = true on port 465"
        return fail(f"the server does not support what was asked ({exc})", fix)
    except ssl.SSLError as exc:
        return fail(
            f"TLS failed ({exc.reason or exc})",
            "check smtp_port and smtp_ssl/smtp_starttls: port 465 is usually smtp_ssl = true, 587 STARTTLS",
        )
    except smtplib.SMTPException as exc:
        return fail(f"the server answered unexpectedly ({exc})", "check smtp_host and smtp_port")
    except (TimeoutError, OSError) as exc:
        return fail(
            f"cannot connect ({exc.strerror or exc})",
            f"check smtp_host and smtp_port, and that this machine may connect to {host}:{port}",
        )
    finally:
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
    return CheckItem("email", Status.OK, clean(f"{where}: {detail}"), data=data)


def _reply(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:200]
