"""Unsubscribes reaching the platform: the durable ``consent_changes`` queue.

An unsubscribe takes effect locally at once (the suppression list) and is queued here for the
platform's own consent (Shopify ``customerEmailMarketingConsentUpdate``, Ecwid
``acceptMarketing``). :func:`push_pending` sends the queue as a ledger does: the row is marked
``pushing`` and committed (intent), the connector reads the platform and writes only if it says
otherwise (act), the row is marked ``done`` (result). A push cut short after the write finds
the platform already changed on the next attempt and writes nothing, so each change reaches the
platform exactly once, whether ``winback serve``'s retry loop or the next ``winback run`` sends it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from winback.connectors.base import Connector
from winback.errors import MissingScopeError, NotSupportedError, WinbackError
from winback.model import normalize_email
from winback.notify.oneclick import masked
from winback.rules.suppressions import SuppressionList
from winback.sync import LocalStore, tables
from winback.sync.store import db_errors

log = logging.getLogger(__name__)
_changes = tables.consent_changes
_db_errors = db_errors("the consent change queue")
REASON = "unsubscribed by link"
"""The suppression reason of a one-click unsubscribe; an undo removes only entries with it."""
MAX_BACKOFF = timedelta(hours=1)


@dataclass(slots=True)
class PushReport:
    """What one :func:`push_pending` did."""

    written: int = 0
    already: int = 0
    no_customer: int = 0
    failed: int = 0
    unreachable: int = 0
    """Changes ended because the credentials cannot reach the platform's customers."""
    errors: list[str] = field(default_factory=list)


