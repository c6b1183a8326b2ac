"""An Ecwid REST API v3 emulator on the shared loopback server.

Routes (under ``/api/v3/{storeId}``): ``GET /profile``, ``GET /orders`` and ``/orders/{id}``,
``GET|POST /customers`` and ``GET /customers/{id}``, ``GET /products`` and ``/products/{id}``,
``GET|POST /discount_coupons`` and ``GET /discount_coupons/{id or code}``. Outside ``/api/v3``,
the test hook ``GET /_emulator/writes`` (see :meth:`EcwidEmulator.writes`) is NOT part of Ecwid's API.

Behaviour taken from Ecwid's documentation: the ``{total, count, offset, limit, items}``
envelope with ``limit`` at most 100 (larger values are clamped); ``createdFrom``/``updatedFrom``
(and ``...To``) accept UNIX seconds or ``yyyy-MM-dd HH:mm:ss [Z]`` or ``yyyy-MM-dd``; errors are
JSON ``{"errorMessage": ..., "errorCode": ...}``; 409 for a duplicate coupon code or customer
email; 402 when the store's plan has no API access; 403 for a bad token or a missing scope;
``Authorization: Bearer`` or ``?token=``. Orders come newest first (Ecwid documents no sort
option for orders), customers honour the documented ``sortBy`` values.

Assumed where the documentation is silent: the exact error messages and codes, ``Retry-After``
on 429, and the rate-limit window (a sliding 60-second window per token).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from winback.emulator.ecwid import render
from winback.emulator.ecwid.state import EcwidState, Record
from winback.emulator.server import EmulatorServer, FaultPlan, Request, Response
from winback.emulator.world import World

MAX_LIMIT = 100
ALL_SCOPES = frozenset(
    {
        "read_store_profile",
        "read_orders",
        "read_customers",
        "create_customers",
        "read_catalog",
        "read_discount_coupons",
        "create_discount_coupons",
    }
)
_ROUTE = re.compile(r"^/api/v3/(?P<store>[^/]+)(?P<rest>/.*)?$")
WRITES_PATH = "/_emulator/writes"
"""Test hook, not Ecwid's API: every write the emulator accepted, for tests in other processes."""
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_DISCOUNT_TYPES = {"ABS", "PERCENT", "SHIPPING", "ABS_AND_SHIPPING", "PERCENT_AND_SHIPPING"}
_USES_LIMITS = {"UNLIMITED", "ONCEPERCUSTOMER", "SINGLE"}
_COUPON_STATUSES = {"ACTIVE", "PAUSED"}
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
}
_PRODUCT_SORTS: dict[str, tuple[Callable[[Record], Any], bool]] = {
    "DEFINED_BY_STORE_OWNER": (lambda r: r.body["id"], False),
    "ADDED_TIME_ASC": (lambda r: r.created, False),
    "ADDED_TIME_DESC": (lambda r: r.created, True),
    "UPDATED_TIME_ASC": (lambda r: r.updated, False),
    "UPDATED_TIME_DESC": (lambda r: r.updated, True),
    "NAME_ASC": (lambda r: str(r.body.get("name", "")).casefold(), False),
    "NAME_DESC": (lambda r: str(r.body.get("name", "")).casefold(), True),
}


class _ApiError(Exception):
    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status=status,
        body=render.dumps({"errorMessage": message, "errorCode": code}),
        headers=headers or {},
    )


def _ok(payload: Any, status: int = 200) -> Response:
    return Response(status=status, body=render.dumps(payload))


def parse_when(value: str, name: str) -> int:
    """UNIX seconds from an Ecwid date parameter (UNIX seconds or one of the documented date formats)."""
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    for fmt in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return int(parsed.timestamp())
    raise _ApiError(400, f"Wrong parameter '{name}' value: '{value}'", "INVALID_PARAMETER")


class SlidingWindowLimiter:
    """At most ``limit`` requests per ``window`` seconds per key; tells how long to wait otherwise."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Record a request; ``None`` if allowed, else seconds until one would be."""
        with self._lock:
            now = self._clock()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(0.0, hits[0] + self.window - now)
            hits.append(now)
            return None


