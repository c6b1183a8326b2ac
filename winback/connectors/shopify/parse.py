"""Shopify Admin GraphQL payloads → :mod:`winback.model`.

Pure functions, no I/O. Amounts go through ``Decimal(str(...))`` (Shopify sends them as strings),
``numberOfOrders`` is a string too. A node that cannot be translated raises one of
:data:`TRANSLATION_ERRORS`; :func:`translate` turns that into a :class:`RejectedRecord` so one bad
record never stops a page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import ValidationError

from winback.connectors.base import RejectedRecord, Resource
from winback.model import (
    AccountState,
    Address,
    ConsentState,
    Customer,
    DiscountCode,
    DiscountKind,
    EmailConsent,
    FinancialStatus,
    LineItem,
    Money,
    Order,
    Product,
    ProductStatus,
    birth_date_of,
)

log = logging.getLogger("winback.connectors.shopify")

PLATFORM = "shopify"
T = TypeVar("T")

TRANSLATION_ERRORS = (ValidationError, ValueError, KeyError, TypeError, InvalidOperation, AttributeError)

CONSENT = {
    "SUBSCRIBED": ConsentState.SUBSCRIBED,
    "NOT_SUBSCRIBED": ConsentState.NOT_SUBSCRIBED,
    "PENDING": ConsentState.NOT_SUBSCRIBED,
    "UNSUBSCRIBED": ConsentState.UNSUBSCRIBED,
    "REDACTED": ConsentState.UNKNOWN,
    "INVALID": ConsentState.UNKNOWN,
}

ACCOUNT = {
    "DISABLED": AccountState.GUEST,
    "INVITED": AccountState.INVITED,
    "ENABLED": AccountState.ENABLED,
    "DECLINED": AccountState.DECLINED,
}

FINANCIAL = {name.upper(): member for name, member in FinancialStatus.__members__.items()}

PRODUCT_STATUS = {
    "ACTIVE": ProductStatus.ACTIVE,
    "DRAFT": ProductStatus.DRAFT,
    "ARCHIVED": ProductStatus.ARCHIVED,
    # 2026-07 added UNLISTED: sellable by direct link but hidden from the storefront's search and
    # collections. Rules must not recommend it, so it is not "active" for us.
    "UNLISTED": ProductStatus.UNLISTED,
}


class MissingField(KeyError):
    """A field the model requires was absent or null."""

    def __str__(self) -> str:
        return f"missing required field {self.args[0]!r}"


def _required(node: Mapping[str, Any], key: str) -> Any:
    value = node.get(key)
    if value is None:
        raise MissingField(key)
    return value


def _obj(node: Mapping[str, Any] | None, *path: str) -> Any:
    current: Any = node
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def money(value: Mapping[str, Any] | None) -> Money | None:
    """``MoneyV2`` (``{amount: "12.30", currencyCode: "EUR"}``) → :class:`Money`; ``None`` stays ``None``."""
    if value is None:
        return None
    amount = value["amount"]
    if isinstance(amount, float):
        amount = repr(amount)
    return Money(amount=Decimal(str(amount)), currency=value["currencyCode"])


def _shop_money(node: Mapping[str, Any], key: str) -> Money | None:
    return money(_obj(node, key, "shopMoney"))


def address(value: Mapping[str, Any] | None) -> Address | None:
    if not value:
        return None
    return Address(
        first_name=value.get("firstName"),
        last_name=value.get("lastName"),
        company=value.get("company"),
        address1=value.get("address1"),
        address2=value.get("address2"),
        city=value.get("city"),
        province=value.get("province"),
        province_code=value.get("provinceCode"),
        country=value.get("country"),
        country_code=value.get("countryCodeV2") or value.get("countryCode"),
        zip=value.get("zip"),
        phone=value.get("phone"),
    )


def consent(node: Mapping[str, Any]) -> EmailConsent:
    """Consent from ``defaultEmailAddress``; the deprecated ``emailMarketingConsent`` only as fallback."""
    current = node.get("defaultEmailAddress")
    if isinstance(current, Mapping) and current.get("marketingState"):
        state, updated = current.get("marketingState"), current.get("marketingUpdatedAt")
    else:
        legacy = node.get("emailMarketingConsent")
        if not isinstance(legacy, Mapping):
            return EmailConsent()
        state, updated = legacy.get("marketingState"), legacy.get("consentUpdatedAt")
    return EmailConsent(state=CONSENT.get(str(state), ConsentState.UNKNOWN), updated_at=updated)


def parse_customer(node: Mapping[str, Any], store_id: str) -> Customer:
    email = _obj(node, "defaultEmailAddress", "emailAddress") or node.get("email")
    orders = node.get("numberOfOrders")
    state = node.get("state")
    return Customer(
        platform=PLATFORM,
        store_id=store_id,
        id=str(_required(node, "id")),
        email=email,
        first_name=node.get("firstName"),
        last_name=node.get("lastName"),
        phone=_obj(node, "defaultPhoneNumber", "phoneNumber") or node.get("phone") or _obj(node, "defaultAddress", "phone"),
        created_at=node.get("createdAt"),
        updated_at=_required(node, "updatedAt"),
        account=ACCOUNT[state] if state is not None else AccountState.GUEST,
        consent=consent(node),
        orders_count=int(str(orders)) if orders is not None else None,
        amount_spent=money(node.get("amountSpent")),
        tags=tuple(node.get("tags") or ()),
        default_address=address(node.get("defaultAddress")),
        birth_date=birth_date_of(_obj(node, "birthDate", "value")),
    )


def parse_line_item(node: Mapping[str, Any]) -> LineItem:
    return LineItem(
        id=str(_required(node, "id")),
        product_id=_obj(node, "product", "id"),
        variant_id=_obj(node, "variant", "id"),
        sku=node.get("sku") or None,
        title=_required(node, "title"),
        quantity=_required(node, "quantity"),
        current_quantity=node["currentQuantity"] if node.get("currentQuantity") is not None else node["quantity"],
        unit_price=_shop_money(node, "originalUnitPriceSet"),
    )


def line_item_nodes(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Line-item nodes of an order payload, whether given as ``nodes`` or ``edges{node}``."""
    connection = order.get("lineItems")
    if not isinstance(connection, Mapping):
        return []
    if isinstance(connection.get("nodes"), list):
        return list(connection["nodes"])
    return [edge["node"] for edge in connection.get("edges") or () if isinstance(edge, Mapping)]


