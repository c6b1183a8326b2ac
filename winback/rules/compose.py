"""Build the email of a ``send_email`` step: the rule's template and context, the store's facts,
the discount code actually created (or adopted), the recipient's unsubscribe link (marketing mail
only).

This module owns the template context: :func:`store_context` and :func:`customer_context` are the
only builders of the ``store`` and ``customer`` objects every template sees, and
:func:`email_context` always sets ``store`` from the store's current facts (its name, URL, logo,
currency and email), whatever a rule recorded, so every template can rely on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from winback.config import EmailSection
from winback.errors import NotifyError
from winback.notify import RenderedEmail, build_message, dkim_sign, oneclick, render_email, unsubscribe_link
from winback.notify import feedback_links as feedback_links_module
from winback.rules.base import PlannedAction, StoreFacts
from winback.rules.queries import full_name


def store_context(facts: StoreFacts) -> dict[str, Any]:
    """The ``store`` object of every email template."""
    return {
        "name": facts.name,
        "url": facts.url,
        "logo_url": facts.logo_url,
        "currency": facts.currency,
        "email": facts.email,
        "postal_address": facts.postal_address,
    }


def customer_context(email: str, first: str | None, last: str | None) -> dict[str, Any]:
    """The ``customer`` object of every email template."""
    display = full_name(first, last) or email
    return {"first_name": first, "last_name": last, "display_name": display, "email": email}


def email_context(
    action: PlannedAction, facts: StoreFacts, refs: Mapping[str, Any], settings: EmailSection
) -> tuple[str, dict[str, Any]]:
    """The template name and the full context it is rendered with.

    Only marketing mail gets an ``unsubscribe_url`` (the same link as its ``List-Unsubscribe``
    header); transactional mail gets ``None`` even if the rule's context had one, so its body never
    offers an unsubscribe it has no header for, and its template says instead why it was sent.
    """
    spec = action.payload.get("email")
    if not isinstance(spec, Mapping) or not spec.get("template"):
        raise NotifyError(f"the {action.rule} action for {action.email} has no email template in its payload")
    context: dict[str, Any] = dict(spec.get("context") or {})
    context["store"] = store_context(facts)
    if settings.postal_address:
        context["store"]["postal_address"] = settings.postal_address
    if "customer" not in context:
        first, _, last = (action.recipient_name or "").partition(" ")
        context["customer"] = customer_context(action.email, first or None, last or None)
    discount = action.payload.get("discount")
    if isinstance(discount, Mapping) or "discount_code" in refs:
        merged = {**dict(context.get("discount") or {}), **dict(discount or {})}
        if "discount_code" in refs:  # the code the platform holds (an adopted one may end earlier)
            merged["code"] = refs["discount_code"]
            if refs.get("discount_ends_at"):
                merged["ends_at"] = refs["discount_ends_at"]
        context["discount"] = merged
    answers = action.payload.get("feedback")
    if isinstance(answers, Mapping):
        context["feedback"] = {**dict(context.get("feedback") or {}), **feedback_links(settings, answers)}
    if not action.marketing:
        context["unsubscribe_url"] = None
    elif "unsubscribe_url" not in context:
        link = oneclick_link(settings, action.email) or unsubscribe_link(settings, action.email)
        if link is None:
            link = f"mailto:{sender_address(settings, facts)[1]}?subject=unsubscribe"
        context["unsubscribe_url"] = link
    return str(spec["template"]), context


def postal_address_problem(action: PlannedAction, facts: StoreFacts, settings: EmailSection) -> str | None:
    """Why ``action``'s email may not be sent for want of the sender's postal address (CAN-SPAM
    requires one in every commercial email), or ``None``."""
    if not action.marketing or settings.postal_address or facts.postal_address:
        return None
    return (f"marketing email needs the sender's postal address (CAN-SPAM) and {facts.name} has none: "
            "set postal_address under [store] in the client's config, or fill in the store's address on "
            "the platform and sync")


def oneclick_link(settings: EmailSection, email: str) -> str | None:
    """The ``winback serve`` one-click link of ``email`` when ``public_url`` is set, else ``None``."""
    if not settings.public_url or settings.oneclick is None:
        return None
    client, directory = settings.oneclick
    return oneclick.link(settings.public_url, oneclick.install_secret(directory), client, email)


def feedback_links(settings: EmailSection, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The 0-10 answer links of a feedback request (:mod:`winback.notify.feedback_links`): to the
    rule's ``answer_url`` when set, else to ``winback serve`` when ``public_url`` is."""
    serve = None
    if settings.public_url and settings.oneclick is not None:
        client, directory = settings.oneclick
        serve = (settings.public_url, oneclick.install_secret(directory), client)
    key = settings.unsubscribe_secret.get_secret_value() if settings.unsubscribe_secret is not None else None
    return feedback_links_module.links_for(spec, key=key, serve=serve)


def sender_address(settings: EmailSection, facts: StoreFacts) -> tuple[str | None, str]:
    """(display name, address) of the From header: ``[email]``, else the store's own."""
    name, address = parseaddr(settings.from_address or "")
    if not address:
        if not facts.email:
            raise NotifyError(
                f"no sender address for {facts.name}: set from_address under [email] in the client's config"
            )
        name, address = "", facts.email
    return (settings.from_name or name or facts.name or None), address


def compose_email(
    action: PlannedAction, facts: StoreFacts, refs: Mapping[str, Any], settings: EmailSection, now: datetime
) -> EmailMessage:
    """The ready-to-send message; :class:`NotifyError` if it cannot be rendered or addressed."""
    template, context = email_context(action, facts, refs, settings)
    rendered = render_email(template, context, overrides_dir=settings.templates_dir)
    from_name, from_address = sender_address(settings, facts)
    hosted = settings.unsubscribe_url or (settings.public_url and settings.oneclick)
    url = context.get("unsubscribe_url") if action.marketing and hosted else None
    mailto = settings.unsubscribe_mailto if action.marketing else None
    if action.marketing and not url and not mailto:
        mailto = from_address
    message = build_message(
        rendered,
        from_address=from_address,
        from_name=from_name,
        to_address=action.email,
        to_name=action.recipient_name,
        reply_to=settings.reply_to,
        unsubscribe_url=url,
        unsubscribe_mailto=mailto,
        message_key=action.idempotency_key,
        marketing=action.marketing,
        date=now,
    )
    key = dkim_key(settings)
    if key is not None:
        assert settings.dkim_selector and settings.dkim_domain
        dkim_sign.sign(message, settings.dkim_selector, settings.dkim_domain, key)
    return message


def dkim_key(settings: EmailSection) -> bytes | None:
    """The DKIM key when ``[email]`` asks winback to sign, else ``None``."""
    if settings.dkim_private_key_file is None:
        return None
    path = settings.dkim_private_key_file
    if not path.is_absolute() and settings.oneclick is not None:
        path = settings.oneclick[1] / path
    return dkim_sign.load_key(path)


def render_for_preview(
    action: PlannedAction, facts: StoreFacts, settings: EmailSection, refs: Mapping[str, Any] | None = None
) -> RenderedEmail:
    """The email the action would send (codes as planned)."""
    template, context = email_context(action, facts, refs or {}, settings)
    return render_email(template, context, overrides_dir=settings.templates_dir)
