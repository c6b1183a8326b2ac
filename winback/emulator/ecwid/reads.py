"""The emulator's read routes: the store profile, and search and get for each resource.

Each handler takes the :class:`~winback.emulator.ecwid.state.EcwidState` and the request, holds the
state's lock while it reads, and answers Ecwid's JSON; scope checks and routing stay in the app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from winback.emulator.ecwid.index import PROBE_ITEMS, PROBE_MIN_RECORDS, ByUpdated, leading
from winback.emulator.ecwid.protocol import (
    MAX_LIMIT,
    ApiError,
    DateBounds,
    bool_param,
    date_bounds,
    envelope,
    filter_dates,
    int_param,
    ok,
    page,
    page_bounds,
    unix_param,
)
from winback.emulator.ecwid.state import EcwidState, Record
from winback.emulator.server import Request, Response

_CUSTOMER_SORTS: dict[str, tuple[Callable[[Record], Any], bool]] = {
    "NAME_ASC": (lambda r: str(r.body.get("name", "")).casefold(), False),
    "NAME_DESC": (lambda r: str(r.body.get("name", "")).casefold(), True),
    "EMAIL_ASC": (lambda r: str(r.body.get("email", "")).casefold(), False),
    "EMAIL_DESC": (lambda r: str(r.body.get("email", "")).casefold(), True),
    "REGISTERED_DATE_ASC": (lambda r: r.created, False),
    "REGISTERED_DATE_DESC": (lambda r: r.created, True),
    "UPDATED_DATE_ASC": (lambda r: r.updated, False),
    "UPDATED_DATE_DESC": (lambda r: r.updated, True),
    "ORDER_COUNT_ASC": (lambda r: r.body.get("totalOrderCount", 0), False),
    "ORDER_COUNT_DESC": (lambda r: r.body.get("totalOrderCount", 0), True),
    "SALES_VALUE_ASC": (lambda r: _stat(r, "salesValue", 0), False),
    "SALES_VALUE_DESC": (lambda r: _stat(r, "salesValue", 0), True),
    "FIRST_ORDER_DATE_ASC": (lambda r: _stat(r, "firstOrderDate", ""), False),
    "FIRST_ORDER_DATE_DESC": (lambda r: _stat(r, "firstOrderDate", ""), True),
    "LAST_ORDER_DATE_ASC": (lambda r: _stat(r, "lastOrderDate", ""), False),
    "LAST_ORDER_DATE_DESC": (lambda r: _stat(r, "lastOrderDate", ""), True),
}
CUSTOMERS_DEFAULT_LIMIT = 10
"""Ecwid's documented default page size for customers (orders, products and coupons: 100)."""
_PRODUCT_SORTS: dict[str, tuple[Callable[[Record], Any], bool]] = {
    "DEFINED_BY_STORE_OWNER": (lambda r: r.body["id"], False),
    "ADDED_TIME_ASC": (lambda r: r.created, False),
    "ADDED_TIME_DESC": (lambda r: r.created, True),
    "UPDATED_TIME_ASC": (lambda r: r.updated, False),
    "UPDATED_TIME_DESC": (lambda r: r.updated, True),
    "NAME_ASC": (lambda r: str(r.body.get("name", "")).casefold(), False),
    "NAME_DESC": (lambda r: str(r.body.get("name", "")).casefold(), True),
    "PRICE_ASC": (lambda r: r.body.get("price", 0), False),
    "PRICE_DESC": (lambda r: r.body.get("price", 0), True),
}


def _stat(record: Record, name: str, default: Any) -> Any:
    stats = record.body.get("stats")
    return stats.get(name, default) if isinstance(stats, dict) else default


def profile(st: EcwidState) -> dict[str, Any]:
    return {
        "generalInfo": {
            "storeId": st.store_id,
            "storeUrl": st.store_url,
            "starterSite": {"ecwidSubdomain": st.store_url.split("//")[1].split(".")[0],
                            "generatedUrl": st.store_url,
                            "storeLogoUrl": f"{st.store_url}/logo.png"},
        },
        "account": {"accountName": st.store_name, "accountNickName": st.store_name,
                    "accountEmail": st.email},
        "settings": {"closed": False, "storeName": st.store_name,
                     "emailLogoUrl": f"{st.store_url}/email-logo.png"},
        "company": {"companyName": st.store_name, "email": st.email, "street": "100 Main Street",
                    "city": "Portland", "countryCode": "US", "postalCode": "97201",
                    "stateOrProvinceCode": "OR"},
        "formatsAndUnits": {"currency": st.currency, "currencyPrefix": "", "currencySuffix": "",
                            "currencyPrecision": 2, "timezone": "UTC"},
    }