def parse_order(
    node: Mapping[str, Any], store_id: str, line_items: Iterable[Mapping[str, Any]] | None = None
) -> Order:
    """``line_items`` overrides the nodes inside ``node`` (used when more were fetched separately)."""
    items = line_items if line_items is not None else line_item_nodes(node)
    status = node.get("displayFinancialStatus")
    total = _shop_money(node, "totalPriceSet")
    if total is None:
        raise MissingField("totalPriceSet")
    return Order(
        platform=PLATFORM,
        store_id=store_id,
        id=str(_required(node, "id")),
        name=node.get("name"),
        email=node.get("email"),
        customer_id=_obj(node, "customer", "id"),
        created_at=_required(node, "createdAt"),
        updated_at=_required(node, "updatedAt"),
        processed_at=node.get("processedAt"),
        cancelled_at=node.get("cancelledAt"),
        test=bool(node.get("test", False)),
        financial_status=FINANCIAL.get(str(status), FinancialStatus.UNKNOWN) if status else FinancialStatus.UNKNOWN,
        total=total,
        current_total=_shop_money(node, "currentTotalPriceSet"),
        refunded=_shop_money(node, "totalRefundedSet"),
        line_items=tuple(parse_line_item(item) for item in items),
        billing_address=address(node.get("billingAddress")),
        accepts_marketing=node.get("customerAcceptsMarketing"),
        discount_codes=tuple(str(code) for code in node.get("discountCodes") or () if code),
        **fulfilment(node),
    )


def fulfilment(node: Mapping[str, Any]) -> dict[str, Any]:
    """``fulfillment_status``, ``fulfilled_at`` and ``delivered_at`` of an order node.

    Fulfilled: ``displayFulfillmentStatus`` is ``FULFILLED`` and the time is the last successful
    shipment's ``createdAt`` (when the last item left). Delivered: every successful shipment has a
    ``deliveredAt`` (carriers that report it, or the merchant marking it), the latest of them.
    """
    status = node.get("displayFulfillmentStatus")
    shipments = [f for f in node.get("fulfillments") or () if isinstance(f, Mapping) and f.get("status") == "SUCCESS"]
    fulfilled_at = delivered_at = None
    if status == "FULFILLED" and shipments:
        fulfilled_at = max(filter(None, (parse_datetime(f.get("createdAt")) for f in shipments)), default=None)
        delivered = [parse_datetime(f.get("deliveredAt")) for f in shipments]
        if all(delivered):
            delivered_at = max(d for d in delivered if d is not None)
    return {
        "fulfillment_status": str(status).lower() if status else None,
        "fulfilled_at": fulfilled_at,
        "delivered_at": delivered_at,
    }


