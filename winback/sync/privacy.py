"""What the privacy webhooks ask of the local store: everything held on one customer, and
erasing a whole store (Shopify ``customers/data_request`` and ``shop/redact``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, delete, func, or_, select

from winback.model import normalize_email
from winback.sync import tables
from winback.sync.store import LocalStore, db_errors

_db_errors = db_errors("the privacy request")


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _rows(conn: Connection, table: Table, *where: Any) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in conn.execute(select(table).where(*where)).mappings()]


@_db_errors
def customer_data(store: LocalStore, store_key: str, customer_id: str | None, email: str | None) -> dict[str, Any]:
    """Every row winback holds on the customer (by platform id and/or email), table by table."""
    c, o = tables.customers, tables.orders
    key = normalize_email(email)
    with store.reading() as conn:
        who = []
        if customer_id:
            who.append(c.c.id == customer_id)
        if key:
            who.append(c.c.lower_email == key)
        customers = _rows(conn, c, c.c.store_key == store_key, or_(*who)) if who else []
        ids = {row["id"] for row in customers} | ({customer_id} if customer_id else set())
        emails = {row["lower_email"] for row in customers if row["lower_email"]} | ({key} if key else set())
        order_match = [o.c.customer_id.in_(ids)] if ids else []
        if emails:
            order_match.append(o.c.lower_email.in_(emails))
        orders = _rows(conn, o, o.c.store_key == store_key, or_(*order_match)) if order_match else []
        order_ids = [row["id"] for row in orders]
        lines = _rows(conn, tables.order_lines, tables.order_lines.c.store_key == store_key,
                      tables.order_lines.c.order_id.in_(order_ids)) if order_ids else []
        ledger = tables.action_ledger
        ledger_match = [ledger.c.customer_id.in_(ids)] if ids else []
        if emails:
            ledger_match.append(ledger.c.lower_email.in_(emails))
        actions = _rows(conn, ledger, ledger.c.store_key == store_key, or_(*ledger_match)) if ledger_match else []
        by_email = list(emails)
        buyers = _rows(conn, tables.buyers, tables.buyers.c.store_key == store_key,
                       tables.buyers.c.lower_email.in_(by_email)) if by_email else []
        suppressions = _rows(conn, tables.suppressions, tables.suppressions.c.lower_email.in_(by_email),
                             or_(tables.suppressions.c.store_key == store_key,
                                 tables.suppressions.c.store_key.is_(None))) if by_email else []
        consent = _rows(conn, tables.consent_changes, tables.consent_changes.c.store_key == store_key,
                        tables.consent_changes.c.lower_email.in_(by_email)) if by_email else []
        fb = tables.feedback
        fb_match = [fb.c.order_id.in_(order_ids)] if order_ids else []
        if by_email:
            fb_match.append(fb.c.lower_email.in_(by_email))
        answers = _rows(conn, fb, fb.c.store_key == store_key, or_(*fb_match)) if fb_match else []
    return {"customers": customers, "orders": orders, "order_lines": lines, "buyers": buyers,
            "actions": actions, "suppressions": suppressions, "consent_changes": consent, "feedback": answers}


@_db_errors
def erase_consent_history(store: LocalStore, store_key: str, email: str) -> int:
    """Drop every consent change of ``email``, open ones included (a redacted customer keeps no
    history). An open change would otherwise finish later and keep the email for good; after
    ``customers/redact`` the platform has erased the customer, so there is nothing left to push,
    and a push already in flight only updates a row that is gone."""
    key = normalize_email(email)
    cc = tables.consent_changes
    with store.writing() as conn:
        return conn.execute(delete(cc).where(cc.c.store_key == store_key, cc.c.lower_email == key)).rowcount or 0


@_db_errors
def erase_store(store: LocalStore, store_key: str) -> dict[str, int]:
    """Delete every row of the store in every table (children first); counts per table.
    The ``webhook_events`` rows stay, without payloads, so a repeated delivery is still known, and
    so does the disconnected mark (``shop/redact`` follows an uninstall)."""
    counts: dict[str, int] = {}
    with store.writing() as conn:
        for table in reversed(tables.metadata.sorted_tables):
            if table in (tables.webhook_events, tables.store_connections) or "store_key" not in table.c:
                continue
            column = table.c.store_key if table is not tables.stores else None
            where = column == store_key if column is not None else table.c.key == store_key
            counts[table.name] = conn.execute(delete(table).where(where)).rowcount or 0
        if "key" in tables.stores.c:
            counts["stores"] = conn.execute(delete(tables.stores).where(tables.stores.c.key == store_key)).rowcount or 0
        ev = tables.webhook_events
        conn.execute(ev.update().where(ev.c.store_key == store_key).values(payload=None))
    return counts


@_db_errors
def count_customers(store: LocalStore, store_key: str) -> int:
    with store.reading() as conn:
        return int(conn.execute(select(func.count()).select_from(tables.customers)
                                .where(tables.customers.c.store_key == store_key)).scalar_one())
