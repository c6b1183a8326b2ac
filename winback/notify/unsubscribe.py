"""Per-recipient unsubscribe links.

``unsubscribe_url`` in ``[email]`` is a template such as
``https://shop.example/unsubscribe?e={email}&t={token}``. ``{email}`` becomes the recipient's
address (percent-encoded) and ``{token}`` an HMAC-SHA256 of the normalised address (stripped,
lower-case: :func:`winback.model.normalize_email`) under ``unsubscribe_secret``. winback does not
host the endpoint: the merchant's endpoint recomputes the token with the same key
(:func:`verify_unsubscribe_token` shows how) and must accept a POST with
``List-Unsubscribe=One-Click`` (RFC 8058) as well as a GET from the link.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

from winback.config import EmailSection
from winback.errors import NotifyError
from winback.model import normalize_email
from winback.notify.message import mailto_uri

TOKEN_LENGTH = 32
"""Hex characters kept from the HMAC (128 bits)."""


def unsubscribe_token(email: str, key: str | bytes) -> str:
    """The token for ``email`` under ``key``: the first 32 hex chars of HMAC-SHA256(key, normalised email)."""
    if not key:
        raise NotifyError("the unsubscribe key is empty: set unsubscribe_secret in [email]")
    secret = key.encode("utf-8") if isinstance(key, str) else key
    normalised = normalize_email(email) or ""
    digest = hmac.new(secret, normalised.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:TOKEN_LENGTH]


def verify_unsubscribe_token(email: str, token: str, key: str | bytes) -> bool:
    """Whether ``token`` is the one :func:`unsubscribe_token` gives ``email`` (constant-time)."""
    return hmac.compare_digest(unsubscribe_token(email, key), str(token).strip().lower())


def unsubscribe_link(email_section: EmailSection, email: str, secret_key: str | bytes | None = None) -> str | None:
    """The recipient's unsubscribe URI: ``unsubscribe_url`` filled in, else the ``mailto:``, else ``None``.

    ``secret_key`` overrides ``unsubscribe_secret``; a URL using ``{token}`` without either raises
    :class:`NotifyError`.
    """
    if email_section.unsubscribe_url:
        template = email_section.unsubscribe_url
        values = {"email": quote(email.strip(), safe="")}
        if "{token}" in template:
            key = secret_key
            if key is None and email_section.unsubscribe_secret is not None:
                key = email_section.unsubscribe_secret.get_secret_value()
            if not key:
                raise NotifyError(
                    "unsubscribe_url uses {token} but no key is set: add unsubscribe_secret to [email] "
                    "(and give the same key to your unsubscribe endpoint)"
                )
            values["token"] = unsubscribe_token(email, key)
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError) as exc:
            raise NotifyError(f"unsubscribe_url cannot be filled in ({exc}): use only {{email}} and {{token}}") from None
    if email_section.unsubscribe_mailto:
        return mailto_uri(email_section.unsubscribe_mailto)
    return None
