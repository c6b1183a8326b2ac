"""DKIM signing (RFC 6376) of outgoing mail with dkimpy, for merchants sending through their own
mail server (a relay such as an email provider usually signs for them).

The signature covers the headers RFC 8058 asks for — ``List-Unsubscribe`` and
``List-Unsubscribe-Post`` — with From, To, Subject, Date, Message-ID and the MIME headers,
relaxed/relaxed, so re-folding on the way does not break it. The key is a PEM file named by
``[email] dkim_private_key_file`` (kept like the secrets file: readable by its owner only).
"""

from __future__ import annotations

import os
import stat
from email.message import EmailMessage
from pathlib import Path

import dkim

from winback.errors import NotifyError
from winback.notify.message import message_bytes

SIGNED_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"mime-version", b"content-type",
    b"list-unsubscribe", b"list-unsubscribe-post",
)


def load_key(path: Path) -> bytes:
    """The PEM private key at ``path``; :class:`NotifyError` naming the file if unusable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NotifyError(f"cannot read the DKIM key {path}: {exc.strerror}; check dkim_private_key_file in [email]") from None
    if b"PRIVATE KEY-----" not in data:
        raise NotifyError(f"the DKIM key {path} is not a PEM private key (expected -----BEGIN PRIVATE KEY-----)")
    return data


def key_readable_by_others(path: Path) -> bool:
    try:
        return bool(os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except OSError:
        return False


def sign(message: EmailMessage, selector: str, domain: str, key: bytes) -> None:
    """Add a ``DKIM-Signature`` header to ``message`` (in place)."""
    present = [h for h in SIGNED_HEADERS if message.get(h.decode()) is not None]
    try:
        header = dkim.sign(message_bytes(message), selector.encode("ascii"), domain.encode("ascii"), key,
                           canonicalize=(b"relaxed", b"relaxed"), include_headers=present)
    except (dkim.DKIMException, ValueError, UnicodeEncodeError) as exc:
        raise NotifyError(f"DKIM signing failed for d={domain} s={selector}: {exc}") from None
    name, _, value = header.decode("ascii").partition(":")
    # Unfolded and stored raw: the serializer must not refold (or re-encode) the signature.
    message.set_raw(name, value.replace("\r\n", "").strip())
