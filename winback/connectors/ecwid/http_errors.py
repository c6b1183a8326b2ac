"""Ecwid's HTTP statuses as merchant-readable :mod:`winback.errors` (the connector's ``error_mapper``).

Kept apart from the connector so the wording a merchant sees can be read and changed in one place;
the shared defaults (429, 5xx, timeouts) stay in :mod:`winback.connectors.http_errors`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx

from winback import errors
from winback.connectors.ecwid import parse
from winback.secrets import redact

_SCOPE_RE = re.compile(r"\b((?:read|create|update|delete|customize)_[a-z_]+)\b")
_BAD_TOKEN_RE = re.compile(r"token", re.IGNORECASE)


def _platform_message(response: httpx.Response) -> str:
    try:
        body = parse.decode_json(response.content)
    except ValueError:
        return redact(response.text.strip().replace("\n", " ")[:200])
    if isinstance(body, Mapping) and body.get("errorMessage"):
        return redact(str(body["errorMessage"])[:300])
    return redact(str(body)[:200])


def map_error(response: httpx.Response, store: str) -> errors.WinbackError | None:
    """Ecwid's statuses as merchant-readable errors (``None``: use the shared default)."""
    status = response.status_code
    detail = _platform_message(response)
    path = response.request.url.path.rstrip("/")
    if status in (401, 403):
        scope = _SCOPE_RE.search(detail)
        if scope:
            name = scope.group(1)
            return errors.MissingScopeError(
                f"{store} refused the request (HTTP {status}): the access token lacks the {name} scope. "
                f"Reinstall the app or issue a token with {name}. Ecwid said: {detail}",
                store=store,
                scope=name,
            )
        if status == 401 or (_BAD_TOKEN_RE.search(detail) and "scope" not in detail.lower()):
            return errors.AuthenticationError(
                f"{store} rejected the access token (HTTP {status}): it is wrong, revoked or belongs to another "
                f"store. Copy the secret token from the app's settings in Ecwid and update the config. "
                f"Ecwid said: {detail}",
                store=store,
            )
        return errors.MissingScopeError(
            f"{store} refused access (HTTP {status}): the token is wrong or lacks a permission for {path}. "
            f"Check the token and its scopes. Ecwid said: {detail}",
            store=store,
        )
    if status == 402:
        return errors.StoreFrozenError(
            f"{store} refused API access (HTTP 402): the store's plan doesn't allow API access or the store "
            f"is suspended. The merchant must upgrade or reactivate the plan. Ecwid said: {detail}",
            store=store,
        )
    if status == 404:
        return errors.StoreNotFoundError(
            f"{store} was not found (HTTP 404): check store_id in the config (it is the number in the "
            f"Ecwid admin URL). Ecwid said: {detail}",
            store=store,
        )
    if status == 409 and path.endswith("/discount_coupons"):
        return errors.DiscountCodeTakenError(
            f"{store} already has a discount coupon with this code (HTTP 409). Ecwid said: {detail}",
            store=store,
            code="TAKEN",
            field="code",
        )
    if status == 409 and path.endswith("/customers"):
        return errors.CustomerExistsError(
            f"{store} already has a customer with this email (HTTP 409). Ecwid said: {detail}",
            store=store,
            code="TAKEN",
            field="email",
        )
    if status in (400, 409, 415, 422):
        return errors.PlatformRejectedError(
            f"{store} refused the request (HTTP {status}): {detail}", store=store, code=str(status)
        )
    return None
