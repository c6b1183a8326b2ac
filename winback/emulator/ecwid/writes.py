"""The emulator's write routes: ``POST /customers`` and ``POST /discount_coupons``.

Each validates the body as Ecwid documents it, refuses a duplicate email or code with 409, stores
the record under the state's lock and appends it to ``accepted`` (the app's test-hook log of every
accepted create, served by ``GET /_emulator/writes``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from winback.emulator.ecwid import groups, render
from winback.emulator.ecwid.protocol import ApiError, json_body, number, ok, parse_when
from winback.emulator.ecwid.state import EcwidState
from winback.emulator.server import Request, Response

Accepted = dict[str, list[dict[str, Any]]]

_DISCOUNT_TYPES = {"ABS", "PERCENT", "SHIPPING", "ABS_AND_SHIPPING", "PERCENT_AND_SHIPPING"}
_USES_LIMITS = {"UNLIMITED", "ONCEPERCUSTOMER", "SINGLE"}
_COUPON_STATUSES = {"ACTIVE", "PAUSED"}


def create_customer(state: EcwidState, accepted: Accepted, request: Request) -> Response:
    body = json_body(request)
    email = body.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise ApiError(400, "Customer email is required", "INVALID_PARAMETER")
    with state.lock:
        if state.find_customer_by_email(email) is not None:
            raise ApiError(409, "The customer with the given email already exists", "CUSTOMER_ALREADY_EXISTS")
        cid = state.add_customer(body)
        accepted["customers_created"].append({"id": cid, "email": email})
    return ok({"id": cid})


_UPDATABLE_CUSTOMER_FIELDS = {"acceptMarketing", "billingPerson", "lang", "privateAdminNotes", "taxExempt"}
_LOGGED_FIELDS = _UPDATABLE_CUSTOMER_FIELDS | {"customerGroupId"}


def update_customer(state: EcwidState, accepted: Accepted, request: Request, key: str) -> Response:
    """``PUT /customers/{id}``: changes the fields given (winback sends ``acceptMarketing`` or
    ``customerGroupId``, which must name an existing group);
    answers ``{"updateCount": 1}`` as Ecwid documents."""
    body = json_body(request)
    try:
        cid = int(key)
    except ValueError:
        raise ApiError(404, f"Customer #{key} not found", "NOT_FOUND") from None
    if "acceptMarketing" in body and not isinstance(body["acceptMarketing"], bool):
        raise ApiError(400, "Field 'acceptMarketing' must be a boolean", "INVALID_PARAMETER")
    with state.lock:
        record = state.customers.get(cid)
        if record is None:
            raise ApiError(404, f"Customer #{key} not found", "NOT_FOUND")
        group = groups.group_name(state, body["customerGroupId"]) if "customerGroupId" in body else None
        when = state.tick()
        for field in _UPDATABLE_CUSTOMER_FIELDS & body.keys():
            record.body[field] = body[field]
        if group is not None:
            record.body["customerGroupId"], record.body["customerGroupName"] = group
        record.body["updated"] = render.ecwid_date(when)
        record.updated = render.unix(when)
        accepted["customers_updated"].append({"id": cid, "email": record.body.get("email"),
                                              **{k: body[k] for k in sorted(_LOGGED_FIELDS & body.keys())}})
    return ok({"updateCount": 1})


def create_coupon(state: EcwidState, accepted: Accepted, request: Request) -> Response:
    body = json_body(request)
    name, code = body.get("name"), body.get("code")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "Coupon name is required", "INVALID_PARAMETER")
    if not isinstance(code, str) or not code or len(code) > 128:
        raise ApiError(400, "Coupon code is required (at most 128 characters)", "INVALID_PARAMETER")
    stored: dict[str, Any] = {"name": name, "code": code}
    discount_type = body.get("discountType", "ABS")
    if discount_type not in _DISCOUNT_TYPES:
        raise ApiError(400, f"Wrong discountType value: '{discount_type}'", "INVALID_PARAMETER")
    stored["discountType"] = discount_type
    status = body.get("status", "ACTIVE")
    if status not in _COUPON_STATUSES:
        raise ApiError(400, f"Wrong status value: '{status}'", "INVALID_PARAMETER")
    stored["status"] = status
    stored["discount"] = number(body.get("discount", 0), "discount")
    for field in ("launchDate", "expirationDate"):
        if field in body and body[field] is not None:
            when = parse_when(str(body[field]), field)
            stored[field] = render.ecwid_date(datetime.fromtimestamp(when, tz=timezone.utc))
    if "totalLimit" in body:
        stored["totalLimit"] = number(body["totalLimit"], "totalLimit")
    uses = body.get("usesLimit", "UNLIMITED")
    if uses not in _USES_LIMITS:
        raise ApiError(400, f"Wrong usesLimit value: '{uses}'", "INVALID_PARAMETER")
    stored["usesLimit"] = uses
    for passthrough in ("repeatCustomerOnly", "applicationLimit", "catalogLimit", "shippingLimit"):
        if passthrough in body:
            stored[passthrough] = body[passthrough]
    with state.lock:
        if state.find_coupon_by_code(code) is not None:
            raise ApiError(409, "The coupon with the given code already exists", "COUPON_ALREADY_EXISTS")
        coupon_id = state.add_coupon(stored)
        accepted["discount_coupons"].append({"id": coupon_id, "code": code})
    return ok({"id": coupon_id, "code": code})
