"""Shopify's token endpoint, shared by every grant: where it is, and how its answers are read."""

from __future__ import annotations

from typing import Any

import httpx

from winback import errors

TOKEN_HEADER = "X-Shopify-Access-Token"
TOKEN_PATH = "/admin/oauth/access_token"


def grant_error(response: httpx.Response, store: str, what: str, remedy: str) -> errors.TokenGrantError:
    """Shopify's refusal of a grant, worded for the merchant; the body's ``error`` code is shown,
    never anything the request carried."""
    code = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        found = body.get("error") or body.get("errors")
        if isinstance(found, str) and len(found) < 120:
            code = f", {found}"
    return errors.TokenGrantError(
        f"{store}: Shopify refused the {what} (HTTP {response.status_code}{code}): {remedy}", store=store
    )


def parse_token_answer(response: httpx.Response, store: str) -> tuple[str, int | None, str]:
    """``(access_token, expires_in or None, scope)`` from a 200 answer of ``/admin/oauth/access_token``."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise errors.UnexpectedResponseError(
            f"{store}: the token endpoint answered HTTP {response.status_code} without an access_token", store=store
        )
    expires_in = body.get("expires_in")
    scope = body.get("scope")
    return token, int(expires_in) if isinstance(expires_in, (int, float)) else None, scope if isinstance(scope, str) else ""