class ConsentQueue:
    """The queue of one database. Each method is one transaction."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store

    @_db_errors
    def unsubscribe(self, store_key: str, email: str, source: str, now: datetime | None = None) -> bool:
        """Suppress ``email`` for the store now and queue the platform change; False if it was
        already unsubscribed by link (nothing new queued)."""
        now = now or datetime.now(UTC)
        key = normalize_email(email) or ""
        added = SuppressionList(self.store).suppress(key, now, store_key=store_key, reason=REASON)
        with self.store.writing() as conn:
            open_ = self._open_change(conn, store_key, key)
            if open_ is not None and not open_["subscribed"]:
                return added
            if open_ is not None and open_["status"] == "pending":  # an undo not yet pushed: drop both
                conn.execute(update(_changes).where(_changes.c.id == open_["id"])
                             .values(status="cancelled", finished_at=now))
                if self._last_done(conn, store_key, key) is False:
                    return True
            conn.execute(_changes.insert().values(
                store_key=store_key, lower_email=key, subscribed=False, source=source, status="pending",
                created_at=now, next_attempt_at=now,
            ))
        return True

    @_db_errors
    def undo(self, store_key: str, email: str, now: datetime | None = None) -> bool:
        """Take back an unsubscribe made by link: the suppression entry goes and the platform gets
        its consent back (or, if the unsubscribe never reached it, it is cancelled)."""
        now = now or datetime.now(UTC)
        key = normalize_email(email) or ""
        entries = [e for e in SuppressionList(self.store).suppressions(store_key)
                   if e["lower_email"] == key and e["store_key"] == store_key]
        if not entries or any(e["reason"] != REASON for e in entries):
            return False
        SuppressionList(self.store).unsuppress(key, store_key=store_key)
        with self.store.writing() as conn:
            open_ = self._open_change(conn, store_key, key)
            if open_ is not None and open_["status"] == "pending" and not open_["subscribed"]:
                conn.execute(update(_changes).where(_changes.c.id == open_["id"])
                             .values(status="cancelled", finished_at=now))
                return True
            conn.execute(_changes.insert().values(
                store_key=store_key, lower_email=key, subscribed=True, source="undo", status="pending",
                created_at=now, next_attempt_at=now,
            ))
        return True

    def _open_change(self, conn: Any, store_key: str, key: str) -> dict[str, Any] | None:
        row = conn.execute(
            select(_changes).where(_changes.c.store_key == store_key, _changes.c.lower_email == key,
                                   _changes.c.status.in_(("pending", "pushing")))
            .order_by(_changes.c.id.desc()).limit(1)
        ).mappings().first()
        return dict(row) if row else None

    def _last_done(self, conn: Any, store_key: str, key: str) -> bool | None:
        row = conn.execute(
            select(_changes.c.subscribed).where(_changes.c.store_key == store_key, _changes.c.lower_email == key,
                                                _changes.c.status == "done")
            .order_by(_changes.c.id.desc()).limit(1)
        ).first()
        return None if row is None else bool(row[0])

    @_db_errors
    def due(self, store_key: str, now: datetime | None = None) -> list[dict[str, Any]]:
        """Changes to push now, oldest first (a ``pushing`` one was cut short: it is due again)."""
        now = now or datetime.now(UTC)
        with self.store.reading() as conn:
            rows = conn.execute(
                select(_changes).where(
                    _changes.c.store_key == store_key, _changes.c.status.in_(("pending", "pushing")),
                    (_changes.c.next_attempt_at.is_(None)) | (_changes.c.next_attempt_at <= now),
                ).order_by(_changes.c.id)
            ).mappings()
            return [dict(r) for r in rows]

    @_db_errors
    def pending_count(self, store_key: str) -> int:
        with self.store.reading() as conn:
            return int(conn.execute(select(func.count()).select_from(_changes).where(
                _changes.c.store_key == store_key, _changes.c.status.in_(("pending", "pushing")))).scalar_one())

    @_db_errors
    def _mark(self, change_id: int, **values: Any) -> None:
        with self.store.writing() as conn:
            conn.execute(update(_changes).where(_changes.c.id == change_id).values(**values))

    @_db_errors
    def history(self, store_key: str) -> list[dict[str, Any]]:
        with self.store.reading() as conn:
            return [dict(r) for r in conn.execute(
                select(_changes).where(_changes.c.store_key == store_key).order_by(_changes.c.id)).mappings()]


async def push_pending(store: LocalStore, store_key: str, connector: Connector,
                       now: datetime | None = None, base_wait: timedelta = timedelta(seconds=5)) -> PushReport:
    """Send every due change of the store through ``connector`` (see the module docstring).

    A platform error leaves the change pending with a growing wait (``base_wait`` doubling, at most
    an hour); a platform
    that cannot take consent writes ends the change as done with that noted (the local list holds).
    Credentials that lack the scope (Ecwid's default token reads orders and products only) end it
    the same way with result ``unreachable``: retrying cannot help until the merchant grants the
    scope, and the remedy is logged once per push rather than once per change.
    """
    import asyncio

    queue = ConsentQueue(store)
    report = PushReport()
    for change in await asyncio.to_thread(queue.due, store_key, now):
        moment = datetime.now(UTC)
        attempts = int(change["attempts"]) + 1
        await asyncio.to_thread(queue._mark, change["id"], status="pushing", attempts=attempts)
        try:
            result = await connector.set_email_marketing(change["lower_email"], bool(change["subscribed"]))
        except NotSupportedError as exc:
            await asyncio.to_thread(queue._mark, change["id"], status="done", result="unsupported",
                                    last_error=str(exc)[:500], finished_at=moment)
            continue
        except MissingScopeError as exc:
            await asyncio.to_thread(queue._mark, change["id"], status="done", result="unreachable",
                                    last_error=str(exc)[:500], finished_at=moment)
            if not report.unreachable:
                log.warning("consent changes cannot reach %s, kept in the local suppression list only: %s",
                            store_key, exc)
            report.unreachable += 1
            continue
        except WinbackError as exc:
            wait = min(MAX_BACKOFF, base_wait * 2 ** min(attempts - 1, 12))
            await asyncio.to_thread(queue._mark, change["id"], status="pending", last_error=str(exc)[:500],
                                    next_attempt_at=moment + wait)
            report.failed += 1
            report.errors.append(str(exc))
            log.info("consent change for %s waits (%s)", masked(change["lower_email"]), type(exc).__name__)
            continue
        await asyncio.to_thread(queue._mark, change["id"], status="done", result=result.value,
                                last_error=None, finished_at=datetime.now(UTC))
        setattr(report, result.value, getattr(report, result.value) + 1)
    return report