def _kept_search(
    state: EcwidState,
    request: Request,
    *,
    resource: str,
    bounds: DateBounds,
    base: tuple[Any, ...],
    keep: Callable[[list[Record]], list[Record]],
    order: tuple[Any, ...],
    key: Callable[[Record], Any],
    reverse: bool,
    default_limit: int = MAX_LIMIT,
) -> dict[str, Any]:
    """One page of ``keep(records)`` cut by ``bounds`` and sorted by ``key``, through the state's
    kept results (:mod:`~winback.emulator.ecwid.index`). ``base`` names what ``keep`` depends on,
    ``order`` what ``key``/``reverse`` depend on. Call under the state's lock."""
    offset, limit = page_bounds(request, default_limit)
    stamp, cache = state.search_stamp(), state.searches
    signature = ("sorted", resource, base, bounds, order)
    ordered: list[Record] | None = cache.peek(stamp, signature)
    if ordered is None:
        table: dict[int, Record] = getattr(state, resource)
        by_updated = cache.get(stamp, ("by_updated", resource, base),
                               lambda: ByUpdated.build(keep(list(table.values()))))
        created_from, created_to, updated_from, updated_to = bounds
        records = by_updated.between(updated_from, updated_to)
        if created_from is not None:
            records = [r for r in records if r.created >= created_from]
        if created_to is not None:
            records = [r for r in records if r.created <= created_to]
        if offset + limit <= PROBE_ITEMS and len(records) >= PROBE_MIN_RECORDS:
            return envelope(len(records), leading(records, key, reverse, offset + limit)[offset:], offset, limit)
        chosen = records
        ordered = cache.get(stamp, signature, lambda: sorted(chosen, key=key, reverse=reverse))
    return envelope(len(ordered), ordered[offset : offset + limit], offset, limit)


def _order_key(r: Record) -> tuple[int, Any]:
    return (r.created, r.body.get("internalId", 0))


def search_orders(state: EcwidState, request: Request) -> Response:
    """Orders, newest first. Without a ``paymentStatus`` filter INCOMPLETE orders (abandoned
    checkouts) are left out, as Ecwid documents."""
    bounds = date_bounds(request, dates=True)
    email, customer, ids = request.param("email"), request.param("customerId"), request.param("ids")
    statuses = {name: request.param(name) for name in ("paymentStatus", "fulfillmentStatus")}

    def keep(records: list[Record]) -> list[Record]:
        if not statuses["paymentStatus"]:
            records = [r for r in records if r.body.get("paymentStatus") != "INCOMPLETE"]
        if email:
            wanted = email.casefold()
            records = [r for r in records if str(r.body.get("email", "")).casefold() == wanted]
        if customer:
            records = [r for r in records if str(r.body.get("customerId")) == customer]
        for name, value in statuses.items():
            if value:
                allowed = {v.strip().upper() for v in value.split(",")}
                records = [r for r in records if str(r.body.get(name)) in allowed]
        if ids:
            wanted_ids = {v.strip() for v in ids.split(",")}
            records = [r for r in records
                       if r.body.get("id") in wanted_ids or str(r.body.get("internalId")) in wanted_ids]
        return records

    with state.lock:
        # Ecwid documents no sort for orders; newest first, as its admin shows them.
        return ok(_kept_search(
            state, request, resource="orders", bounds=bounds,
            base=(email, customer, ids, statuses["paymentStatus"], statuses["fulfillmentStatus"]),
            keep=keep, order=(), key=_order_key, reverse=True,
        ))


def get_order(state: EcwidState, key: str) -> Response:
    with state.lock:
        record = state.order_by_public_id(key)
        if record is None and key.isdigit():
            record = state.orders.get(int(key))
        if record is None:
            raise ApiError(404, f"Order #{key} not found", "ORDER_NOT_FOUND")
        return ok(record.body)


