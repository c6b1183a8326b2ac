"""Customer groups on the Ecwid emulator: ``GET|POST /customer_groups``, and the group a
``PUT /customers/{id}`` may set.

As Ecwid documents them (docs.ecwid.com/api-reference/rest-api/customers/customer-groups): the list
is the ``{total, count, offset, limit, items}`` envelope of ``{id, name}`` with the built-in group
``{id: 0, name: "General"}`` first, ``keyword`` searches the name (assumed: case-insensitive
substring), ``limit`` at most 100; a create takes ``{name}`` and answers ``{id}``. Ecwid does not say
whether two groups may share a name: the emulator allows it, as the real store may.
"""

from __future__ import annotations

from typing import Any

from winback.emulator.ecwid.protocol import ApiError, int_param, json_body, ok
from winback.emulator.ecwid.state import EcwidState
from winback.emulator.server import Request, Response

GENERAL = "General"
_FIRST_ID = 9_367_001


def search_groups(state: EcwidState, request: Request) -> Response:
    with state.lock:
        groups = [{"id": 0, "name": GENERAL}] + [{"id": gid, "name": name} for gid, name in sorted(state.customer_groups.items())]
    keyword = (request.param("keyword") or "").strip().casefold()
    if keyword:
        groups = [g for g in groups if keyword in str(g["name"]).casefold()]
    offset = int_param(request, "offset", 0)
    limit = min(int_param(request, "limit", 100), 100) or 100
    chunk = groups[offset: offset + limit]
    return ok({"total": len(groups), "count": len(chunk), "offset": offset, "limit": limit, "items": chunk})


def create_group(state: EcwidState, accepted: dict[str, list[dict[str, Any]]], request: Request) -> Response:
    body = json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "Customer group name is required", "INVALID_PARAMETER")
    with state.lock:
        gid = _FIRST_ID + len(state.customer_groups)
        state.customer_groups[gid] = name.strip()
        accepted.setdefault("customer_groups_created", []).append({"id": gid, "name": name.strip()})
    return ok({"id": gid})


def group_name(state: EcwidState, value: Any) -> tuple[int, str]:
    """``(id, name)`` of the group a customer update names; 400 for an unknown group (assumed: the
    documentation does not say what Ecwid answers)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "Field 'customerGroupId' must be a number", "INVALID_PARAMETER")
    if value == 0:
        return 0, GENERAL
    name = state.customer_groups.get(value)
    if name is None:
        raise ApiError(400, f"Customer group #{value} not found", "INVALID_PARAMETER")
    return value, name
