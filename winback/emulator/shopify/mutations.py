"""Mutation resolvers: discount codes, customer accounts, and the bulk-operation entry points.

Each returns Shopify's payload shape with ``userErrors`` (never a top-level error for a business
rule). Every accepted write bumps ``updatedAt`` of what it changed, using the emulator's write clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from graphql import GraphQLResolveInfo

from winback.emulator.shopify.ids import ID_BASE, gid, iso, money, parse_gid
from winback.emulator.shopify.resolvers import _require
from winback.emulator.shopify.search import parse_time

if TYPE_CHECKING:
    from winback.emulator.shopify.app import ShopifyEmulator

Record = dict[str, Any]


def _error(field: list[str] | None, message: str, code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"field": field, "message": message}
    if code is not None:
        error["code"] = code
    return error


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    parsed = parse_time(str(value), datetime.now(timezone.utc))
    return parsed[0] if parsed else None


def _status(starts: datetime, ends: datetime | None, now: datetime) -> str:
    if starts > now:
        return "SCHEDULED"
    if ends is not None and ends <= now:
        return "EXPIRED"
    return "ACTIVE"


def build_mutation_resolvers(emulator: ShopifyEmulator) -> dict[str, Callable[..., Any]]:
    state = emulator.state

    def discount_code_basic_create(_root: Any, info: GraphQLResolveInfo, basicCodeDiscount: dict[str, Any]) -> Record:  # noqa: N803
        _require(info, "write_discounts")
        data = basicCodeDiscount
        base = ["basicCodeDiscount"]
        errors: list[dict[str, Any]] = []
        code = (data.get("code") or "").strip()
        title = (data.get("title") or "").strip()
        if not title:
            errors.append(_error([*base, "title"], "Title can't be blank", "BLANK"))
        if not code:
            errors.append(_error([*base, "code"], "Code can't be blank", "BLANK"))
        elif len(code) > 255:
            errors.append(_error([*base, "code"], "Code is too long (maximum is 255 characters)", "TOO_LONG"))
        starts = _as_datetime(data.get("startsAt"))
        ends = _as_datetime(data.get("endsAt"))
        if starts is None:
            errors.append(_error([*base, "startsAt"], "Starts at can't be blank", "BLANK"))
        elif ends is not None and ends <= starts:
            errors.append(_error([*base, "endsAt"], "Ends at needs to be after starts_at", "END_DATE_BEFORE_START_DATE"))
        gets = data.get("customerGets") or {}
        value = gets.get("value") or {}
        value_record: Record | None = None
        if "percentage" in value and value["percentage"] is not None:
            percentage = float(value["percentage"])
            if not 0.0 < percentage <= 1.0:
                errors.append(_error([*base, "customerGets", "value", "percentage"],
                                     "Value must be between 0.0 and 1.0", "VALUE_OUTSIDE_RANGE"))
            value_record = {"__typename": "DiscountPercentage", "percentage": percentage}
        elif value.get("discountAmount"):
            amount_input = value["discountAmount"]
            try:
                amount = Decimal(str(amount_input.get("amount")))
            except (InvalidOperation, ValueError):
                amount = Decimal("-1")
            if amount <= 0:
                errors.append(_error([*base, "customerGets", "value", "discountAmount", "amount"],
                                     "Value must be greater than 0", "GREATER_THAN"))
            value_record = {
                "__typename": "DiscountAmount",
                "amount": money(amount.copy_abs(), state.currency),
                "appliesOnEachItem": bool(amount_input.get("appliesOnEachItem")),
            }
        else:
            errors.append(_error([*base, "customerGets", "value"], "Value can't be blank", "BLANK"))
        if not (gets.get("items") or {}).get("all"):
            errors.append(_error([*base, "customerGets", "items"], "Items can't be blank", "BLANK"))
        context_input = data.get("context") or {"all": "ALL"}
        customers: list[Record] = []
        if context_input.get("customers"):
            for index, customer_id in enumerate(context_input["customers"].get("add") or ()):
                key = parse_gid(customer_id, "Customer")
                customer = state.customers.by_num.get(key) if key is not None else None
                if customer is None:
                    errors.append(_error([*base, "context", "customers", "add", str(index)],
                                         "Customer does not exist", "INVALID"))
                else:
                    customers.append(customer)
        with state.lock:
            if code and code.lower() in state.discounts_by_code:
                errors.append(_error([*base, "code"], "Code must be unique. Please try a different code.", "TAKEN"))
            if errors:
                return {"codeDiscountNode": None, "userErrors": errors}
            number = state.next_discount_number()
            now = state.now()
            assert starts is not None and value_record is not None
            combines = data.get("combinesWith") or {}
            discount: Record = {
                "__typename": "DiscountCodeBasic",
                "title": title,
                "status": _status(starts, ends, now),
                "startsAt": iso(starts),
                "endsAt": iso(ends),
                "appliesOncePerCustomer": bool(data.get("appliesOncePerCustomer")),
                "usageLimit": data.get("usageLimit"),
                "asyncUsageCount": 0,
                "createdAt": iso(now),
                "updatedAt": iso(now),
                "tags": list(data.get("tags") or ()),
                "summary": title,
                "shortSummary": title,
                "codesCount": {"count": 1, "precision": "EXACT"},
                "combinesWith": {
                    "productDiscounts": bool(combines.get("productDiscounts")),
                    "orderDiscounts": bool(combines.get("orderDiscounts")),
                    "shippingDiscounts": bool(combines.get("shippingDiscounts")),
                },
                "customerGets": {
                    "value": value_record,
                    "items": {"__typename": "AllDiscountItems", "allItems": True},
                    "appliesOnOneTimePurchase": True,
                    "appliesOnSubscription": False,
                },
                "context": (
                    {"__typename": "DiscountCustomers", "customers": customers}
                    if context_input.get("customers")
                    else {"__typename": "DiscountBuyerSelectionAll", "all": "ALL"}
                ),
                "minimumRequirement": None,
                "_codes": [{"_num": ID_BASE["DiscountRedeemCode"] + number, "id": gid("DiscountRedeemCode", number),
                            "code": code, "asyncUsageCount": 0}],
            }
            node = {"id": gid("DiscountCodeNode", number), "codeDiscount": discount, "_code": code}
            state.discounts_by_code[code.lower()] = node
            state.discounts_created.append(node)
            return {"codeDiscountNode": node, "userErrors": []}

    def customer_create(_root: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> Record:  # noqa: A002
        _require(info, "write_customers")
        email = (input.get("email") or "").strip() or None
        errors: list[dict[str, Any]] = []
        if input.get("id"):
            errors.append(_error(["id"], "Id must be blank"))
        if not (email or input.get("phone") or input.get("firstName") or input.get("lastName")):
            errors.append(_error(None, "A name, phone number, or email address must be present"))
        if email and ("@" not in email or email.startswith("@") or email.endswith("@")):
            errors.append(_error(["email"], "Email is invalid"))
        consent_input = input.get("emailMarketingConsent") or {}
        with state.lock:
            if email and email.lower() in state.customers_by_email:
                errors.append(_error(["email"], "Email has already been taken"))
            if errors:
                return {"customer": None, "userErrors": errors}
            customer = state.create_customer(
                email=email,
                first=input.get("firstName"),
                last=input.get("lastName"),
                phone=input.get("phone"),
                tags=[t.strip() for t in input.get("tags") or () if t.strip()],
                consent=consent_input.get("marketingState") or "NOT_SUBSCRIBED",
                consent_updated=_as_datetime(consent_input.get("consentUpdatedAt")) if consent_input else None,
                note=input.get("note"),
            )
        return {"customer": customer, "userErrors": []}

    def customer_send_account_invite_email(_root: Any, info: GraphQLResolveInfo, customerId: str,  # noqa: N803
                                           email: dict[str, Any] | None = None) -> Record:
        _require(info, "write_customers")
        if emulator.customer_accounts != "CLASSIC":
            return {"customer": None, "userErrors": [_error(None,
                    "The invite only works when legacy customer accounts are enabled on the shop.", "INVALID")]}
        key = parse_gid(customerId, "Customer")
        customer = state.customers.by_num.get(key) if key is not None else None
        if customer is None:
            return {"customer": None, "userErrors": [_error(["customerId"], "Customer does not exist", "INVALID")]}
        with state.lock:
            if customer["state"] == "ENABLED":
                return {"customer": None, "userErrors": [_error(["customerId"],
                        "Account already enabled", "INVALID")]}
            if not customer["email"]:
                return {"customer": None, "userErrors": [_error(["customerId"],
                        "Customer must have an email address", "INVALID")]}
            customer["state"] = "INVITED"
            state.touch(customer, state.customers)
            state.invites_sent.append({"customer_id": customer["id"], "email": customer["email"],
                                       "at": customer["updatedAt"], "custom": dict(email or {})})
        return {"customer": customer, "userErrors": []}

    def bulk_operation_run_query(_root: Any, info: GraphQLResolveInfo, query: str, groupObjects: bool = False) -> Record:  # noqa: N803
        return emulator.bulk.start(query)

    def bulk_operation_cancel(_root: Any, info: GraphQLResolveInfo, id: str) -> Record:  # noqa: A002
        return emulator.bulk.cancel(id)

    def customer_email_marketing_consent_update(_root: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> Record:  # noqa: A002
        _require(info, "write_customers")
        key = parse_gid(input.get("customerId") or "", "Customer")
        customer = state.customers.by_num.get(key) if key is not None else None
        if customer is None:
            return {"customer": None, "userErrors": [_error(["input", "customerId"], "Customer not found", "INVALID")]}
        consent = input.get("emailMarketingConsent") or {}
        wanted = consent.get("marketingState")
        if wanted not in ("SUBSCRIBED", "UNSUBSCRIBED", "PENDING"):
            return {"customer": None, "userErrors": [_error(
                ["input", "emailMarketingConsent", "marketingState"],
                f"Marketing state {wanted} cannot be set", "INCLUSION")]}
        with state.lock:
            if not customer.get("defaultEmailAddress"):
                return {"customer": None, "userErrors": [_error(["input", "customerId"],
                        "Customer must have an email address", "INVALID")]}
            moment = _as_datetime(consent.get("consentUpdatedAt")) or state.now()
            level = consent.get("marketingOptInLevel") or ("SINGLE_OPT_IN" if wanted != "UNSUBSCRIBED" else None)
            customer["defaultEmailAddress"].update(
                marketingState=wanted, marketingOptInLevel=level, marketingUpdatedAt=iso(moment))
            customer["emailMarketingConsent"] = {
                "marketingState": wanted, "marketingOptInLevel": level, "consentUpdatedAt": iso(moment)}
            state.touch(customer, state.customers)
            state.consent_updates.append({"customer_id": customer["id"], "email": customer["email"],
                                          "marketing_state": wanted})
        emulator.emit("customers/update", {"id": int(str(customer["id"]).rsplit("/", 1)[-1]),
                                           "admin_graphql_api_id": customer["id"], "email": customer["email"],
                                           "email_marketing_consent": {"state": wanted.lower()}})
        return {"customer": customer, "userErrors": []}

    def webhook_subscription_create(_root: Any, info: GraphQLResolveInfo, topic: str,
                                    webhookSubscription: dict[str, Any]) -> Record:  # noqa: N803
        uri = (webhookSubscription.get("uri") or "").strip()
        if not uri.startswith("https://") and not uri.startswith("http://127.0.0.1"):
            return {"webhookSubscription": None, "userErrors": [_error(["webhookSubscription", "uri"],
                    "Address is invalid")]}
        with state.lock:
            for existing in state.webhook_subscriptions:
                if existing["topic"] == topic and existing["uri"] == uri:
                    return {"webhookSubscription": None, "userErrors": [_error(["webhookSubscription", "uri"],
                            "Address for this topic has already been taken")]}
            node = {"id": gid("WebhookSubscription", len(state.webhook_subscriptions) + 1),
                    "topic": topic, "uri": uri, "format": webhookSubscription.get("format") or "JSON"}
            state.webhook_subscriptions.append(node)
        return {"webhookSubscription": node, "userErrors": []}

    return {
        "discountCodeBasicCreate": discount_code_basic_create,
        "customerCreate": customer_create,
        "customerSendAccountInviteEmail": customer_send_account_invite_email,
        "customerEmailMarketingConsentUpdate": customer_email_marketing_consent_update,
        "webhookSubscriptionCreate": webhook_subscription_create,
        "bulkOperationRunQuery": bulk_operation_run_query,
        "bulkOperationCancel": bulk_operation_cancel,
    }