def search_customers(state: EcwidState, request: Request) -> Response:
    bounds = date_bounds(request)
    email = request.param("email")
    marketing = request.param("acceptMarketing")
    flag = bool_param(marketing, "acceptMarketing") if marketing is not None else None
    sort = request.param("sortBy") or "NAME_ASC"
    if sort not in _CUSTOMER_SORTS:
        raise ApiError(400, f"Wrong parameter 'sortBy' value: '{sort}'", "INVALID_PARAMETER")
    sort_key, reverse = _CUSTOMER_SORTS[sort]

    def keep(records: list[Record]) -> list[Record]:
        if email:
            needle = email.casefold()
            records = [r for r in records if needle in str(r.body.get("email", "")).casefold()]
        if flag is not None:
            records = [r for r in records if bool(r.body.get("acceptMarketing")) == flag]
        return records

    with state.lock:
        payload = _kept_search(
            state, request, resource="customers", bounds=bounds, base=(email, flag), keep=keep,
            order=(sort,), key=lambda r: (sort_key(r), r.body.get("id", 0)), reverse=reverse,
            default_limit=CUSTOMERS_DEFAULT_LIMIT,
        )
        payload["allCustomerCount"] = len(state.customers)
        return ok(payload)


def search_products(state: EcwidState, request: Request) -> Response:
    bounds = date_bounds(request)
    enabled = request.param("enabled")
    flag = bool_param(enabled, "enabled") if enabled is not None else None
    keyword = (request.param("keyword") or "").strip().casefold()
    sort = request.param("sortBy") or "RELEVANCE"
    key: Callable[[Record], Any]
    if sort == "RELEVANCE":
        # Assumed: names that start with the keyword first, then the store owner's order.
        key, reverse = (lambda r: (not str(r.body.get("name", "")).casefold().startswith(keyword),
                                   r.body.get("id", 0))), False
    elif sort in _PRODUCT_SORTS:
        sort_key, reverse = _PRODUCT_SORTS[sort]
        key = lambda r: (sort_key(r), r.body.get("id", 0))  # noqa: E731
    else:
        raise ApiError(400, f"Wrong parameter 'sortBy' value: '{sort}'", "INVALID_PARAMETER")

    def keep(records: list[Record]) -> list[Record]:
        if flag is not None:
            records = [r for r in records if bool(r.body.get("enabled")) == flag]
        if keyword:
            records = [r for r in records if keyword in f"{r.body.get('name', '')} {r.body.get('sku', '')}".casefold()]
        return records

    with state.lock:
        return ok(_kept_search(state, request, resource="products", bounds=bounds, base=(flag, keyword),
                               keep=keep, order=(sort, keyword), key=key, reverse=reverse))


def search_coupons(state: EcwidState, request: Request) -> Response:
    with state.lock:
        records = filter_dates(list(state.discount_coupons.values()), request)
        code = request.param("code")
        if code:
            # Documented as a "search term": a partial match, so clients must compare exactly.
            needle = code.casefold()
            records = [r for r in records if needle in str(r.body.get("code", "")).casefold()]
        records.sort(key=lambda r: r.body["id"])
        return ok(page(records, request))


def get_coupon(state: EcwidState, key: str) -> Response:
    with state.lock:
        record = state.discount_coupons.get(int(key)) if key.isdigit() else None
        if record is None:
            record = state.find_coupon_by_code(key)
        if record is None:
            raise ApiError(404, "Coupon is not found", "COUPON_NOT_FOUND")
        return ok(record.body)


def get_by_int(state: EcwidState, table: dict[int, Record], key: str, what: str) -> Response:
    with state.lock:
        record = table.get(int(key)) if key.isdigit() else None
        if record is None:
            raise ApiError(404, f"{what} #{key} not found", f"{what.upper()}_NOT_FOUND")
        return ok(record.body)


def search_deleted(state: EcwidState, resource: str, request: Request) -> Response:
    """``GET /{orders,customers,products}/deleted``: ``{id, orderId, date}`` or ``{id, date}``
    entries, oldest first, filtered by ``from_date``/``to_date`` (UNIX seconds, inclusive)."""
    low, high = request.param("from_date"), request.param("to_date")
    start = unix_param(low, "from_date") if low else None
    end = unix_param(high, "to_date") if high else None
    with state.lock:
        entries = [entry for when, entry in state.deleted[resource]
                   if (start is None or when >= start) and (end is None or when <= end)]
        offset = int_param(request, "offset", 0)
        limit = min(int_param(request, "limit", MAX_LIMIT), MAX_LIMIT) or MAX_LIMIT
        chunk = entries[offset : offset + limit]
        return ok({"total": len(entries), "count": len(chunk), "offset": offset, "limit": limit,
                   "items": [dict(entry) for entry in chunk]})