def parse_product(node: Mapping[str, Any], store_id: str, shop_domain: str) -> Product:
    handle = node.get("handle")
    url = node.get("onlineStoreUrl")
    if not url and handle:
        url = f"https://{shop_domain}/products/{handle}"
    status = node.get("status")
    return Product(
        platform=PLATFORM,
        store_id=store_id,
        id=str(_required(node, "id")),
        title=_required(node, "title"),
        handle=handle,
        url=url,
        image_url=_obj(node, "featuredMedia", "preview", "image", "url"),
        status=PRODUCT_STATUS[status] if status is not None else ProductStatus.ACTIVE,
        price=money(_obj(node, "priceRangeV2", "minVariantPrice")),
        created_at=node.get("createdAt"),
        updated_at=node.get("updatedAt"),
    )


def parse_discount_node(node: Mapping[str, Any], store_id: str, code: str) -> DiscountCode:
    """A ``DiscountCodeNode`` → :class:`DiscountCode`; ``code`` is the code it was found or created by."""
    discount = node.get("codeDiscount") or {}
    kind: DiscountKind | None = None
    value: Decimal | None = None
    gets = _obj(discount, "customerGets", "value") or {}
    if "percentage" in gets and gets["percentage"] is not None:
        kind = DiscountKind.PERCENTAGE
        # Shopify stores 0..1; our specs speak percent. Round away binary noise (0.15 → 15).
        value = _plain(Decimal(str(gets["percentage"])) * 100)
    elif isinstance(gets.get("amount"), Mapping):
        kind = DiscountKind.FIXED_AMOUNT
        value = Decimal(str(gets["amount"]["amount"]))
    customers = _obj(discount, "context", "customers") or ()
    return DiscountCode(
        platform=PLATFORM,
        store_id=store_id,
        id=str(_required(node, "id")),
        code=code,
        title=discount.get("title"),
        kind=kind,
        value=value,
        starts_at=discount.get("startsAt"),
        ends_at=discount.get("endsAt"),
        once_per_customer=discount.get("appliesOncePerCustomer"),
        usage_limit=discount.get("usageLimit"),
        customer_ids=tuple(c["id"] for c in customers if isinstance(c, Mapping) and c.get("id")),
    )


def _plain(value: Decimal) -> Decimal:
    """``15.00`` → ``15``, ``12.50`` → ``12.5``, without scientific notation (``1E+2``)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def translate(
    nodes: Iterable[Mapping[str, Any]],
    resource: Resource,
    parser: Callable[[Mapping[str, Any]], T],
    *,
    store: str,
) -> tuple[list[T], list[RejectedRecord], datetime | None]:
    """Translate a page of nodes; failures become :class:`RejectedRecord` (logged as warnings).

    Returns the records, the rejected ones, and the newest ``updatedAt`` seen (rejected included).
    """
    records: list[T] = []
    rejected: list[RejectedRecord] = []
    newest: datetime | None = None
    for node in nodes:
        updated = parse_datetime(node.get("updatedAt")) if isinstance(node, Mapping) else None
        if updated is not None and (newest is None or updated > newest):
            newest = updated
        try:
            if not isinstance(node, Mapping):
                raise TypeError(f"expected an object, got {type(node).__name__}")
            records.append(parser(node))
        except TRANSLATION_ERRORS as exc:
            record_id = node.get("id") if isinstance(node, Mapping) else None
            reason = _reason(exc)
            log.warning("%s: could not translate %s %s: %s", store, resource.value, record_id, reason)
            rejected.append(
                RejectedRecord(
                    resource=resource,
                    record_id=str(record_id) if record_id is not None else None,
                    reason=reason,
                    raw=dict(node) if isinstance(node, Mapping) else {"value": node},
                )
            )
    return records, rejected, newest


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]]
        return "invalid record: " + "; ".join(parts)
    if isinstance(exc, InvalidOperation):
        return "invalid decimal amount"
    if isinstance(exc, MissingField):
        return str(exc)
    if isinstance(exc, KeyError):
        return f"unexpected value or missing field {exc.args[0]!r}"
    return f"{type(exc).__name__}: {exc}"


def postal_address(address: Any) -> str | None:
    """``shopAddress.formatted`` (lines such as company, street, city and zip, country) as one line."""
    if not isinstance(address, Mapping):
        return None
    lines = [str(line).strip() for line in address.get("formatted") or () if str(line).strip()]
    return ", ".join(lines) or None


def granted_scopes(installation: Mapping[str, Any]) -> frozenset[str]:
    """The scope handles of ``currentAppInstallation.accessScopes``, each ``write_`` scope adding
    the ``read_`` scope it implies on Shopify."""
    scopes = installation.get("accessScopes") or []
    granted = {str(s["handle"]) for s in scopes if isinstance(s, Mapping) and s.get("handle")}
    return frozenset(granted | {"read_" + s[len("write_"):] for s in granted if s.startswith("write_")})
