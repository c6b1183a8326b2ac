"""What a connector's reads yield: pages of model records, rejected records with their payload,
and pages of deletions.

Kept apart from the connector protocol (:mod:`winback.connectors.base`, which re-exports every
name) because the sync engine and the rules consume these shapes without needing the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

__all__ = ["Deletion", "DeletionPage", "Page", "RejectedRecord", "Resource"]


T = TypeVar("T")


class Resource(StrEnum):
    CUSTOMERS = "customers"
    ORDERS = "orders"
    PRODUCTS = "products"


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """A record the platform sent that we could not translate; kept raw for quarantine."""

    resource: Resource
    record_id: str | None
    reason: str
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a read, in the platform's order.

    ``records`` are translated; ``rejected`` could not be. ``newest_updated_at`` is the largest
    ``updated_at`` seen on the page (including rejected records when the platform gave one), which
    the sync engine may use as a cursor once the page is committed.
    """

    records: list[T]
    rejected: list[RejectedRecord] = field(default_factory=list)
    newest_updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Deletion:
    """One record the platform says was deleted: its id as the reads give it, and when."""

    resource: Resource
    record_id: str
    deleted_at: datetime


@dataclass(frozen=True, slots=True)
class DeletionPage:
    """One page of deletions, oldest first. ``newest_deleted_at`` is the largest ``deleted_at`` on
    the page (the deletion cursor once the page is committed); ``skipped`` counts entries the
    connector could not read (logged, never fatal: a deletion missed is re-read by the next
    overlapping read or stays a stale row, never a wrong write)."""

    deletions: list[Deletion]
    newest_deleted_at: datetime | None = None
    skipped: int = 0
