"""Deleting records as a merchant would in the Shopify admin, and the events that record it.

Shopify keeps no trace of a deleted record except an event: ``events`` lists a ``BasicEvent`` with
``action: "destroy"`` whose ``subjectId`` and ``subjectType`` name what went (the replacement of
the deprecated ``deletionEvents``, which only ever covered products and collections). Served here:
``events(first, after, sortKey: ID | CREATED_AT, reverse, query)`` with the search fields
``action``, ``subject_type``, ``created_at`` and ``id``.

What the platform does around a deletion, mirrored: a customer with orders cannot be deleted
(``customerDelete``: "You can only delete customers who haven't placed any orders"); deleting an
order lowers its customer's ``numberOfOrders``/``amountSpent`` (the customer is updated); a
deleted product leaves order lines with ``product: null`` and ``variant: null``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from winback.emulator.shopify.ids import gid, iso, money, parse_gid
from winback.emulator.shopify.search import Field

if TYPE_CHECKING:
    from winback.emulator.shopify.collection import Collection
    from winback.emulator.shopify.state import ShopState

Record = dict[str, Any]

SUBJECTS = {"orders": ("Order", "ORDER"), "customers": ("Customer", "CUSTOMER"), "products": ("Product", "PRODUCT")}
"""resource -> (GID kind, EventSubjectType)."""


def init_events(events: Collection) -> None:
    events.search_fields = {
        "action": Field("exact", lambda r: r["action"]),
        "subject_type": Field("exact", lambda r: r["subjectType"]),
        "created_at": Field("time", lambda r: r["_created"]),
        "id": Field("number", lambda r: int(r["id"].rsplit("/", 1)[1])),
    }
    events.text = lambda r: str(r["message"]).lower()


def delete_record(state: ShopState, resource: str, key: int | str) -> Record:
    """Delete one record (its GID or world key) and record the ``destroy`` event; returns it."""
    kind, subject_type = SUBJECTS[resource]
    collection: Collection = getattr(state, resource)
    num = parse_gid(key, kind) if isinstance(key, str) else key
    with state.lock:
        record = collection.by_num.get(num) if num is not None else None
        if record is None:
            raise KeyError(key)
        if resource == "customers" and any(o["customer"] is record for o in state.orders.by_num.values()):
            raise ValueError("Customer can't be deleted because they have orders")
        moment = state.now()
        del collection.by_num[num]
        collection.changed()
        if resource == "customers":
            state.customers_by_email.pop(record["_email"], None)
        elif resource == "orders" and record["customer"] is not None:
            _restate_customer(state, record["customer"], moment)
        elif resource == "products":
            for order in state.orders.by_num.values():
                for line in order["_lines"]:
                    if line["product"] is record:
                        line.update(product=None, variant=None)
        _record_event(state, record, subject_type, moment)
        return record


def _restate_customer(state: ShopState, customer: Record, moment: datetime) -> None:
    orders = [o for o in state.orders.by_num.values() if o["customer"] is customer]
    spent = sum((Decimal(o["currentTotalPriceSet"]["shopMoney"]["amount"]) for o in orders
                 if not o["test"] and o["cancelledAt"] is None), Decimal("0"))
    customer["numberOfOrders"] = str(len(orders))
    customer["amountSpent"] = money(spent, state.currency)
    customer["lastOrder"] = max(orders, key=lambda o: (o["_created"], o["_num"]), default=None)
    state.touch(customer, state.customers, moment)


def _record_event(state: ShopState, record: Record, subject_type: str, moment: datetime) -> None:
    events: Collection = state.events
    num = len(events.by_num) + 1
    title = record.get("name") or record.get("title") or record.get("displayName") or record["id"]
    events.add({
        "_num": num,
        "_created": moment,
        "__typename": "BasicEvent",
        "id": gid("BasicEvent", num),
        "action": "destroy",
        "createdAt": iso(moment),
        "message": f"{title} was deleted.",
        "appTitle": None,
        "attributeToApp": False,
        "attributeToUser": True,
        "criticalAlert": False,
        "subjectId": record["id"],
        "subjectType": subject_type,
    })
