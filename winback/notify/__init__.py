"""Render and send emails safely.

* :func:`render_email` renders a template (``X.subject.txt``, ``X.html``, ``X.txt``) in a sandbox,
  HTML autoescaped, client overrides first, then winback's defaults;
* :func:`build_message` makes a multipart/alternative message with header-injection-safe names and
  addresses, a deterministic ``Message-ID`` and, for marketing mail, ``List-Unsubscribe``;
* :class:`OutboxSender` and :class:`SmtpSender` deliver it (:func:`sender_from_config` picks one);
* :func:`unsubscribe_link` builds a recipient's unsubscribe URL; :func:`render_preview_html` a page
  for ``winback preview``.
"""

from winback.notify.message import build_message, check_address, clean_name, message_bytes, message_id
from winback.notify.outbox import OutboxSender
from winback.notify.preview import render_preview_html
from winback.notify.ratelimit import TokenBucket
from winback.notify.senders import Sender, sender_from_config
from winback.notify.smtp import SmtpSender
from winback.notify.templates import (
    RenderedEmail,
    available_templates,
    format_date,
    format_discount,
    format_price,
    render_email,
)
from winback.notify.unsubscribe import (
    unsubscribe_link,
    unsubscribe_token,
    verify_unsubscribe_token,
)

__all__ = [
    "OutboxSender",
    "RenderedEmail",
    "Sender",
    "SmtpSender",
    "TokenBucket",
    "available_templates",
    "build_message",
    "check_address",
    "clean_name",
    "format_date",
    "format_discount",
    "format_price",
    "message_bytes",
    "message_id",
    "render_email",
    "render_preview_html",
    "sender_from_config",
    "unsubscribe_link",
    "unsubscribe_token",
    "verify_unsubscribe_token",
]
