"""Raw Ecwid search results → pages of :mod:`winback.model` records, the unreadable quarantined.

Why a module of its own: the connector speaks HTTP; this is what it does with a page of raw
records once :class:`~winback.connectors.ecwid.reader.WindowedReader` has ordered them, and it runs
once per record, so it is kept lean. What a caller may rely on:

* a record the parser refuses (:class:`~winback.connectors.ecwid.values.RecordError` or any
  ``ValueError``, ``TypeError``, ``KeyError``) becomes a :class:`RejectedRecord` whose reason is
  the first line of the error (at most 300 characters), with the raw record kept as it came;
* INCOMPLETE orders (abandoned checkouts) are dropped, neither records nor rejected;
* ``newest_updated_at`` is the latest ``updated_at`` of the page, a rejected record counting by
  the seconds its sort key gives (none when 0), so the cursor passes it too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from winback.connectors.base import Page, RejectedRecord, Resource
from winback.connectors.ecwid import parse, typed
from winback.connectors.ecwid.reader import FetchPage, RecordKey, SortKey, WindowedReader
from winback.connectors.ecwid.settings import EcwidSettings

log = logging.getLogger("winback.connectors.ecwid")

Parser = Callable[..., Any]
"""``parser(raw, store_id=..., currency=...)`` → a model record, or raises."""
_REFUSED = (parse.RecordError, ValueError, TypeError, KeyError)


def order_seconds(raw: Mapping[str, Any] | typed.OrderRecord) -> int:
    """:func:`parse.sort_key_seconds` of an order, its common case (plain UNIX seconds) read here."""
    if type(raw) is typed.OrderRecord:
        return raw.updateTimestamp
    seconds = raw.get("updateTimestamp")
    if type(seconds) is int and seconds in parse.PLAIN_SECONDS:
        return seconds
    return parse.sort_key_seconds(raw, "updateTimestamp", "updateDate")


def order_key(raw: Any) -> str | None:
    """:func:`parse.record_id` of an order, typed or not: the reader's key to de-duplicate by."""
    if type(raw) is typed.OrderRecord:
        return raw.id
    return parse.record_id(raw)


def customer_seconds(raw: Mapping[str, Any] | typed.CustomerRecord) -> int:
    """A customer is placed by ``updated``, else ``registered`` (see :func:`parse.customer_updated`)."""
    try:
        if type(raw) is typed.CustomerRecord:
            return int(typed.customer_updated(raw).timestamp())
        return int(parse.customer_updated(raw).timestamp())
    except parse.RecordError:
        return 0


def product_seconds(raw: Mapping[str, Any]) -> int:
    return parse.sort_key_seconds(raw, "updateTimestamp", "updated")


def windowed(fetch: FetchPage, settings: EcwidSettings, updated_of: SortKey, key_of: RecordKey | None = None,
             base: Mapping[str, Any] | None = None) -> WindowedReader:
    """The reader of one search endpoint, paged and windowed as ``settings`` say."""
    return WindowedReader(
        fetch,
        updated_of=updated_of,
        **({"key_of": key_of} if key_of is not None else {}),
        base_params=base,
        page_size=settings.page_size,
        window_max=settings.window_max_records,
        concurrency=settings.concurrent_requests,
    )


def translate(resource: Resource, raws: list[Any], parser: Parser, ts_of: SortKey, *,
              store_id: str, currency: str, store_label: str, fast: Parser | None = None) -> Page[Any]:
    """One page of raw records as models, oldest first as they came; see the module's docstring.

    ``fast`` reads the :class:`typed.Record` among ``raws`` (:func:`typed.order`,
    :func:`typed.customer`) as ``parser`` would read them decoded as dicts; when it gives ``None`` or
    raises, or when there is no ``fast``, ``parser`` reads the record decoded as dicts."""
    drop_incomplete = resource == Resource.ORDERS
    is_real_order = parse.is_real_order
    records: list[Any] = []
    rejected: list[RejectedRecord] = []
    newest: datetime | None = None
    for raw in raws:
        record = None
        if isinstance(raw, typed.Record):
            if drop_incomplete and type(raw) is typed.OrderRecord and not typed.is_real_order(raw):
                continue
            try:
                record = None if fast is None else fast(raw, store_id=store_id, currency=currency)
            except _REFUSED:
                record = None
            if record is None:
                raw = raw.source()
        if record is None:
            if drop_incomplete and (type(raw) is dict or isinstance(raw, Mapping)) and not is_real_order(raw):
                continue
            try:
                record = parser(raw, store_id=store_id, currency=currency)
            except _REFUSED as exc:
                record = None
                when = _quarantine(resource, raw, exc, ts_of, store_label, rejected)
        if record is not None:
            records.append(record)
            when = record.updated_at
        if when is not None and (newest is None or when > newest):
            newest = when
    return Page(records=records, rejected=rejected, newest_updated_at=newest)


def _quarantine(resource: Resource, raw: Any, exc: Exception, ts_of: SortKey, store_label: str,
                rejected: list[RejectedRecord]) -> datetime | None:
    """Log and keep one refused record; returns when it was updated, if its sort key says."""
    rid = parse.record_id(raw)
    reason = str(exc).splitlines()[0][:300]
    log.warning("%s: %s %s could not be read and was quarantined: %s",
                store_label, resource.value, rid or "(no id)", reason)
    is_object = isinstance(raw, Mapping)
    rejected.append(RejectedRecord(resource=resource, record_id=rid, reason=reason,
                                   raw=dict(raw) if is_object else {"value": raw}))
    seconds = ts_of(raw) if is_object else 0
    return datetime.fromtimestamp(seconds, tz=timezone.utc) if seconds else None
