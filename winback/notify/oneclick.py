"""One-click unsubscribe links served by ``winback serve`` (RFC 8058).

A link is ``{public_url}/u/{client}/{purpose}/{address}/{token}``: ``client`` is the config file's
stem, ``address`` the recipient's normalised address in unpadded base64url (so no ``@`` or ``+``
needs escaping), ``token`` an HMAC-SHA256 over client, address and purpose under the install's
secret. The token is stable (the same recipient always gets the same link, so an old email keeps
working) and cannot be made without the secret, so nobody can unsubscribe someone else.

The install's secret lives in ``winback-serve.secret`` beside the client configs: made once, on
first use, readable by its owner only (0600), shared by ``winback run`` (which writes links) and
``winback serve`` (which checks them).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from winback.errors import NotifyError
from winback.model import normalize_email

SECRET_FILE = "winback-serve.secret"
PURPOSES = ("marketing",)
"""What a link unsubscribes from; only marketing mail carries one."""
_TOKEN_CHARS = 32
"""base64url characters kept from the HMAC (192 bits)."""


def install_secret(directory: Path) -> bytes:
    """The install's unsubscribe key from ``directory/winback-serve.secret``, made (0600) if absent.

    The key is written whole to a private temporary file and then hard-linked into place: the
    link is atomic and fails if the file exists, so two processes starting at once end up with
    the same key and neither ever reads a half-written (empty) file.
    """
    path = Path(directory) / SECRET_FILE
    if not path.exists():
        try:
            fd, temp = tempfile.mkstemp(prefix=f".{SECRET_FILE}.", dir=path.parent)
        except OSError as exc:
            raise NotifyError(f"cannot create the unsubscribe key {path}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:  # mkstemp makes it 0600
                handle.write(secrets.token_hex(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temp, path)
        except FileExistsError:
            pass  # another process won the race; its key is complete
        except OSError as exc:
            raise NotifyError(f"cannot create the unsubscribe key {path}: {exc.strerror}") from None
        finally:
            Path(temp).unlink(missing_ok=True)
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise NotifyError(f"cannot read the unsubscribe key {path}: {exc.strerror}") from None
    if len(text) < 32:
        raise NotifyError(f"the unsubscribe key {path} is empty or too short: delete it to make a new one "
                          "(links in emails already sent stop working)")
    return text.encode("ascii")


def token(secret: bytes, client: str, email: str, purpose: str = "marketing") -> str:
    """The link token of (client, normalised email, purpose)."""
    message = "\0".join(("v1", client, normalize_email(email) or "", purpose)).encode("utf-8")
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")[:_TOKEN_CHARS]


def link(public_url: str, secret: bytes, client: str, email: str, purpose: str = "marketing") -> str:
    """The recipient's one-click unsubscribe URL."""
    address = normalize_email(email) or ""
    encoded = base64.urlsafe_b64encode(address.encode("utf-8")).decode("ascii").rstrip("=")
    return f"{public_url.rstrip('/')}/u/{client}/{purpose}/{encoded}/{token(secret, client, address, purpose)}"


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """Whom a verified link unsubscribes."""

    client: str
    email: str
    purpose: str


def verify(secret: bytes, client: str, purpose: str, encoded: str, given: str) -> LinkTarget | None:
    """The link's target if its token is right (constant-time compare), else ``None``."""
    if purpose not in PURPOSES or len(encoded) > 700 or len(given) != _TOKEN_CHARS:
        return None
    try:
        email = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if "@" not in email or normalize_email(email) != email:
        return None
    if not hmac.compare_digest(token(secret, client, email, purpose).encode(), given.encode("ascii", "replace")):
        return None
    return LinkTarget(client, email, purpose)


def masked(email: str) -> str:
    """``j***@example.com``: enough to tell entries apart in a log, never the full address."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"
