"""An Ecwid REST API v3 emulator on the shared loopback server.

Routes (under ``/api/v3/{storeId}``): ``GET /profile``, ``GET /orders``, ``/orders/deleted`` and
``/orders/{id}``, ``GET|POST /customers``, ``GET /customers/deleted`` and ``/customers/{id}``,
``GET /products``, ``/products/deleted`` and ``/products/{id}``, ``GET|POST /discount_coupons`` and
``GET /discount_coupons/{id or code}``, ``GET|POST /customer_groups`` (see
:mod:`~winback.emulator.ecwid.groups`), ``PUT /customers/{id}``. Outside ``/api/v3``, the test hook
``GET /_emulator/writes`` (see :meth:`EcwidEmulator.writes`) is NOT part of Ecwid's API.

Behaviour taken from Ecwid's documentation: ``responseFields`` on reads (see
:mod:`~winback.emulator.ecwid.fields`); the ``{total, count, offset, limit, items}``
envelope with ``limit`` at most 100 (larger values are clamped) and 100 by default, 10 for
customers; order searches take ``createdFrom``/``updatedFrom`` (and ``...To``) as UNIX seconds or
``yyyy-MM-dd HH:mm:ss [Z]`` or ``yyyy-MM-dd``, every other search UNIX seconds only; without a
``paymentStatus`` filter INCOMPLETE orders are left out; customers sort ``NAME_ASC`` and products
``RELEVANCE`` unless ``sortBy`` says otherwise; guest buyers have the basic account Ecwid creates
after an order (knob ``guest_accounts``); ``refundedAmount`` only for Ecwid's own processor, with
``refunds[]`` for all; errors are JSON ``{"errorMessage": ..., "errorCode": ...}``, 404 for a
missing record ("Order #N not found"); 409 for a duplicate coupon code or customer email; 402 when
the store's plan has no API access; 403 for a bad token or a missing scope; a non-working token is
refused with 429 after 20 tries a minute (600 a minute from one address blocks the address);
``Authorization: Bearer`` or ``?token=``. Orders come newest first (Ecwid documents no sort
option for orders).

Assumed where the documentation is silent: the exact error messages and codes, ``Retry-After``
on 429, the rate-limit window (a sliding 60-second window per token), the status of a blocked
token (429), what RELEVANCE means without a keyword (the store owner's order) and that an
account's ``stats`` count its guest orders too.

This module authenticates, rate-limits, checks scopes and routes; the handlers live in
:mod:`~winback.emulator.ecwid.reads` and :mod:`~winback.emulator.ecwid.writes`, Ecwid's error body,
page envelope and parameter parsing in :mod:`~winback.emulator.ecwid.protocol`, and the limiter in
:mod:`~winback.emulator.ecwid.limits`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from winback.emulator.ecwid import groups, protocol, reads, writes
from winback.emulator.ecwid.limits import BadTokenLockout, SlidingWindowLimiter
from winback.emulator.ecwid.protocol import ApiError, error, ok, retry_after, token_of
from winback.emulator.ecwid.state import EcwidState
from winback.emulator.server import EmulatorServer, FaultPlan, Request, Response
from winback.emulator.world import World

__all__ = [
    "ALL_SCOPES",
    "DEFAULT_SCOPES",
    "WRITES_PATH",
    "EcwidEmulator",
    "start_ecwid_emulator",
]

ALL_SCOPES = frozenset(
    {
        "read_store_profile",
        "read_orders",
        "read_customers",
        "create_customers",
        "update_customers",
        "read_catalog",
        "read_discount_coupons",
        "create_discount_coupons",
    }
)
DEFAULT_SCOPES = frozenset({"read_store_profile", "read_orders", "read_catalog"})
"""A new custom app's token as Ecwid issues it: the store profile (always granted), orders and
products. Customers, coupons and creating customers need Ecwid to extend the app's scopes."""
_ROUTE = re.compile(r"^/api/v3/(?P<store>[^/]+)(?P<rest>/.*)?$")
WRITES_PATH = "/_emulator/writes"
"""Test hook, not Ecwid's API: every write the emulator accepted, for tests in other processes."""
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class EcwidEmulator:
    """An :class:`~winback.emulator.server.App` answering like ``app.ecwid.com/api/v3``.

    ``store_state`` is ``"active"`` or ``"suspended"`` (every call answers 402). ``scopes``
    limits what the token may do (403 naming the scope otherwise); the default is a new custom
    app's (:data:`DEFAULT_SCOPES`), tests that read customers or coupons pass :data:`ALL_SCOPES`. ``fault_retry_after`` is the
    ``Retry-After`` sent with injected 429 faults. ``guest_accounts=False`` models a store where
    Ecwid does not create accounts for guest buyers (a German company address, or the legacy
    password sign-in). Test hooks: :meth:`writes`, :meth:`touch_orders`, :meth:`corrupt_record`,
    :meth:`delete_record`, :meth:`add_abandoned_checkout`.
    """

    def __init__(
        self,
        world: World,
        *,
        store_id: int = 1003,
        token: str = "secret_emulator_token",
        requests_per_minute: int = 600,
        store_state: str = "active",
        scopes: Iterable[str] = DEFAULT_SCOPES,
        fault_retry_after: float = 1.0,
        guest_accounts: bool = True,
        clock: Callable[[], float] = time.monotonic,
        birthday_field: str | None = None,
    ) -> None:
        if store_state not in ("active", "suspended"):
            raise ValueError("store_state must be 'active' or 'suspended'")
        self.store_id = store_id
        self.token = token
        self.store_state = store_state
        self.scopes = frozenset(scopes)
        self.fault_retry_after = fault_retry_after
        self.state = EcwidState.from_world(world, store_id=store_id, clock=clock, guest_accounts=guest_accounts)
        if birthday_field:
            self.seed_birthdays(birthday_field)
        self.limiter = SlidingWindowLimiter(requests_per_minute, clock=clock)
        self.lockout = BadTokenLockout(clock=clock)
        self.requests_by_path: dict[str, int] = {}
        self._accepted: dict[str, list[dict[str, Any]]] = {
            "discount_coupons": [], "customers_created": [], "customers_updated": [], "customer_groups_created": [],
        }

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

    def delete_record(self, resource: str, key: int | str) -> None:
        self.state.delete_record(resource, key)

    def seed_birthdays(self, field: str) -> int:
        """Every fifth customer gets a birth date in the customer extra field ``field``, shown as an
        ``extraFields`` object on the customer (assumed: Ecwid documents customer extra fields as
        store settings but shows no customer carrying their values; orders carry theirs so)."""
        from winback.emulator.birthdays import seeded_birth_dates

        with self.state.lock:
            dates = seeded_birth_dates(self.state.customers.keys(), datetime.now(timezone.utc).date())
            for cid, born in dates.items():
                self.state.customers[cid].body.setdefault("extraFields", {})[field] = born.isoformat()
        return len(dates)

    def add_abandoned_checkout(self, email: str) -> str:
        return self.state.add_abandoned_checkout(email)

    # --- App protocol ------------------------------------------------------------------------

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "429":
            return error(
                429,
                "Too many requests. Please try again later.",
                "TOO_MANY_REQUESTS",
                headers={"Retry-After": retry_after(self.fault_retry_after)},
            )
        status = int(kind)
        return error(status, "Internal server error, please retry later", "SERVER_ERROR")

    def handle(self, request: Request) -> Response:
        try:
            with protocol.selecting(request):
                return self._handle(request)
        except ApiError as exc:
            return error(exc.status, exc.message, exc.code, exc.headers)

    def _handle(self, request: Request) -> Response:
        if request.path == WRITES_PATH:
            return self._writes_hook(request)
        match = _ROUTE.match(request.path)
        if match is None:
            raise ApiError(404, "Not found", "NOT_FOUND")
        if match["store"] != str(self.store_id):
            raise ApiError(404, f"Store with id '{match['store']}' is not found", "STORE_NOT_FOUND")
        token = token_of(request)
        blocked = self.lockout.blocked()
        if blocked is None and token != self.token:
            blocked = self.lockout.failed(token or "")
            if blocked is None:
                raise ApiError(403, "Invalid token. Access denied.", "ACCESS_DENIED")
        if blocked is not None:
            raise ApiError(
                429, "Too many requests with a non-working token. Please try again later.", "TOO_MANY_REQUESTS",
                headers={"Retry-After": str(max(1, math.ceil(blocked)))},
            )
        wait = self.limiter.hit(token)
        if wait is not None:
            raise ApiError(
                429, "Too many requests. Please try again later.", "TOO_MANY_REQUESTS",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        if self.store_state != "active":
            raise ApiError(402, "Please upgrade your account to access API", "PLAN_UPGRADE_REQUIRED")
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
            return ok(reads.profile(self.state))
        if head == "orders" and method == "GET":
            self._need("read_orders")
            if len(parts) == 1:
                return reads.search_orders(self.state, request)
            if parts[1:] == ["deleted"]:
                return reads.search_deleted(self.state, "orders", request)
            if len(parts) == 2:
                return reads.get_order(self.state, parts[1])
        if head == "customers":
            if method == "GET":
                self._need("read_customers")
                if len(parts) == 1:
                    return reads.search_customers(self.state, request)
                if parts[1:] == ["deleted"]:
                    return reads.search_deleted(self.state, "customers", request)
                if len(parts) == 2:
                    return reads.get_by_int(self.state, self.state.customers, parts[1], "Customer")
            if method == "POST" and len(parts) == 1:
                self._need("create_customers")
                return writes.create_customer(self.state, self._accepted, request)
            if method == "PUT" and len(parts) == 2:
                self._need("update_customers")
                return writes.update_customer(self.state, self._accepted, request, parts[1])
        if head == "customer_groups" and len(parts) == 1:
            if method == "GET":
                self._need("read_customers")
                return groups.search_groups(self.state, request)
            if method == "POST":
                self._need("create_customers")
                return groups.create_group(self.state, self._accepted, request)
        if head == "products" and method == "GET":
            self._need("read_catalog")
            if len(parts) == 1:
                return reads.search_products(self.state, request)
            if parts[1:] == ["deleted"]:
                return reads.search_deleted(self.state, "products", request)
            if len(parts) == 2:
                return reads.get_by_int(self.state, self.state.products, parts[1], "Product")
        if head == "discount_coupons":
            if method == "GET":
                self._need("read_discount_coupons")
                if len(parts) == 1:
                    return reads.search_coupons(self.state, request)
                if len(parts) == 2:
                    return reads.get_coupon(self.state, parts[1])
            if method == "POST" and len(parts) == 1:
                self._need("create_discount_coupons")
                return writes.create_coupon(self.state, self._accepted, request)
        raise ApiError(404, f"Resource {method} /{'/'.join(parts)} is not found", "NOT_FOUND")

    def _writes_hook(self, request: Request) -> Response:
        # No token: the hook is for tests on this machine. The server cannot see the peer's address
        # here, so a request naming a non-loopback host (the emulator exposed on purpose) gets a 404.
        host = urlsplit("//" + request.headers.get("host", "")).hostname
        if request.method != "GET" or host not in _LOOPBACK_HOSTS:
            raise ApiError(404, "Not found", "NOT_FOUND")
        return ok(self.writes())

    def _need(self, scope: str) -> None:
        if scope not in self.scopes:
            # Ecwid's documented meaning of this 403 ("Access token doesn't have `read_discount_coupons`
            # scope", ecwid-api-docs includes/_coupons.md); the same status as a wrong token.
            raise ApiError(403, f"Access token doesn't have {scope} scope", "ACCESS_DENIED")


def start_ecwid_emulator(
    world: World, *, faults: FaultPlan | None = None, host: str = "127.0.0.1", port: int = 0, **knobs: Any
) -> tuple[EmulatorServer, EcwidEmulator]:
    """Start an Ecwid emulator on loopback; returns the running server (stop it) and the app.

    The connector's ``base_url`` is ``server.url + "/api/v3"``.
    """
    app = EcwidEmulator(world, **knobs)
    server = EmulatorServer(app, host=host, port=port, faults=faults).start()
    return server, app
