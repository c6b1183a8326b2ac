"""Turn a rendered email into a MIME message that is safe to hand to any mail server.

Everything that ends up in a header is checked here, because names, addresses and subjects come
from store data a customer typed: a display name loses its control characters (so a CR/LF cannot
start a new header), an address with one is refused, and headers are written through
:mod:`email.headerregistry`, which encodes non-ASCII names (RFC 2047) instead of passing them raw.

The ``Message-ID`` is derived from the caller's ``message_key`` (the action's idempotency key), so
sending the same intent twice produces the same id and a resend is recognisable downstream.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email import policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import urlsplit

from winback.errors import NotifyError, UnsendableAddressError
from winback.notify.templates import RenderedEmail, one_line

POLICY = policy.default.clone(refold_source="none")
"""Our messages' policy: ``refold_source="none"`` keeps the pre-folded ``List-Unsubscribe`` URLs
intact (the default would turn a long URL into unreadable RFC 2047 encoded words)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
"""Control characters, line separators and bidi overrides (spoofing); ZWJ stays for emoji."""
_ADDRESS_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\x9f<>()\[\],;:\\\"\u2028\u2029]")
_MAX_URI = 900
_DISPLAY_FORM = re.compile(r"([^<>]*)<([^<>]+)>")


def build_message(
    rendered: RenderedEmail,
    *,
    from_address: str,
    from_name: str | None = None,
    to_address: str,
    to_name: str | None = None,
    reply_to: str | None = None,
    unsubscribe_url: str | None = None,
    unsubscribe_mailto: str | None = None,
    message_key: str,
    marketing: bool,
    date: datetime | None = None,
) -> EmailMessage:
    """A multipart/alternative (text, then HTML) UTF-8 message.

    Marketing mail must offer a way out: it gets ``List-Unsubscribe`` from ``unsubscribe_url``
    (http or https) and/or ``unsubscribe_mailto``, plus ``List-Unsubscribe-Post`` (RFC 8058
    one-click) when the URL is https; without either it is refused. Transactional mail
    (``marketing=False``) carries neither header.

    Raises :class:`NotifyError` for an address that is not ``local@domain`` (or contains a space or
    control character), an unusable unsubscribe URL, or an empty ``message_key``.
    """
    if not message_key:
        raise NotifyError("message_key is empty: pass the action's idempotency key")
    configured_name, from_address = split_display(from_address)
    sender = _address("from", from_address, from_name or configured_name)
    # A non-ASCII local part is built here; whether it can be sent is the sender's call, asked
    # before anything is done for the message (Sender.check_recipient).
    recipient = _address("to", to_address, to_name, utf8=True)

    message = EmailMessage(policy=POLICY)
    _set_address(message, "From", sender)
    _set_address(message, "To", recipient)
    if reply_to:
        reply_name, reply_address = split_display(reply_to)
        _set_address(message, "Reply-To", _address("reply-to", reply_address, reply_name))
    _set_text(message, "Subject", one_line(_CONTROL.sub(" ", rendered.subject)))
    message["Date"] = format_datetime((date or datetime.now(UTC)).astimezone(UTC))
    message["Message-ID"] = message_id(message_key, sender.domain)
    if marketing:
        _add_unsubscribe(message, unsubscribe_url, unsubscribe_mailto)
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


# The stdlib's modern header folder drops the space between two words when it splits non-ASCII
# text across encoded words (so "李 عربى" arrives as "李عربى"). Non-ASCII values are therefore
# encoded with the legacy :class:`email.header.Header`, which folds correctly, and stored raw.


def _set_text(message: EmailMessage, name: str, value: str) -> None:
    if value.isascii():
        message[name] = value
    else:
        message.set_raw(name, Header(value, "utf-8", header_name=name).encode(linesep="\n"))


def _set_address(message: EmailMessage, name: str, address: Address) -> None:
    if address.display_name.isascii():
        message[name] = address
    else:
        encoded = Header(address.display_name, "utf-8", header_name=name).encode(linesep="\n")
        message.set_raw(name, f"{encoded} <{address.addr_spec}>")


def message_id(message_key: str, domain: str = "winback.local") -> str:
    """``<32 hex chars of sha256(message_key)@domain>``: the same key always gives the same id."""
    digest = hashlib.sha256(message_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain or 'winback.local'}>"


def message_id_of(message: EmailMessage) -> str:
    """The ``Message-ID`` a built message carries: what a sender returns and files it under."""
    value = message.get("Message-ID")
    if not value:
        raise NotifyError("the message has no Message-ID: build it with winback.notify.build_message")
    return str(value).strip()


def message_bytes(message: EmailMessage) -> bytes:
    """The message as it goes on the wire (CRLF line endings); with UTF-8 headers when an address
    needs them (:func:`is_international`), as :mod:`smtplib` sends it with SMTPUTF8."""
    return message.as_bytes(policy=POLICY.clone(linesep="\r\n", utf8=is_international(message)))