class EcwidEmulator:
    """An :class:`~winback.emulator.server.App` answering like ``app.ecwid.com/api/v3``.

    ``store_state`` is ``"active"`` or ``"suspended"`` (every call answers 402). ``scopes``
    limits what the token may do (403 naming the scope otherwise). ``fault_retry_after`` is the
    ``Retry-After`` sent with injected 429 faults. Test hook: :meth:`writes`.
    """

    def __init__(
        self,
        world: World,
        *,
        store_id: int = 1003,
        token: str = "secret_emulator_token",
        requests_per_minute: int = 600,
        store_state: str = "active",
        scopes: Iterable[str] = ALL_SCOPES,
        fault_retry_after: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if store_state not in ("active", "suspended"):
            raise ValueError("store_state must be 'active' or 'suspended'")
        self.store_id = store_id
        self.token = token
        self.store_state = store_state
        self.scopes = frozenset(scopes)
        self.fault_retry_after = fault_retry_after
        self.state = EcwidState.from_world(world, store_id=store_id, clock=clock)
        self.limiter = SlidingWindowLimiter(requests_per_minute, clock=clock)
        self.requests_by_path: dict[str, int] = {}
        self._accepted: dict[str, list[dict[str, Any]]] = {"discount_coupons": [], "customers_created": []}

    def writes(self) -> dict[str, list[dict[str, Any]]]:
        """Every accepted create, in order, as served by ``GET /_emulator/writes``.

        A test hook for process-level tests (the emulator runs in its own process), not part of
        Ecwid's API. Each accepted create is listed, so a duplicate intent shows up as two entries.
        """
        with self.state.lock:
            return {name: [dict(entry) for entry in entries] for name, entries in self._accepted.items()}

    # --- knobs (delegated to the state) ------------------------------------------------------

    def touch_orders(self, fraction: float, seed: int = 0) -> list[str]:
        return self.state.touch_orders(fraction, seed)

    def corrupt_record(self, resource: str, key: int | str) -> None:
        self.state.corrupt_record(resource, key)

    # --- App protocol ------------------------------------------------------------------------

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "429":
            return _error(
                429,
                "Too many requests. Please try again later.",
                "TOO_MANY_REQUESTS",
                headers={"Retry-After": _seconds(self.fault_retry_after)},
            )
        status = int(kind)
        return _error(status, "Internal server error, please retry later", "SERVER_ERROR")

    def handle(self, request: Request) -> Response:
        try:
            return self._handle(request)
        except _ApiError as exc:
            return _error(exc.status, exc.message, exc.code, exc.headers)

    def _handle(self, request: Request) -> Response:
        if request.path == WRITES_PATH:
            return self._writes_hook(request)
        match = _ROUTE.match(request.path)
        if match is None:
            raise _ApiError(404, "Not found", "NOT_FOUND")
        if match["store"] != str(self.store_id):
            raise _ApiError(404, f"Store with id '{match['store']}' is not found", "STORE_NOT_FOUND")
        token = _token_of(request)
        if token != self.token:
            raise _ApiError(403, "Invalid token. Access denied.", "ACCESS_DENIED")
        wait = self.limiter.hit(token)
        if wait is not None:
            raise _ApiError(
                429, "Too many requests. Please try again later.", "TOO_MANY_REQUESTS",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        if self.store_state != "active":
            raise _ApiError(402, "Please upgrade your account to access API", "PLAN_UPGRADE_REQUIRED")
        rest = (match["rest"] or "/").rstrip("/") or "/"
        parts = rest.strip("/").split("/")
        key = f"{request.method} /{parts[0]}"
        with self.state.lock:
            self.requests_by_path[key] = self.requests_by_path.get(key, 0) + 1
        return self._route(request, parts)

    def _route(self, request: Request, parts: list[str]) -> Response:
        method = request.method
        head = parts[0]
        if head == "profile" and len(parts) == 1 and method == "GET":
            self._need("read_store_profile")
            return _ok(self._profile())
        if head == "orders" and method == "GET":
            self._need("read_orders")
            if len(parts) == 1:
                return self._search_orders(request)
            if len(parts) == 2:
                return self._get_order(parts[1])
        if head == "customers":
            if method == "GET":
                self._need("read_customers")
                if len(parts) == 1:
                    return self._search_customers(request)
                if len(parts) == 2:
                    return self._get_by_int(self.state.customers, parts[1], "Customer")
            if method == "POST" and len(parts) == 1:
                self._need("create_customers")
                return self._create_customer(request)
        if head == "products" and method == "GET":
            self._need("read_catalog")
            if len(parts) == 1:
                return self._search_products(request)
            if len(parts) == 2:
                return self._get_by_int(self.state.products, parts[1], "Product")
        if head == "discount_coupons":
            if method == "GET":
                self._need("read_discount_coupons")
                if len(parts) == 1:
                    return self._search_coupons(request)
                if len(parts) == 2:
                    return self._get_coupon(parts[1])
            if method == "POST" and len(parts) == 1:
                self._need("create_discount_coupons")
                return self._create_coupon(request)
        raise _ApiError(404, f"Resource {method} /{'/'.join(parts)} is not found", "NOT_FOUND")

    def _writes_hook(self, request: Request) -> Response:
        # No token: the hook is for tests on this machine. The server cannot see the peer's address
        # here, so a request naming a non-loopback host (the emulator exposed on purpose) gets a 404.
        host = urlsplit("//" + request.headers.get("host", "")).hostname
        if request.method != "GET" or host not in _LOOPBACK_HOSTS:
            raise _ApiError(404, "Not found", "NOT_FOUND")
        return _ok(self.writes())

    def _need(self, scope: str) -> None:
        if scope not in self.scopes:
            raise _ApiError(403, f"Token doesn't have required scope: {scope}", "ACCESS_DENIED")

    # --- reads -------------------------------------------------------------------------------

    def _profile(self) -> dict[str, Any]:
        st = self.state
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
            "company": {"companyName": st.store_name, "email": st.email},
            "formatsAndUnits": {"currency": st.currency, "currencyPrefix": "", "currencySuffix": "",
                                "currencyPrecision": 2, "timezone": "UTC"},
        }

    def _search_orders(self, request: Request) -> Response:
        with self.state.lock:
            records = list(self.state.orders.values())
            records = _filter_dates(records, request)
            email = request.param("email")
            if email:
                wanted = email.casefold()
                records = [r for r in records if str(r.body.get("email", "")).casefold() == wanted]
            customer = request.param("customerId")
            if customer:
                records = [r for r in records if str(r.body.get("customerId")) == customer]
            for name in ("paymentStatus", "fulfillmentStatus"):
                value = request.param(name)
                if value:
                    allowed = {v.strip().upper() for v in value.split(",")}
                    records = [r for r in records if str(r.body.get(name)) in allowed]
            ids = request.param("ids")
            if ids:
                wanted_ids = {v.strip() for v in ids.split(",")}
                records = [r for r in records
                           if r.body.get("id") in wanted_ids or str(r.body.get("internalId")) in wanted_ids]
            # Ecwid documents no sort for orders; newest first, as its admin shows them.
            records.sort(key=lambda r: (r.created, r.body.get("internalId", 0)), reverse=True)
            return _ok(_page(records, request))

    def _get_order(self, key: str) -> Response:
        with self.state.lock:
            record = self.state.order_by_public_id(key)
            if record is None and key.isdigit():
                record = self.state.orders.get(int(key))
            if record is None:
                raise _ApiError(404, f"Order #{key} is not found", "ORDER_NOT_FOUND")
            return _ok(record.body)

    def _search_customers(self, request: Request) -> Response:
        with self.state.lock:
            records = _filter_dates(list(self.state.customers.values()), request)
            email = request.param("email")
            if email:
                needle = email.casefold()
                records = [r for r in records if needle in str(r.body.get("email", "")).casefold()]
            marketing = request.param("acceptMarketing")
            if marketing is not None:
                flag = _bool_param(marketing, "acceptMarketing")
                records = [r for r in records if bool(r.body.get("acceptMarketing")) == flag]
            sort = request.param("sortBy") or "REGISTERED_DATE_DESC"
            if sort not in _CUSTOMER_SORTS:
                raise _ApiError(400, f"Wrong parameter 'sortBy' value: '{sort}'", "INVALID_PARAMETER")
            key, reverse = _CUSTOMER_SORTS[sort]
            records.sort(key=lambda r: (key(r), r.body.get("id", 0)), reverse=reverse)
            payload = _page(records, request)
            payload["allCustomerCount"] = len(self.state.customers)
            return _ok(payload)

    def _search_products(self, request: Request) -> Response:
        with self.state.lock:
            records = _filter_dates(list(self.state.products.values()), request)
            enabled = request.param("enabled")
            if enabled is not None:
                flag = _bool_param(enabled, "enabled")
                records = [r for r in records if bool(r.body.get("enabled")) == flag]
            sort = request.param("sortBy") or "DEFINED_BY_STORE_OWNER"
            if sort not in _PRODUCT_SORTS:
                raise _ApiError(400, f"Wrong parameter 'sortBy' value: '{sort}'", "INVALID_PARAMETER")
            key, reverse = _PRODUCT_SORTS[sort]
            records.sort(key=lambda r: (key(r), r.body.get("id", 0)), reverse=reverse)
            return _ok(_page(records, request))

    def _search_coupons(self, request: Request) -> Response:
        with self.state.lock:
            records = _filter_dates(list(self.state.discount_coupons.values()), request)
            code = request.param("code")
            if code:
                # Documented as a "search term": a partial match, so clients must compare exactly.
                needle = code.casefold()
                records = [r for r in records if needle in str(r.body.get("code", "")).casefold()]
            records.sort(key=lambda r: r.body["id"])
            return _ok(_page(records, request))

    def _get_coupon(self, key: str) -> Response:
        with self.state.lock:
            record = self.state.discount_coupons.get(int(key)) if key.isdigit() else None
            if record is None:
                record = self.state.find_coupon_by_code(key)
            if record is None:
                raise _ApiError(404, f"Discount coupon '{key}' is not found", "COUPON_NOT_FOUND")
            return _ok(record.body)

    def _get_by_int(self, table: dict[int, Record], key: str, what: str) -> Response:
        with self.state.lock:
            record = table.get(int(key)) if key.isdigit() else None
            if record is None:
                raise _ApiError(404, f"{what} #{key} is not found", "NOT_FOUND")
            return _ok(record.body)

    # --- writes ------------------------------------------------------------------------------

    def _create_customer(self, request: Request) -> Response:
        body = _json_body(request)
        email = body.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise _ApiError(400, "Customer email is required", "INVALID_PARAMETER")
        with self.state.lock:
            if self.state.find_customer_by_email(email) is not None:
                raise _ApiError(409, "The customer with the given email already exists", "CUSTOMER_ALREADY_EXISTS")
            cid = self.state.add_customer(body)
            self._accepted["customers_created"].append({"id": cid, "email": email})
        return _ok({"id": cid})

    def _create_coupon(self, request: Request) -> Response:
        body = _json_body(request)
        name, code = body.get("name"), body.get("code")
        if not isinstance(name, str) or not name:
            raise _ApiError(400, "Coupon name is required", "INVALID_PARAMETER")
        if not isinstance(code, str) or not code or len(code) > 128:
            raise _ApiError(400, "Coupon code is required (at most 128 characters)", "INVALID_PARAMETER")
        stored: dict[str, Any] = {"name": name, "code": code}
        discount_type = body.get("discountType", "ABS")
        if discount_type not in _DISCOUNT_TYPES:
            raise _ApiError(400, f"Wrong discountType value: '{discount_type}'", "INVALID_PARAMETER")
        stored["discountType"] = discount_type
        status = body.get("status", "ACTIVE")
        if status not in _COUPON_STATUSES:
            raise _ApiError(400, f"Wrong status value: '{status}'", "INVALID_PARAMETER")
        stored["status"] = status
        stored["discount"] = _number(body.get("discount", 0), "discount")
        for field in ("launchDate", "expirationDate"):
            if field in body and body[field] is not None:
                when = parse_when(str(body[field]), field)
                stored[field] = render.ecwid_date(datetime.fromtimestamp(when, tz=timezone.utc))
        if "totalLimit" in body:
            stored["totalLimit"] = _number(body["totalLimit"], "totalLimit")
        uses = body.get("usesLimit", "UNLIMITED")
        if uses not in _USES_LIMITS:
            raise _ApiError(400, f"Wrong usesLimit value: '{uses}'", "INVALID_PARAMETER")
        stored["usesLimit"] = uses
        for passthrough in ("repeatCustomerOnly", "applicationLimit", "catalogLimit", "shippingLimit"):
            if passthrough in body:
                stored[passthrough] = body[passthrough]
        with self.state.lock:
            if self.state.find_coupon_by_code(code) is not None:
                raise _ApiError(409, "The coupon with the given code already exists", "COUPON_ALREADY_EXISTS")
            coupon_id = self.state.add_coupon(stored)
            self._accepted["discount_coupons"].append({"id": coupon_id, "code": code})
        return _ok({"id": coupon_id, "code": code})


# --- helpers -----------------------------------------------------------------------------------


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.param("token")


def _bool_param(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise _ApiError(400, f"Wrong parameter '{name}' value: expected one of 'true', 'false'", "INVALID_PARAMETER")


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.param(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _ApiError(400, f"Wrong parameter '{name}' value: '{raw}'", "INVALID_PARAMETER") from None
    if value < 0:
        raise _ApiError(400, f"Wrong parameter '{name}' value: '{raw}'", "INVALID_PARAMETER")
    return value


def _page(records: list[Record], request: Request) -> dict[str, Any]:
    offset = _int_param(request, "offset", 0)
    limit = min(_int_param(request, "limit", MAX_LIMIT), MAX_LIMIT) or MAX_LIMIT
    chunk = records[offset : offset + limit]
    return {
        "total": len(records),
        "count": len(chunk),
        "offset": offset,
        "limit": limit,
        "items": [r.body for r in chunk],
    }


def _filter_dates(records: list[Record], request: Request) -> list[Record]:
    bounds = (
        ("createdFrom", lambda r, v: r.created >= v),
        ("createdTo", lambda r, v: r.created <= v),
        ("updatedFrom", lambda r, v: r.updated >= v),
        ("updatedTo", lambda r, v: r.updated <= v),
    )
    for name, keep in bounds:
        raw = request.param(name)
        if raw:
            value = parse_when(raw, name)
            records = [r for r in records if keep(r, value)]
    return records


def _json_body(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "application/json")
    if "json" not in content_type:
        raise _ApiError(415, "Unsupported content-type: expected application/json or text/json", "UNSUPPORTED_MEDIA_TYPE")
    try:
        body = json.loads(request.body or b"null", parse_float=Decimal)
    except ValueError:
        raise _ApiError(400, "Request body is not valid JSON", "INVALID_JSON") from None
    if not isinstance(body, dict):
        raise _ApiError(400, "Request body must be a JSON object", "INVALID_JSON")
    return body


def _number(value: Any, name: str) -> Decimal:
    if isinstance(value, bool):
        raise _ApiError(400, f"Wrong {name} value", "INVALID_PARAMETER")
    try:
        return Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise _ApiError(400, f"Wrong {name} value: '{value}'", "INVALID_PARAMETER") from None


def start_ecwid_emulator(
    world: World, *, faults: FaultPlan | None = None, host: str = "127.0.0.1", port: int = 0, **knobs: Any
) -> tuple[EmulatorServer, EcwidEmulator]:
    """Start an Ecwid emulator on loopback; returns the running server (stop it) and the app.

    The connector's ``base_url`` is ``server.url + "/api/v3"``.
    """
    app = EcwidEmulator(world, **knobs)
    server = EmulatorServer(app, host=host, port=port, faults=faults).start()
    return server, app
