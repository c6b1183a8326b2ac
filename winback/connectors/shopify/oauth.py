"""The authorization code grant, for an agency reaching a client's store outside its organization.

Three steps, each a small function so ``winback connect`` (and later ``winback serve``) only wires
them together:

1. :class:`InstallRequest` makes the install URL (``/admin/oauth/authorize`` with the scopes, the
   redirect URL and a random one-time ``state``);
2. :func:`verify_callback` decides whether a callback may be trusted: its ``hmac`` (hex
   HMAC-SHA256 with the client secret over the other parameters, sorted, ``k=v`` joined by ``&``,
   compared in constant time), the ``shop`` (a ``*.myshopify.com`` host equal to the configured
   store), the ``state`` (this install's, unused) and a recent ``timestamp``;
3. :func:`exchange_code` trades the code for the offline token at ``/admin/oauth/access_token``
   (an expiring one with its refresh token unless ``expiring_offline_access = false``).

Nothing here writes anything: a forged, replayed or mismatched callback raises
:class:`~winback.errors.OAuthCallbackError` before a token exists.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx

from winback import errors
from winback.connectors.auth import NoToken
from winback.connectors.http import HttpClient, RetryPolicy
from winback.connectors.shopify.settings import ShopifySettings
from winback.connectors.shopify.grants import TOKEN_PATH, grant_error, parse_token_answer
from winback.connectors.shopify.refresh import OfflineTokens

AUTHORIZE_PATH = "/admin/oauth/authorize"
SHOP_HOST = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$")
MAX_CALLBACK_AGE_S = 600.0
"""A callback older than this (or this far in the future) is refused even with a valid hmac."""


def callback_hmac(params: Mapping[str, str], secret: str) -> str:
    """Shopify's signature of a redirect: every parameter but ``hmac``, sorted by name, ``k=v``
    joined by ``&`` (decoded values), HMAC-SHA256 keyed with the client secret, hex."""
    message = "&".join(f"{key}={value}" for key, value in sorted(params.items()) if key != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


@dataclass
class InstallRequest:
    """One attempt to install the app on one store; its ``state`` is accepted once."""

    settings: ShopifySettings
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    used: bool = False

    @property
    def url(self) -> str:
        query = urlencode({
            "client_id": self.settings.client_id or "",
            "scope": ",".join(self.settings.scopes),
            "redirect_uri": self.settings.redirect_uri,
            "state": self.state,
        })
        return f"{self.settings.base}{AUTHORIZE_PATH}?{query}"


def verify_callback(params: Mapping[str, str], install: InstallRequest, *, now: float | None = None) -> str:
    """The ``code`` of a callback that passes every check; else :class:`OAuthCallbackError`.

    The state is spent by the first callback that carries it and a valid hmac, so a replay of the
    same callback (or any later one) is refused.
    """
    settings = install.settings
    store = settings.shop
    secret = settings.client_secret.get_secret_value() if settings.client_secret else ""
    given = params.get("hmac", "")
    expected = callback_hmac(params, secret)
    if not given or not hmac.compare_digest(given.lower().encode(), expected.encode()):
        raise errors.OAuthCallbackError(
            f"{store}: refused an install callback whose hmac does not match the app's client secret (forged, "
            "altered, or meant for another app): nothing was saved; run `winback connect` again"
        )
    shop = params.get("shop", "")
    if not SHOP_HOST.match(shop) or shop.lower() != store:
        raise errors.OAuthCallbackError(
            f"{store}: refused an install callback for {shop[:80]!r}, not the configured store: nothing was saved; "
            "install from the URL winback printed, signed in to the client's store"
        )
    if params.get("state") != install.state or install.used:
        reason = "was already used" if params.get("state") == install.state else "does not belong to this install"
        raise errors.OAuthCallbackError(
            f"{store}: refused an install callback whose state {reason} (a replayed or stale link): nothing was "
            "saved; run `winback connect` again and use the new URL"
        )
    install.used = True
    if "error" in params:
        raise errors.OAuthCallbackError(f"{store}: the install was not approved ({params['error'][:80]}): nothing was saved")
    try:
        stamp = float(params.get("timestamp", ""))
    except ValueError:
        stamp = -1.0
    if abs((time.time() if now is None else now) - stamp) > MAX_CALLBACK_AGE_S:
        raise errors.OAuthCallbackError(
            f"{store}: refused an install callback with a missing or stale timestamp: nothing was saved; "
            "check this machine's clock and run `winback connect` again"
        )
    code = params.get("code", "")
    if not code:
        raise errors.OAuthCallbackError(f"{store}: the install callback carries no code: nothing was saved")
    return code


async def exchange_code(
    settings: ShopifySettings, code: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> tuple[OfflineTokens, str]:
    """``(offline tokens, granted scopes)`` for ``code``; a code works once.

    With ``settings.expiring_offline_access`` (the default) the request carries ``expiring=1`` and the
    answer has an access token living an hour, a refresh token and both expiries; otherwise (or
    if Shopify does not issue an expiring token to this app) a non-expiring token alone.
    """
    form = {
        "client_id": settings.client_id or "",
        "client_secret": settings.client_secret.get_secret_value() if settings.client_secret else "",
        "code": code,
    }
    if settings.expiring_offline_access:
        form["expiring"] = "1"
    async with HttpClient(
        base_url=settings.base,
        auth=NoToken(),
        store_label=settings.shop,
        retry=RetryPolicy(attempts=3, base_delay=0.5),
        transport=transport,
    ) as http:
        response = await http.request("POST", TOKEN_PATH, data=form, idempotent=False, raise_for_status=False)
    if response.status_code != 200:
        raise grant_error(
            response, settings.shop, "authorization code",
            "the code expires after a few minutes and works once: run `winback connect` again; check client_id "
            "and client_secret (Dev Dashboard → your app → Settings)",
        )
    _token, _expires_in, scope = parse_token_answer(response, settings.shop)
    tokens = OfflineTokens.from_answer(response.json())
    if tokens.access_expires_at is not None and tokens.refresh_token is None:
        raise errors.UnexpectedResponseError(
            f"{settings.shop}: Shopify answered with a token that expires but no refresh token to renew it: "
            "nothing was saved; set expiring_offline_access = false under [store] and run `winback connect` again",
            store=settings.shop,
        )
    return tokens, scope
