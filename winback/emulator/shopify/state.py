"""The emulated shop's data: the world rendered once into Shopify-shaped dicts, plus what writes add.

Records are plain dicts whose keys are the GraphQL field names, so graphql-core's default resolver
serves them with no per-field code. Keys starting with ``_`` are internal (world key, numeric id,
datetimes for search) and are never reachable from a query. Related records are shared by
reference (an order's ``customer`` *is* the customer dict), so a write shows everywhere at once.

All mutation goes through :class:`ShopState` methods under its lock; readers take the lock only
to get a consistent sorted index (:meth:`Collection.index`).
"""

from __future__ import annotations

import random
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from winback.emulator.shopify.deletions import init_events
from winback.emulator.shopify.ids import gid, iso, money, money_bag
from winback.emulator.shopify.search import Field
from winback.emulator.world import WAddress, WCustomer, WOrder, World

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


def _address(address: WAddress | None, key: int) -> Record | None:
    if address is None:
        return None
    name = " ".join(part for part in (address.first_name, address.last_name) if part) or None
    return {
        "id": f"{gid('MailingAddress', key)}?model_name=CustomerAddress",
        "firstName": address.first_name,
        "lastName": address.last_name,
        "name": name,
        "company": address.company,
        "address1": address.address1,
        "address2": None,
        "city": address.city,
        "province": address.province,
        "provinceCode": address.province_code,
        "country": address.country,
        "countryCode": address.country_code,
        "countryCodeV2": address.country_code,
        "zip": address.zip,
        "phone": address.phone,
    }


def _customer_state(customer: WCustomer) -> str:
    if not customer.registered:
        return "DISABLED"
    if customer.key % 37 == 0:
        return "INVITED"
    if customer.key % 41 == 0:
        return "DECLINED"
    return "ENABLED"


def _opt_in(consent: str) -> str | None:
    return "SINGLE_OPT_IN" if consent in ("SUBSCRIBED", "PENDING") else None


