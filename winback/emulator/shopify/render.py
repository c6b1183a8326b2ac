"""The world rendered into the dicts the emulated Admin API serves: products, customers, orders.

Keys are the GraphQL field names, so graphql-core's default resolver serves a record with no
per-field code; keys starting with ``_`` are internal (world key, numeric id, datetimes for
search). Each record is built here whole and alone; :class:`.state.ShopState` links them (an
order's ``customer`` *is* the customer dict), counts and indexes them. The ``*_SEARCH`` tables
say which search terms each resource honours and what each term reads.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from winback.emulator.shopify.collection import Record
from winback.emulator.shopify.ids import gid, iso, money, money_bag
from winback.emulator.shopify.search import Field
from winback.emulator.world import WAddress, WCustomer, WOrder, WProduct


def product_record(p: WProduct, *, currency: str, shop_domain: str, vendor: str) -> Record:
    """A product with its one variant (``_variant``), as the Admin API serves them."""
    product: Record = {
        "_num": p.key,
        "_key": p.key,
        "_created": p.created_at,
        "_updated": p.updated_at,
        "id": gid("Product", p.key),
        "title": p.title,
        "handle": p.handle,
        "status": p.status,
        "onlineStoreUrl": f"https://{shop_domain}/products/{p.handle}" if p.status == "ACTIVE" else None,
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
        "vendor": vendor,
    }
    product["_variant"] = {
        "id": gid("ProductVariant", p.key),
        "price": str(p.price.quantize(Decimal("0.01"))),
        "product": product,
        "sku": p.sku,
        "title": "Default Title",
    }
    return product


PRODUCT_SEARCH: dict[str, Field] = {
    "updated_at": Field("time", lambda r: r["_updated"]),
    "created_at": Field("time", lambda r: r["_created"]),
    "status": Field("exact", lambda r: r["status"]),
    "title": Field("text", lambda r: r["title"]),
    "handle": Field("exact", lambda r: r["handle"]),
    "sku": Field("exact", lambda r: r["_variant"]["sku"]),
    "id": Field("number", lambda r: int(r["id"].rsplit("/", 1)[1])),
}
"""Search terms of ``products(query:)`` (free text: :func:`product_text`)."""


def product_text(r: Record) -> str:
    return f"{r['title']} {r['handle']}".lower()


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


def customer_record(
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
    currency: str,
) -> Record:
    """A customer as the Admin API serves it, with no orders yet (:class:`.state.ShopState` counts them)."""
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
        "amountSpent": money(Decimal("0"), currency),
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
    return customer


def world_customer(c: WCustomer, *, currency: str) -> Record:
    """One of the world's customers (see :func:`customer_record`)."""
    return customer_record(
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
        currency=currency,
    )


CUSTOMER_SEARCH: dict[str, Field] = {
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
"""Search terms of ``customers(query:)`` (free text: :func:`customer_text`)."""


def customer_text(r: Record) -> str:
    return f"{r['displayName']} {r['_email']}".lower()


def order_record(o: WOrder, customer: Record | None, products: dict[int, Record], line_number: int,
                 currency: str) -> tuple[Record, Decimal, int]:
    """One order as the Admin API serves it; returns it, its current total and the last line number."""
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


ORDER_SEARCH: dict[str, Field] = {
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
"""Search terms of ``orders(query:)`` (free text: :func:`order_text`)."""


def order_text(r: Record) -> str:
    return f"{r['name']} {r['email'] or ''}".lower()
