"""The emulated shop's records of one resource type, with the sorted indexes that pagination reads.

Records are plain dicts whose keys are the GraphQL field names (see :mod:`.state`); a collection
keeps them by numeric id and sorts them once per sort key until a write changes them.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from winback.emulator.shopify.search import Field

Record = dict[str, Any]

SORT_FIELDS = {"ID": None, "UPDATED_AT": "updatedAt", "CREATED_AT": "createdAt", "PROCESSED_AT": "processedAt"}
"""Sort keys the emulator honours; any other valid key sorts by ID."""


@dataclass
class Collection:
    """One resource type: records by numeric id plus cached sorted indexes per sort key."""

    name: str
    by_num: dict[int, Record] = field(default_factory=dict)
    search_fields: dict[str, Field] = field(default_factory=dict)
    text: Callable[[Record], str] = lambda record: ""
    _indexes: dict[str, tuple[list[tuple[Any, int]], list[Record]]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def add(self, record: Record) -> None:
        with self._lock:
            self.by_num[record["_num"]] = record
            self._indexes.clear()

    def changed(self) -> None:
        with self._lock:
            self._indexes.clear()

    def index(self, sort_key: str) -> tuple[list[tuple[Any, int]], list[Record]]:
        """``(keys, records)`` sorted ascending by ``(value, numeric id)``."""
        attribute = SORT_FIELDS.get(sort_key)
        if sort_key not in SORT_FIELDS or (attribute and self.by_num and attribute not in next(iter(self.by_num.values()))):
            sort_key, attribute = "ID", None
        with self._lock:
            cached = self._indexes.get(sort_key)
            if cached is None:
                if attribute is None:
                    records = sorted(self.by_num.values(), key=lambda r: r["_num"])
                    keys = [(r["_num"], r["_num"]) for r in records]
                else:
                    records = sorted(self.by_num.values(), key=lambda r: (r[attribute], r["_num"]))
                    keys = [(r[attribute], r["_num"]) for r in records]
                cached = self._indexes[sort_key] = (keys, records)
            return cached

    @staticmethod
    def sort_value(record: Record, sort_key: str) -> Any:
        attribute = SORT_FIELDS.get(sort_key)
        if attribute is None or attribute not in record:
            return record["_num"]
        return record[attribute]

    def scan(
        self, sort_key: str, reverse: bool, after: tuple[Any, int] | None, predicate: Callable[[Record], bool] | None
    ) -> Iterator[Record]:
        """Matching records in order, strictly after the ``after`` position."""
        keys, records = self.index(sort_key)
        if not reverse:
            start = bisect_right(keys, after) if after is not None else 0
            positions = range(start, len(records))
        else:
            start = bisect_left(keys, after) - 1 if after is not None else len(records) - 1
            positions = range(start, -1, -1)
        for position in positions:
            record = records[position]
            if predicate is None or predicate(record):
                yield record
