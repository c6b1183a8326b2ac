"""The emulated shop's data: the world rendered once into Shopify-shaped dicts, plus what writes add.

Records are plain dicts whose keys are the GraphQL field names, so graphql-core's default resolver
serves them with no per-field code. Keys starting with ``_`` are internal (world key, numeric id,
datetimes for search) and are never reachable from a query. Related records are shared by
reference (an order's ``customer`` *is* the customer dict), so a write shows everywhere at once.

The records themselves are built in :mod:`.render`; here they are linked, counted and kept in
collections (:mod:`.collection`). All mutation goes through :class:`ShopState` methods under its
lock; readers take the lock only to get a consistent sorted index (:meth:`.Collection.index`).
"""

from __future__ import annotations

import random
import threading
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from winback.emulator.shopify import render
from winback.emulator.shopify.collection import Collection, Record
from winback.emulator.shopify.deletions import init_events
from winback.emulator.shopify.ids import iso, money
from winback.emulator.world import WOrder, World


class ShopState:
    """Everything the emulator serves and every write it accepted."""

    def __init__(self, world: World, *, shop_domain: str) -> None:
        self.world = world
        self.currency = world.currency
        self.shop_domain = shop_domain
        self.lock = threading.RLock()
        self._last_write = datetime.min.replace(tzinfo=timezone.utc)
        self.customers = Collection("customers")
        self.orders = Collection("orders")
        self.products = Collection("products")
        self.events = Collection("events")
        """``BasicEvent`` dicts of deletions (see :mod:`.deletions`)."""
        init_events(self.events)
        self.customers_by_email: dict[str, Record] = {}
        self.discounts_by_code: dict[str, Record] = {}
        """Lower-cased code -> DiscountCodeNode dict."""
        self.invites_sent: list[dict[str, Any]] = []
        self.consent_updates: list[dict[str, Any]] = []
        self.tag_writes: list[dict[str, Any]] = []
        """Accepted ``customerEmailMarketingConsentUpdate`` writes, in order."""
        self.webhook_subscriptions: list[dict[str, Any]] = []
        self.customers_created: list[Record] = []
        self.discounts_created: list[Record] = []
        self._next_customer_key = len(world.customers) + 1
        self._next_discount = 1
        self._render()

    # --- clock ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The write clock: real UTC now at second precision, never going backwards."""
        with self.lock:
            moment = datetime.now(timezone.utc).replace(microsecond=0)
            if moment < self._last_write:
                moment = self._last_write
            self._last_write = moment
            return moment

    # --- rendering ------------------------------------------------------------------------------

    def _render(self) -> None:
        world, currency = self.world, self.currency
        products: dict[int, Record] = {}
        for p in world.products:
            product = render.product_record(p, currency=currency, shop_domain=self.shop_domain, vendor=world.store_name)
            products[p.key] = product
            self.products.add(product)
        self.products.search_fields = dict(render.PRODUCT_SEARCH)
        self.products.text = render.product_text

        customers: dict[int, Record] = {}
        for c in world.customers:
            customer = self._register(render.world_customer(c, currency=currency))
            customers[c.key] = customer
        line_number = 0
        stats: dict[int, list[Any]] = {}
        for o in world.orders:
            customer = customers.get(o.customer_key) if o.customer_key is not None else None
            order, current_total, line_number = render.order_record(o, customer, products, line_number, currency)
            self.orders.add(order)
            if customer is not None:
                entry = stats.setdefault(o.customer_key, [0, Decimal("0"), None])
                entry[0] += 1
                if not o.test and o.cancelled_at is None:
                    entry[1] += current_total
                if entry[2] is None or order["_created"] >= entry[2]["_created"]:
                    entry[2] = order
        for key, customer in customers.items():
            count, spent, last = stats.get(key, (0, Decimal("0"), None))
            customer["numberOfOrders"] = str(count)
            customer["amountSpent"] = money(spent, currency)
            customer["lastOrder"] = last
        self.orders.search_fields = dict(render.ORDER_SEARCH)
        self.orders.text = render.order_text
        self.customers.search_fields = dict(render.CUSTOMER_SEARCH)
        self.customers.text = render.customer_text

    def _register(self, customer: Record) -> Record:
        """Make ``customer`` findable: by id, in searches and, when it has an email address, by it."""
        if customer["email"]:
            self.customers_by_email[customer["_email"]] = customer
        self.customers.add(customer)
        return customer

    def place_order(self, o: WOrder) -> Record:
        """A buyer places ``o`` (e.g. a reminded customer coming back, :mod:`winback.emulator.respond`):
        the order appears in searches and its customer's order count and last order move."""
        with self.lock:
            customer = self.customers_by_email.get((o.email or "").lower())
            products = {record["_key"]: record for record in self.products.by_num.values()}
            line_number = max((int(line["id"].rsplit("/", 1)[1]) for r in self.orders.by_num.values()
                               for line in r["_lines"]), default=0)
            order, current_total, _ = render.order_record(o, customer, products, line_number, self.currency)
            self.orders.add(order)
            if customer is not None:
                customer["numberOfOrders"] = str(int(customer.get("numberOfOrders") or 0) + 1)
                spent = Decimal(customer["amountSpent"]["amount"]) + current_total
                customer["amountSpent"] = money(spent, self.currency)
                customer["lastOrder"] = order
                self.touch(customer, self.customers, o.updated_at)
            return order

    # --- writes (all under the lock) --------------------------------------------------------------

    def touch(self, record: Record, collection: Collection, moment: datetime | None = None) -> None:
        moment = moment or self.now()
        record["_updated"] = moment
        record["updatedAt"] = iso(moment)
        collection.changed()

    def create_customer(
        self,
        *,
        email: str | None,
        first: str | None,
        last: str | None,
        phone: str | None,
        tags: list[str],
        consent: str,
        consent_updated: datetime | None,
        note: str | None,
    ) -> Record:
        with self.lock:
            key = self._next_customer_key
            self._next_customer_key += 1
            moment = self.now()
            customer = self._register(render.customer_record(
                key=key,
                first=first,
                last=last,
                email=email,
                phone=phone,
                created=moment,
                updated=moment,
                state="DISABLED",
                consent=consent,
                consent_updated=consent_updated,
                address=None,
                tags=tags,
                currency=self.currency,
            ))
            customer["note"] = note
            self.customers_created.append(customer)
            return customer

    def change_email(self, customer_num: int, email: str) -> Record:
        """Test hook: give a customer and their orders another address, as a real store may hold
        it (Shopify keeps addresses winback cannot always send to, e.g. ``jürgen@…``)."""
        with self.lock:
            customer = self.customers.by_num[customer_num]
            self.customers_by_email.pop(customer["_email"], None)
            customer.update(email=email, _email=email.lower())
            if customer.get("defaultEmailAddress"):
                customer["defaultEmailAddress"]["emailAddress"] = email
            self.customers_by_email[customer["_email"]] = customer
            self.touch(customer, self.customers)
            for order in self.orders.by_num.values():
                if order["customer"] is customer:
                    order["email"] = email
                    self.touch(order, self.orders)
            return customer

    def next_discount_number(self) -> int:
        with self.lock:
            number = self._next_discount
            self._next_discount += 1
            return number

    def touch_orders(self, fraction: float, seed: int = 0) -> list[Record]:
        """Bump ``updatedAt`` of ``fraction`` of all orders (chosen with ``seed``) to the write clock."""
        with self.lock:
            orders = sorted(self.orders.by_num.values(), key=lambda r: r["_num"])
            count = round(len(orders) * fraction)
            chosen = random.Random(seed).sample(orders, count) if count else []
            moment = self.now()
            for order in chosen:
                order["_updated"] = moment
                order["updatedAt"] = iso(moment)
            self.orders.changed()
            return chosen