def split_display(value: str) -> tuple[str | None, str]:
    """``'Acme <hello@acme.example>'`` → ``('Acme', 'hello@acme.example')``; a bare address → ``(None, it)``.

    For addresses from the merchant's config, which may be written in display form.
    """
    match = _DISPLAY_FORM.fullmatch(str(value).strip())
    if not match:
        return None, value
    name = match.group(1).strip().strip('"').strip()
    return (name or None), match.group(2)


def clean_name(name: str | None) -> str | None:
    """A display name without control or bidi-override characters, whitespace collapsed; ``None`` if empty."""
    if name is None:
        return None
    cleaned = " ".join(_CONTROL.sub(" ", str(name)).split())
    return cleaned or None


def check_address(address: str, role: str = "address", *, utf8: bool = False) -> str:
    """``address`` stripped, if it looks like ``local@domain``; the domain is IDNA-encoded.

    Deliberately loose (exactly one ``@``, no spaces, control characters or header punctuation),
    since the store already accepted it. A non-ASCII local part is refused unless ``utf8``: only a
    mail server offering SMTPUTF8 (RFC 6531) can carry it, so senders decide (see
    :meth:`winback.notify.Sender.check_recipient`). Raises
    :class:`~winback.errors.UnsendableAddressError`.
    """
    text = str(address or "").strip()
    if not text or _ADDRESS_FORBIDDEN.search(text) or text.count("@") != 1:
        raise UnsendableAddressError(f"the {role} address {text!r} is not a valid email address (expected local@domain)")
    local, domain = text.split("@")
    if not local or not domain or domain.startswith(".") or domain.endswith(".") or ".." in domain:
        raise UnsendableAddressError(f"the {role} address {text!r} is not a valid email address (expected local@domain)")
    if not local.isascii() and not utf8:
        raise UnsendableAddressError(
            f"the {role} address {text!r} has non-ASCII characters before the @, which needs a mail server "
            "offering SMTPUTF8"
        )
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise UnsendableAddressError(
                f"the {role} address {text!r} has a domain that cannot be encoded (IDNA)"
            ) from None
    return f"{local}@{domain}"


def is_international(message: EmailMessage) -> bool:
    """Whether an address of ``message`` has a non-ASCII local part, so it can only travel as
    UTF-8 headers (RFC 6532) through a server offering SMTPUTF8."""
    for name in ("From", "To", "Reply-To"):
        header = message.get(name)
        if header is not None and any(not a.username.isascii() for a in getattr(header, "addresses", ())):
            return True
    return False


def _address(role: str, address: str, name: str | None, *, utf8: bool = False) -> Address:
    checked = check_address(address, role, utf8=utf8)
    local, domain = checked.split("@")
    try:
        return Address(display_name=clean_name(name) or "", username=local, domain=domain)
    except (ValueError, TypeError) as exc:
        raise NotifyError(f"the {role} address {checked!r} is not a valid email address: {exc}") from None


def _add_unsubscribe(message: EmailMessage, url: str | None, mailto: str | None) -> None:
    uris: list[str] = []
    if url:
        uris.append(_checked_uri(url, ("https", "http"), "unsubscribe_url"))
    if mailto:
        uris.append(mailto_uri(mailto))
    if not uris:
        raise NotifyError(
            "marketing email needs an unsubscribe link: set unsubscribe_url (https) or unsubscribe_mailto in [email]"
        )
    # Pre-folded between URIs and stored raw (see POLICY), so no URL is ever split or encoded.
    message.set_raw("List-Unsubscribe", ",\n ".join(f"<{uri}>" for uri in uris))
    if url and uris[0].lower().startswith("https://"):
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"


def mailto_uri(mailto: str) -> str:
    """``unsub@shop.example`` or ``mailto:unsub@shop.example?subject=...`` → a checked ``mailto:`` URI."""
    text = str(mailto).strip()
    if not text.lower().startswith("mailto:"):
        text = f"mailto:{check_address(text, 'unsubscribe_mailto')}?subject=unsubscribe"
    uri = _checked_uri(text, ("mailto",), "unsubscribe_mailto")
    check_address(uri[len("mailto:"):].split("?", 1)[0], "unsubscribe_mailto")
    return uri


def _checked_uri(uri: str, schemes: tuple[str, ...], name: str) -> str:
    text = str(uri).strip()
    if len(text) > _MAX_URI or any(c in "<>\"" or c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise NotifyError(f"{name} {text[:80]!r} is not a usable URI (no spaces, quotes or angle brackets; at most {_MAX_URI} characters)")
    try:
        parts = urlsplit(text)
    except ValueError:
        raise NotifyError(f"{name} {text!r} is not a valid URI") from None
    if parts.scheme.lower() not in schemes or not (parts.netloc or parts.path):
        raise NotifyError(f"{name} {text!r} must be a {' or '.join(s + ':' for s in schemes)} URI")
    if not text.isascii():
        raise NotifyError(f"{name} {text!r} has non-ASCII characters: percent-encode them")
    return text
