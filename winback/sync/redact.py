"""Forgetting a person (GDPR erasure, Shopify ``customers/redact``) inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, or_, select, update

from winback.model import normalize_email
from winback.sync import derive, rows, tables
from winback.sync.writes import REDACTED_CUSTOMER, REDACTED_ORDER, upsert, utcnow


UNKNOWN_CURRENCY = "XXX"
"""ISO 4217's code for "no currency": a placeholder until the store's first sync says."""


def _ensure_store_row(conn: Connection, store_key: str) -> None:
    """A redaction can arrive before the store's first sync (Shopify sends ``customers/redact`` to
    any installed app): a placeholder store row lets the erasure and its email hash be recorded,
    and the first sync's :meth:`~winback.sync.store.LocalStore.upsert_store` fills in the rest."""
    s = tables.stores
    if conn.execute(select(s.c.key).where(s.c.key == store_key)).first() is None:
        platform, _, store_id = store_key.partition(":")
        conn.execute(s.insert().values(key=store_key, platform=platform, store_id=store_id or store_key,
                                       name=store_id or store_key, currency=UNKNOWN_CURRENCY))


def redact_customer(
    conn: Connection, store_key: str, customer_id: str | None = None, *, email: str | None = None, at: datetime | None = None
) -> None:
    """Forget a customer's personal data (GDPR / Shopify ``customers/redact``).

    Nulls the customer's name, email, phone, address and tags and flags the row redacted
    (creating a flagged stub if the customer was never synced), scrubs the email and billing
    address of their orders and of guest orders with their email, drops their buyer row and
    their email and mail payloads from the action ledger, unlinks their feedback answers (comment
    and email go, the score stays), and remembers a hash of the email so later syncs do
    not bring the data back. Order amounts and dates stay: they are not personal.
    """
    if customer_id is None and email is None:
        raise ValueError("redact_customer needs a customer id or an email")
    at = at or utcnow()
    _ensure_store_row(conn, store_key)
    c, o = tables.customers, tables.orders
    emails = {e for e in [normalize_email(email)] if e}
    if customer_id is not None:
        old = conn.execute(
            select(c.c.lower_email).where(c.c.store_key == store_key, c.c.id == customer_id)
        ).first()
        if old is None:
            conn.execute(
                c.insert().values(
                    store_key=store_key, id=customer_id, updated_at=at, account_state="guest",
                    consent_state="unknown", tags=[], redacted=True, deleted_at=at, is_guest=True,
                )
            )
        elif old[0]:
            emails.add(old[0])
    ids: set[str] = {customer_id} if customer_id else set()
    if emails:
        ids.update(
            conn.execute(select(c.c.id).where(c.c.store_key == store_key, c.c.lower_email.in_(emails))).scalars()
        )
    for lower in emails:
        upsert(
            conn,
            tables.redactions,
            [{"store_key": store_key, "email_hash": rows.email_hash(store_key, lower), "redacted_at": at}],
        )
    if ids:
        conn.execute(
            update(c)
            .where(c.c.store_key == store_key, c.c.id.in_(ids))
            .values(**REDACTED_CUSTOMER, redacted=True, deleted_at=func.coalesce(c.c.deleted_at, at))
        )
    match = []
    if ids:
        match.append(o.c.customer_id.in_(ids))
    if emails:
        match.append(o.c.lower_email.in_(emails))
    # Answers to feedback requests: the link to the person and their words go; the score stays.
    fb = tables.feedback
    fb_match = [fb.c.lower_email.in_(emails)] if emails else []
    fb_match.append(fb.c.order_id.in_(select(o.c.id).where(o.c.store_key == store_key, or_(*match))))
    conn.execute(update(fb).where(fb.c.store_key == store_key, or_(*fb_match)).values(lower_email=None, comment=None))
    # Scrubbing an order's email takes it from that email's buyer and may change the email shown
    # for its customer's: both buyers are recomputed, bar the forgotten emails' (dropped below).
    scrubbed = select(o.c.lower_email, o.c.customer_id).where(o.c.store_key == store_key, or_(*match)).subquery()
    buyers = {e for e in conn.execute(select(scrubbed.c.lower_email)).scalars() if e}
    buyers.update(e for e in conn.execute(
        select(c.c.lower_email).where(c.c.store_key == store_key, c.c.id.in_(select(scrubbed.c.customer_id)))
    ).scalars() if e)
    conn.execute(update(o).where(o.c.store_key == store_key, or_(*match)).values(**REDACTED_ORDER))
    if emails:
        conn.execute(
            delete(tables.buyers).where(
                tables.buyers.c.store_key == store_key, tables.buyers.c.lower_email.in_(emails)
            )
        )
    ledger = tables.action_ledger
    ledger_match = [func.lower(ledger.c.email).in_(emails), ledger.c.lower_email.in_(emails)] if emails else []
    if ids:
        ledger_match.append(ledger.c.customer_id.in_(ids))
    # The payload holds the mail's context (email, names); key, status, kind and times stay so
    # counts and idempotency keep working.
    conn.execute(
        update(ledger).where(ledger.c.store_key == store_key, or_(*ledger_match))
        .values(email=None, lower_email=None, payload={})
    )
    q = tables.quarantine
    if ids:
        conn.execute(
            delete(q).where(q.c.store_key == store_key, q.c.resource == "customers", q.c.record_id.in_(ids))
        )
    derive.recompute_customers(conn, store_key, ids)
    derive.recompute_buyers(conn, store_key, buyers - emails)