def _display_name(first: str | None, last: str | None, email: str | None) -> str:
    return " ".join(part for part in (first, last) if part) or (email or "")


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
            product: Record = {
                "_num": p.key,
                "_key": p.key,
                "_created": p.created_at,
                "_updated": p.updated_at,
                "id": gid("Product", p.key),
                "title": p.title,
                "handle": p.handle,
                "status": p.status,
                "onlineStoreUrl": f"https://{self.shop_domain}/products/{p.handle}" if p.status == "ACTIVE" else None,
                "createdAt": iso(p.created_at),
                "updatedAt": iso(p.updated_at),
                "featuredMedia": {
                    "__typename": "MediaImage",
                    "id": gid("MediaImage", p.key),
                    "alt": p.title,
                    "mediaContentType": "IMAGE",
                    "status": "READY",
                    "image": {"id": None, "url": p.image_url, "altText": p.title, "width": 1024, "height": 1024},
                    "preview": {
                        "status": "READY",
                        "image": {"id": None, "url": p.image_url, "altText": p.title, "width": 1024, "height": 1024},
                    },
                },
                "priceRangeV2": {"minVariantPrice": money(p.price, currency), "maxVariantPrice": money(p.price, currency)},
                "productType": "",
                "tags": [],
                "totalInventory": 100,
                "vendor": world.store_name,
            }
            product["_variant"] = {
                "id": gid("ProductVariant", p.key),
                "price": str(p.price.quantize(Decimal("0.01"))),
                "product": product,
                "sku": p.sku,
                "title": "Default Title",
            }
            products[p.key] = product
            self.products.add(product)
        self.products.search_fields = {
            "updated_at": Field("time", lambda r: r["_updated"]),
            "created_at": Field("time", lambda r: r["_created"]),
            "status": Field("exact", lambda r: r["status"]),
            "title": Field("text", lambda r: r["title"]),
            "handle": Field("exact", lambda r: r["handle"]),
            "sku": Field("exact", lambda r: r["_variant"]["sku"]),
            "id": Field("number", lambda r: int(r["id"].rsplit("/", 1)[1])),
        }
        self.products.text = lambda r: f"{r['title']} {r['handle']}".lower()

        customers: dict[int, Record] = {}
        for c in world.customers:
            customer = self._customer_record(
                key=c.key,
                first=c.first_name,
                last=c.last_name,
                email=c.email,
                phone=c.phone,
                created=c.created_at,
                updated=c.updated_at,
                state=_customer_state(c),
                consent=c.consent,
                consent_updated=c.consent_updated_at,
                address=_address(c.address, c.key),
                tags=list(c.tags),
            )
            customers[c.key] = customer
        line_number = 0
        stats: dict[int, list[Any]] = {}
        for o in world.orders:
            customer = customers.get(o.customer_key) if o.customer_key is not None else None
            order, current_total, line_number = self._order_record(o, customer, products, line_number)
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
        self.orders.search_fields = {
            "updated_at": Field("time", lambda r: r["_updated"]),
            "created_at": Field("time", lambda r: r["_created"]),
            "processed_at": Field("time", lambda r: r["_processed"]),
            "email": Field("exact", lambda r: r["email"]),
            "financial_status": Field("exact", lambda r: r["displayFinancialStatus"]),
            "status": Field("exact", lambda r: "cancelled" if r["cancelledAt"] else ("closed" if r["closed"] else "open")),
            "test": Field("exact", lambda r: "true" if r["test"] else "false"),
            "customer_id": Field("exact", lambda r: r["customer"]["id"].rsplit("/", 1)[1] if r["customer"] else ""),
            "name": Field("exact", lambda r: r["name"]),
            "id": Field("number", lambda r: int(r["id"].rsplit("/", 1)[1])),
        }
        self.orders.text = lambda r: f"{r['name']} {r['email'] or ''}".lower()
        self.customers.search_fields = {
            "updated_at": Field("day", lambda r: r["_updated"]),
            "created_at": Field("time", lambda r: r["_created"]),
            "customer_date": Field("time", lambda r: r["_created"]),
            "email": Field("text", lambda r: r["_email"]),
            "state": Field("exact", lambda r: r["state"]),
            "first_name": Field("text", lambda r: r["firstName"]),
            "last_name": Field("text", lambda r: r["lastName"]),
            "phone": Field("text", lambda r: r["phone"]),
            "tag": Field("exact", lambda r: ",".join(r["tags"])),
            "orders_count": Field("number", lambda r: int(r["numberOfOrders"])),
            "id": Field("number", lambda r: int(r["id"].rsplit("/", 1)[1])),
        }
        self.customers.text = lambda r: f"{r['displayName']} {r['_email']}".lower()

    def _customer_record(
        self,
        *,
        key: int,
        first: str | None,
        last: str | None,
        email: str | None,
        phone: str | None,
        created: datetime,
        updated: datetime,
        state: str,
        consent: str,
        consent_updated: datetime | None,
        address: Record | None,
        tags: list[str],
    ) -> Record:
        customer: Record = {
            "_num": key,
            "_key": key,
            "_created": created,
            "_updated": updated,
            "_email": (email or "").lower(),
            "id": gid("Customer", key),
            "firstName": first,
            "lastName": last,
            "displayName": _display_name(first, last, email),
            "email": email,
            "phone": phone,
            "defaultPhoneNumber": {"phoneNumber": phone} if phone else None,
            "note": None,
            "verifiedEmail": bool(email),
            "createdAt": iso(created),
            "updatedAt": iso(updated),
            "state": state,
            "numberOfOrders": "0",
            "amountSpent": money(Decimal("0"), self.currency),
            "lastOrder": None,
            "tags": tags,
            "defaultAddress": address,
            "defaultEmailAddress": None,
            "emailMarketingConsent": None,
        }
        if email:
            customer["defaultEmailAddress"] = {
                "emailAddress": email,
                "marketingState": consent,
                "marketingOptInLevel": _opt_in(consent),
                "marketingUpdatedAt": iso(consent_updated),
                "validFormat": "@" in email,
            }
            customer["emailMarketingConsent"] = {
                "marketingState": consent,
                "marketingOptInLevel": _opt_in(consent),
                "consentUpdatedAt": iso(consent_updated),
            }
            self.customers_by_email[customer["_email"]] = customer
        self.customers.add(customer)
        return customer

    def _order_record(self, o: WOrder, customer: Record | None, products: dict[int, Record],
                      line_number: int) -> tuple[Record, Decimal, int]:
        """One order as the Admin API serves it; returns it, its current total and the last line number."""
        currency = self.currency
        current_total = o.total - o.refunded_amount
        order: Record = {
            "_num": o.key,
            "_key": o.key,
            "_created": o.created_at,
            "_updated": o.updated_at,
            "_processed": o.processed_at,
            "id": gid("Order", o.key),
            "name": f"#{o.number}",
            "email": o.email,
            "createdAt": iso(o.created_at),
            "updatedAt": iso(o.updated_at),
            "processedAt": iso(o.processed_at),
            "cancelledAt": iso(o.cancelled_at),
            "cancelReason": "CUSTOMER" if o.cancelled_at else None,
            "closed": o.cancelled_at is not None,
            "closedAt": iso(o.cancelled_at),
            "test": o.test,
            "customer": customer,
            "customerAcceptsMarketing": o.accepts_marketing,
            "discountCodes": list(o.discount_codes),
            "displayFinancialStatus": o.financial_status,
            "displayFulfillmentStatus": "FULFILLED" if o.fulfilled_at is not None else "UNFULFILLED",
            "fulfillments": fulfillment_records(o),
            "currencyCode": currency,
            "presentmentCurrencyCode": currency,
            "totalPriceSet": money_bag(o.total, currency),
            "subtotalPriceSet": money_bag(o.subtotal, currency),
            "currentTotalPriceSet": money_bag(current_total, currency),
            "totalRefundedSet": money_bag(o.refunded_amount, currency),
            "billingAddress": _address(o.billing_address, 1_000_000 + o.key),
            "note": None,
            "tags": [],
            "sourceName": "web",
        }
        lines = []
        for line in o.lines:
            line_number += 1
            product = products.get(line.product_key) if line.product_key is not None else None
            current = line.quantity - line.refunded_quantity
            lines.append(
                {
                    "_num": line_number,
                    "id": gid("LineItem", line_number),
                    "title": line.title,
                    "name": line.title,
                    "variantTitle": None,
                    "quantity": line.quantity,
                    "currentQuantity": current,
                    "refundableQuantity": current,
                    "nonFulfillableQuantity": 0,
                    "sku": line.sku,
                    "product": product,
                    "variant": product["_variant"] if product is not None else None,
                    "originalUnitPriceSet": money_bag(line.unit_price, currency),
                }
            )
        order["_lines"] = lines
        return order, current_total, line_number

    def place_order(self, o: WOrder) -> Record:
        """A buyer places ``o`` (e.g. a reminded customer coming back, :mod:`winback.emulator.respond`):
        the order appears in searches and its customer's order count and last order move."""
        with self.lock:
            customer = self.customers_by_email.get((o.email or "").lower())
            products = {record["_key"]: record for record in self.products.by_num.values()}
            line_number = max((int(line["id"].rsplit("/", 1)[1]) for r in self.orders.by_num.values()
                               for line in r["_lines"]), default=0)
            order, current_total, _ = self._order_record(o, customer, products, line_number)
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
            customer = self._customer_record(
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
            )
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


def fulfillment_records(o: WOrder) -> list[Record]:
    """The order's ``fulfillments``: one successful shipment once it shipped (see fulfilment.py)."""
    if o.fulfilled_at is None:
        return []
    delivered = o.delivered_at
    return [{
        "id": gid("Fulfillment", o.key),
        "name": f"#{o.number}-F1",
        "createdAt": iso(o.fulfilled_at),
        "updatedAt": iso(delivered or o.fulfilled_at),
        "deliveredAt": iso(delivered),
        "status": "SUCCESS",
        "displayStatus": "DELIVERED" if delivered else "FULFILLED",
    }]
