"""The Ecwid emulator's mutable store: rendered records plus the bookkeeping the filters need.

Each record keeps its sort/filter timestamps apart from its rendered body, so a knob can corrupt
the body (for quarantine tests) without the record dropping out of searches. All access goes
through one lock: the HTTP server is threaded.
"""

from __future__ import annotations

import copy
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from winback.emulator.ecwid import render
from winback.emulator.ecwid.index import SearchCache
from winback.emulator.names import ascii_fold
from winback.emulator.world import WCustomer, World, WOrder

RESOURCES = ("orders", "customers", "products", "discount_coupons")


@dataclass
class Record:
    created: int
    """UNIX seconds; the ``createdFrom``/``createdTo`` filter value."""
    updated: int
    """UNIX seconds; the ``updatedFrom``/``updatedTo`` filter value."""
    body: dict[str, Any]


@dataclass
class EcwidState:
    """Everything the emulated store holds. Read it under ``lock`` (or use the copying accessors)."""

    store_id: int
    store_name: str
    currency: str
    store_url: str
    email: str
    now: Callable[[], datetime]
    orders: dict[int, Record] = field(default_factory=dict)
    """Keyed by ``internalId``."""
    customers: dict[int, Record] = field(default_factory=dict)
    products: dict[int, Record] = field(default_factory=dict)
    discount_coupons: dict[int, Record] = field(default_factory=dict)
    customer_groups: dict[int, str] = field(default_factory=dict)
    """Groups the merchant (or an app) created, by id; "General" (id 0) is built in."""
    deleted: dict[str, list[tuple[int, dict[str, Any]]]] = field(
        default_factory=lambda: {"orders": [], "customers": [], "products": []})
    """What ``/orders/deleted``, ``/customers/deleted`` and ``/products/deleted`` list: (UNIX
    seconds, entry), oldest first."""
    lock: threading.RLock = field(default_factory=threading.RLock)
    generation: int = 0
    """Moves on every change made through these methods (each takes a :meth:`tick` or calls
    :meth:`changed`); the searches' kept results (:mod:`~winback.emulator.ecwid.index`) are valid
    for one generation."""
    searches: SearchCache = field(default_factory=SearchCache)
    _next_customer_id: int = 0
    _next_coupon_id: int = 300_000_000
    _last_tick: int = 0

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def from_world(cls, world: World, *, store_id: int, clock: Callable[[], float] = time.monotonic,
                   guest_accounts: bool = True) -> EcwidState:
        """Render ``world``. With ``guest_accounts`` (Ecwid's default) every email that placed an
        order without an account gets the basic account Ecwid creates after the order; without it
        (stores with a German company address or the legacy password sign-in) guests are only on
        their orders."""
        started = clock()
        base = world.now

        def now() -> datetime:
            return base + timedelta(seconds=clock() - started)

        slug = re.sub(r"[^a-z0-9]+", "-", ascii_fold(world.store_name).lower()).strip("-") or "store"
        state = cls(
            store_id=store_id,
            store_name=world.store_name,
            currency=world.currency,
            store_url=f"https://{slug}.company.site",
            email=f"owner@{slug}.example",
            now=now,
        )
        for p in world.products:
            body = render.render_product(p, state.store_url)
            state.products[body["id"]] = Record(render.unix(p.created_at), render.unix(p.updated_at), body)

        placed: list[tuple[WOrder, dict[str, Any]]] = []
        for o in world.orders:
            if o.test:
                continue  # Ecwid has no test-order flag: such orders do not exist there.
            customer = world.customer(o.customer_key) if o.customer_key is not None else None
            body = render.render_order(o, customer=customer)
            state.orders[body["internalId"]] = Record(render.unix(o.created_at), render.unix(o.updated_at), body)
            placed.append((o, body))

        accounts = {c.email.strip().lower(): render.customer_id(c.key) for c in world.customers if c.registered}
        guests: dict[str, tuple[int, WOrder, bool]] = {}
        """lower email -> (account id, first order, accepts marketing on the newest order)."""
        by_email = {c.email.strip().lower(): c for c in world.customers}
        next_id = render.customer_id(len(world.customers) + 1)
        for o, body in placed if guest_accounts else ():
            email = (o.email or "").strip().lower()
            if not email or email in accounts:
                continue
            if email not in guests:
                owner = by_email.get(email)
                cid = render.customer_id(owner.key) if owner is not None else next_id
                next_id += 0 if owner is not None else 1
                guests[email] = (cid, o, o.accepts_marketing)
            else:
                guests[email] = (guests[email][0], guests[email][1], o.accepts_marketing)
        accounts.update({email: cid for email, (cid, _, _) in guests.items()})

        stats: dict[int, dict[str, Any]] = {}
        for _, body in placed:
            # An account's orders: those placed signed in, plus those placed with its email as a guest.
            cid = body.get("customerId") or accounts.get(str(body.get("email") or "").strip().lower())
            if cid is None or body["paymentStatus"] in ("CANCELLED", "INCOMPLETE"):
                continue
            s = stats.setdefault(cid, render.empty_stats())
            s["numberOfOrders"] += 1
            s["salesValue"] += body["total"]
            s.setdefault("firstOrderDate", body["createDate"])
            s["lastOrderDate"] = body["createDate"]
        for s in stats.values():
            s["averageOrderValue"] = (s["salesValue"] / s["numberOfOrders"]).quantize(Decimal("0.01"))

        for c in world.customers:
            if c.registered:
                cid = render.customer_id(c.key)
                body = render.render_customer(c, stats=stats.get(cid, render.empty_stats()))
                state.customers[cid] = Record(render.unix(c.created_at), render.unix(c.updated_at), body)
        for email, (cid, first, accept) in guests.items():
            created, updated, body = render.render_guest_account(
                cid, first.email or email, first, by_email.get(email), stats=stats.get(cid, render.empty_stats()),
                accept=accept,
            )
            state.customers[cid] = Record(created, updated, body)
        state._next_customer_id = next_id
        state._last_tick = max(
            [r.updated for r in state.all_records()] + [render.unix(world.now)], default=0
        )
        return state

    def all_records(self) -> Iterable[Record]:
        for name in RESOURCES:
            yield from getattr(self, name).values()

    # --- time --------------------------------------------------------------------------------

    def tick(self) -> datetime:
        """The emulator's "now" for a change, strictly after every earlier change (whole seconds)."""
        with self.lock:
            self.changed()
            now = int(self.now().timestamp())
            self._last_tick = max(now, self._last_tick + 1)
            return datetime.fromtimestamp(self._last_tick, tz=timezone.utc)

    def changed(self) -> None:
        """Drop what the searches kept: call it (under the lock) after changing records without a tick."""
        with self.lock:
            self.generation += 1

    def search_stamp(self) -> tuple[int, ...]:
        """What kept search results are valid for: the generation, and the record counts (so a
        test that adds or removes records in the dicts directly is seen too)."""
        return (self.generation, len(self.orders), len(self.customers), len(self.products),
                len(self.discount_coupons))

    # --- reads for assertions ----------------------------------------------------------------

    def snapshot(self, resource: str) -> list[dict[str, Any]]:
        """Deep copies of every rendered record of ``resource``, as the API would show them."""
        with self.lock:
            return [copy.deepcopy(r.body) for r in getattr(self, resource).values()]

    def order_by_public_id(self, public_id: str) -> Record | None:
        with self.lock:
            for record in self.orders.values():
                if record.body.get("id") == public_id:
                    return record
        return None

    # --- writes ------------------------------------------------------------------------------

    def find_customer_by_email(self, email: str) -> Record | None:
        wanted = email.strip().casefold()
        with self.lock:
            for record in self.customers.values():
                if str(record.body.get("email", "")).casefold() == wanted:
                    return record
        return None

    def add_customer(self, body: dict[str, Any]) -> int:
        with self.lock:
            when = self.tick()
            cid = self._next_customer_id
            self._next_customer_id += 1
            billing = dict(body.get("billingPerson") or {})
            record_body: dict[str, Any] = {
                "id": cid,
                "name": billing.get("name", ""),
                "email": body["email"],
                "registered": render.ecwid_date(when),
                "updated": render.ecwid_date(when),
                "totalOrderCount": 0,
                "customerGroupId": int(body.get("customerGroupId") or 0),
                "customerGroupName": "General",
                "billingPerson": billing,
                "shippingAddresses": list(body.get("shippingAddresses") or []),
                "contacts": [{"contact": body["email"], "type": "EMAIL", "default": True, "orderBy": 0}],
                "acceptMarketing": bool(body.get("acceptMarketing", False)),
                "stats": render.empty_stats(),
                "taxExempt": bool(body.get("taxExempt", False)),
                "privateAdminNotes": str(body.get("privateAdminNotes", "")),
            }
            if "lang" in body:
                record_body["lang"] = body["lang"]
            ts = render.unix(when)
            self.customers[cid] = Record(ts, ts, record_body)
            return cid

    def find_coupon_by_code(self, code: str) -> Record | None:
        wanted = code.casefold()
        with self.lock:
            for record in self.discount_coupons.values():
                if str(record.body.get("code", "")).casefold() == wanted:
                    return record
        return None

    def add_coupon(self, body: dict[str, Any]) -> int:
        with self.lock:
            when = self.tick()
            coupon_id = self._next_coupon_id
            self._next_coupon_id += 1
            stamp = render.ecwid_date(when)
            record_body = {
                "id": coupon_id,
                **body,
                "repeatCustomerOnly": bool(body.get("repeatCustomerOnly", False)),
                "applicationLimit": body.get("applicationLimit", "UNLIMITED"),
                "creationDate": stamp,
                "updateDate": stamp,
                "orderCount": 0,
            }
            ts = render.unix(when)
            self.discount_coupons[coupon_id] = Record(ts, ts, record_body)
            return coupon_id

    def place_order(self, o: WOrder, customer: WCustomer | None) -> dict[str, Any]:
        """A buyer places ``o`` (a reminded customer coming back, :mod:`winback.emulator.respond`)."""
        with self.lock:
            self.changed()
            body = render.render_order(o, customer=customer)
            self.orders[body["internalId"]] = Record(render.unix(o.created_at), render.unix(o.updated_at), body)
            self._last_tick = max(self._last_tick, render.unix(o.updated_at))
            return body

    # --- knobs -------------------------------------------------------------------------------

    def touch_orders(self, fraction: float, seed: int = 0) -> list[str]:
        """Bump ``updateDate`` of a seeded sample of orders to a new tick; returns their public ids."""
        with self.lock:
            keys = sorted(self.orders)
            count = min(len(keys), max(0, round(len(keys) * fraction)))
            chosen = random.Random(seed).sample(keys, count)
            when = self.tick()
            for key in chosen:
                record = self.orders[key]
                record.updated = render.unix(when)
                record.body["updateDate"] = render.ecwid_date(when)
                record.body["updateTimestamp"] = render.unix(when)
            return [self.orders[key].body["id"] for key in chosen]

    def delete_record(self, resource: str, key: int | str) -> None:
        """Delete an order (public ``id`` or ``internalId``), a customer or a product (``id``) as the
        merchant would in Ecwid's admin: it leaves the searches and is listed by
        ``/{resource}/deleted`` (``{id, orderId, date}`` for orders, ``{id, date}`` otherwise)."""
        with self.lock:
            when = self.tick()
            entry: dict[str, Any]
            if resource == "orders":
                record = self.orders.get(key) if isinstance(key, int) else self.order_by_public_id(str(key))
                if record is None:
                    raise KeyError(key)
                del self.orders[record.body["internalId"]]
                entry = {"id": record.body["internalId"], "orderId": record.body["id"]}
            elif resource in ("customers", "products"):
                del getattr(self, resource)[int(key)]
                entry = {"id": int(key)}
            else:
                raise ValueError(f"cannot delete {resource!r}")
            entry["date"] = render.ecwid_date(when)
            self.deleted[resource].append((render.unix(when), entry))

    def add_abandoned_checkout(self, email: str) -> str:
        """An INCOMPLETE order (a checkout left before paying) for ``email``; returns its public id.

        Ecwid leaves such orders out of ``/orders`` unless ``paymentStatus`` asks for them.
        """
        with self.lock:
            when = self.tick()
            internal = max(self.orders, default=render.ORDER_INTERNAL_ID_BASE) + 1
            public = render.order_public_id(internal - render.ORDER_INTERNAL_ID_BASE)
            body: dict[str, Any] = {
                "id": public, "internalId": internal, "orderNumber": internal, "email": email,
                "paymentStatus": "INCOMPLETE", "fulfillmentStatus": "AWAITING_PROCESSING",
                "subtotal": Decimal("10.00"), "total": Decimal("10.00"), "refundedAmount": Decimal("0"),
                "createDate": render.ecwid_date(when), "updateDate": render.ecwid_date(when),
                "createTimestamp": render.unix(when), "updateTimestamp": render.unix(when),
                "items": [], "hidden": False,
            }
            self.orders[internal] = Record(render.unix(when), render.unix(when), body)
            return public

    def corrupt_record(self, resource: str, key: int | str) -> None:
        """Make one record malformed in a way a careful client detects (and must quarantine).

        Orders and products get a ``total``/``price`` that is not a number (``"12,5.x"``);
        customers lose their ``updated`` date. ``key`` is the record's id (an order's public
        ``id`` or ``internalId``).
        """
        with self.lock:
            self.changed()
            if resource == "orders":
                record = self.orders.get(key) if isinstance(key, int) else self.order_by_public_id(str(key))
                if record is None:
                    raise KeyError(key)
                record.body["total"] = "12,5.x"
            elif resource == "products":
                self.products[int(key)].body["price"] = "12,5.x"
            elif resource == "customers":
                self.customers[int(key)].body["updated"] = "not a date"
            else:
                raise ValueError(f"cannot corrupt {resource!r}")
