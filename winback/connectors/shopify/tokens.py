"""Where a Shopify connector's token comes from, by the store's auth mode.

* ``access-token``: an admin-created app's ``shpat_…`` token (legacy since 2026-01-01), or the
  offline token ``winback connect`` saved (``authorization-code``): sent as is.
* ``client-credentials``: a Dev Dashboard app installed on a store of the merchant's own
  organization asks ``POST /admin/oauth/access_token`` (``grant_type=client_credentials``) for a
  token that lives about 24 h. :class:`ClientCredentialsToken` does it inside the ``httpx.Auth``
  flow, keeps the token in memory only and renews it before expiry and once after a 401.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from winback import errors
from winback.connectors.auth import GrantedToken, StaticToken, TokenAuth
from winback.connectors.retry import retry_extensions
from winback.connectors.shopify.settings import ShopifySettings
from winback.secrets import register_secret

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


class ClientCredentialsToken(GrantedToken):
    """Tokens of a Dev Dashboard app by the client credentials grant (form body, as Shopify documents)."""

    def __init__(self, settings: ShopifySettings, *, refresh_margin_s: float = 300.0) -> None:
        super().__init__(header=TOKEN_HEADER, prefix="", refresh_margin_s=refresh_margin_s)
        assert settings.client_id is not None and settings.client_secret is not None
        self._url = f"{settings.base}{TOKEN_PATH}"
        self._store = settings.shop
        self._client_id = settings.client_id
        self._client_secret = settings.client_secret
        register_secret(settings.client_secret.get_secret_value())
        self.scope = ""
        self.grants = 0
        """Tokens obtained so far (for ``check`` and tests)."""

    def grant_request(self) -> httpx.Request:
        return httpx.Request(
            "POST",
            self._url,
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret.get_secret_value(),
            },
            headers={"Accept": "application/json"},
            extensions=retry_extensions(idempotent=True),
        )

    def read_grant(self, response: httpx.Response) -> tuple[str, datetime | None]:
        if response.status_code == 429 or response.status_code >= 500:
            raise errors.PlatformUnavailableError(
                f"{self._store}: Shopify's token endpoint is unavailable (HTTP {response.status_code}) after retries: "
                "try again later", store=self._store,
            )
        if response.status_code != 200:
            raise grant_error(
                response, self._store, "client credentials grant",
                "check client_id and client_secret (Dev Dashboard → your app → Settings) and that the app "
                f"is installed on {self._store}; the grant works only for stores of the app's own organization "
                '(for a client\'s store use auth = "authorization-code" and `winback connect`)',
            )
        token, expires_in, scope = parse_token_answer(response, self._store)
        self.scope = scope
        self.grants += 1
        expires_at = None if expires_in is None else datetime.now(timezone.utc) + timedelta(seconds=expires_in)
        return token, expires_at

    def __repr__(self) -> str:
        return f"ClientCredentialsToken(store={self._store!r}, client_id={self._client_id!r}, secret=***)"


def token_provider_for(settings: ShopifySettings) -> TokenAuth:
    """The ``httpx.Auth`` for ``settings``' auth mode; a :class:`~winback.errors.ConfigError` when
    the mode's credentials are not there yet."""
    mode = settings.auth_mode
    if mode == "client-credentials":
        return ClientCredentialsToken(settings)
    if settings.access_token is None:
        if mode == "authorization-code":
            raise errors.ConfigError(
                f"{settings.shop}: no access token yet: run `winback connect --config FILE` once to install the "
                "app on the store; it saves the token in the secrets file",
                key="store.access_token",
            )
        raise errors.ConfigError(
            f"{settings.shop}: no credentials are configured: give access_token (an app created in the Shopify "
            "admin before 2026), or client_id and client_secret (a Dev Dashboard app); `winback init --auth` "
            "writes either",
            key="access_token",
        )
    return StaticToken(settings.access_token.get_secret_value(), header=TOKEN_HEADER, prefix="")


def describe_auth(settings: ShopifySettings, provider: TokenAuth | None) -> str:
    """One line for ``winback check``: the auth mode and, for expiring tokens, their remaining life."""
    mode = settings.auth_mode
    if mode == "access-token":
        return "access-token (an admin-created app's token; does not expire)"
    if mode == "authorization-code":
        return f"authorization-code (offline token saved by `winback connect` for app {settings.client_id}; does not expire)"
    text = f"client-credentials (Dev Dashboard app {settings.client_id})"
    if isinstance(provider, ClientCredentialsToken):
        left = provider.remaining_s()
        if left is not None:
            text += f"; token valid for {_duration(left)} more, renewed automatically"
    return text


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    if seconds < 120:
        return f"{seconds} s"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min"
