"""The suppression list: addresses that never get anything from winback, for one store or all.

The planner holds every action whose address is listed (:meth:`SuppressionList.suppressed`);
``winback suppress`` adds, removes and lists entries. Addresses are stored and matched as
:func:`winback.model.normalize_email` spells them, like every other ``lower_email``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select

from winback.model import normalize_email
from winback.sync import LocalStore, tables
from winback.sync.derive import chunks
from winback.sync.store import db_errors

_suppressions = tables.suppressions
_db_errors = db_errors("the suppression list")


class SuppressionList:
    """The suppression list of one database. Each method is one transaction."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store

    @_db_errors
    def suppress(self, email: str, now: datetime, *, store_key: str | None = None, reason: str | None = None) -> bool:
        """Add ``email`` (for one store, or every store when ``store_key`` is None); False if listed."""
        key = normalize_email(email)
        if key is None:
            raise ValueError("cannot suppress an empty email address")
        with self.store.writing() as conn:
            if conn.execute(select(_suppressions.c.id).where(_match(key, store_key))).first():
                return False
            conn.execute(
                _suppressions.insert().values(store_key=store_key, lower_email=key, reason=reason, created_at=now)
            )
        return True

    @_db_errors
    def unsuppress(self, email: str, *, store_key: str | None = None) -> bool:
        """Remove ``email``'s entry for ``store_key`` (the all-stores one when None); False if none."""
        key = normalize_email(email)
        if key is None:
            return False
        with self.store.writing() as conn:
            return bool(conn.execute(delete(_suppressions).where(_match(key, store_key))).rowcount)

    @_db_errors
    def suppressions(self, store_key: str | None = None) -> list[dict[str, Any]]:
        """The entries that apply to ``store_key`` (its own and the all-stores ones); all if None."""
        query = select(_suppressions).order_by(_suppressions.c.lower_email, _suppressions.c.id)
        if store_key is not None:
            query = query.where(_applies_to(store_key))
        with self.store.reading() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    @_db_errors
    def suppressed(self, store_key: str, emails: Iterable[str]) -> set[str]:
        """The addresses among ``emails`` suppressed for this store, normalised."""
        found: set[str] = set()
        with self.store.reading() as conn:
            for chunk in chunks({key for key in map(normalize_email, emails) if key}, 500):
                query = select(_suppressions.c.lower_email).where(
                    _suppressions.c.lower_email.in_(chunk), _applies_to(store_key)
                )
                found.update(conn.execute(query).scalars())
        return found


def _applies_to(store_key: str) -> Any:
    return or_(_suppressions.c.store_key == store_key, _suppressions.c.store_key.is_(None))


def _match(lower_email: str, store_key: str | None) -> Any:
    scope = _suppressions.c.store_key.is_(None) if store_key is None else _suppressions.c.store_key == store_key
    return and_(_suppressions.c.lower_email == lower_email, scope)
