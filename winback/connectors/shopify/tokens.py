"""Where a Shopify connector's token comes from, by the store's auth mode.

* ``access-token``: an admin-created app's ``shpat_…`` token (legacy since 2026-01-01): sent as is.
* ``authorization-code``: the offline token ``winback connect`` saved. An expiring one (with a
  refresh token) is renewed by :class:`~winback.connectors.shopify.refresh.RefreshingOfflineToken`,
  which saves each new pair through the :class:`SecretStore` it is given; a legacy non-expiring
  one is sent as is.
* ``client-credentials``: a Dev Dashboard app installed on a store of the merchant's own
  organization asks ``POST /admin/oauth/access_token`` (``grant_type=client_credentials``) for a
  token that lives about 24 h. :class:`ClientCredentialsToken` does it inside the ``httpx.Auth``
  flow, keeps the token in memory only and renews it before expiry and once after a 401.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx

from winback import errors
from winback.connectors.auth import GrantedToken, StaticToken, TokenAuth
from winback.connectors.retry import retry_extensions
from winback.connectors.shopify.grants import TOKEN_HEADER, TOKEN_PATH, grant_error, parse_token_answer
from winback.connectors.secret_store import SecretStore
from winback.connectors.shopify.refresh import OfflineTokens, RefreshingOfflineToken
from winback.connectors.shopify.settings import ShopifySettings
from winback.secrets import register_secret

__all__ = ["TOKEN_HEADER", "TOKEN_PATH", "ClientCredentialsToken", "describe_auth", "grant_error",
           "parse_token_answer", "token_provider_for"]


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


def token_provider_for(settings: ShopifySettings, secret_store: SecretStore | None = None) -> TokenAuth:
    """The ``httpx.Auth`` for ``settings``' auth mode; a :class:`~winback.errors.ConfigError` when
    the mode's credentials are not there yet.

    ``secret_store`` is where an expiring offline token's renewals are saved (the client's secrets
    file, passed by :meth:`winback.config.ClientConfig.build_connector`); without it such a token
    is refused, since a renewal that cannot be saved would lose the store's access.
    """
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
    if mode == "authorization-code" and settings.refresh_token is not None:
        if secret_store is None:
            raise errors.ConfigError(
                f"{settings.shop}: the saved offline token expires and each renewal replaces the refresh token, "
                "which must be saved: load the client with winback.config.load_config and build the connector "
                "with ClientConfig.build_connector() (or pass secret_store=...)",
                key="store.refresh_token",
            )
        assert settings.client_id is not None and settings.client_secret is not None
        tokens = OfflineTokens(
            settings.access_token.get_secret_value(), settings.access_expires_at,
            settings.refresh_token.get_secret_value(), settings.refresh_expires_at,
        )
        return RefreshingOfflineToken(
            url=f"{settings.base}{TOKEN_PATH}", store_label=settings.shop, client_id=settings.client_id,
            client_secret=settings.client_secret.get_secret_value(), tokens=tokens, secret_store=secret_store,
            header=TOKEN_HEADER,
        )
    return StaticToken(settings.access_token.get_secret_value(), header=TOKEN_HEADER, prefix="")


REFRESH_WARN_S = 14 * 86400.0
"""``check`` warns when the refresh token has less than this left."""


def describe_auth(settings: ShopifySettings, provider: TokenAuth | None) -> str:
    """One line for ``winback check``: the auth mode and, for expiring tokens, their remaining life."""
    mode = settings.auth_mode
    if mode == "access-token":
        return "access-token (an admin-created app's token; does not expire)"
    if mode == "authorization-code":
        if not isinstance(provider, RefreshingOfflineToken):
            return (f"authorization-code (non-expiring offline token saved by `winback connect` for app "
                    f"{settings.client_id}; Shopify refuses these for public apps from 2027-01-01: set "
                    "expiring_offline_access = true, the default, and run `winback connect` again)")
        text = f"authorization-code (expiring offline token saved by `winback connect` for app {settings.client_id}"
        left = provider.remaining_s()
        if left is not None:
            text += f"; access token valid for {_duration(left)} more" if left > 0 else "; access token expired"
        refresh_left = provider.refresh_remaining_s()
        if refresh_left is not None:
            text += f", refresh token for {_duration(refresh_left)}"
        text += "; renewed automatically)"
        if refresh_left is not None and refresh_left < REFRESH_WARN_S:
            text += (" — the refresh token expires soon: a sync renews it; if none runs before then, run "
                     "`winback connect` again")
        return text
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
    days, rest = divmod(seconds, 86400)
    if days >= 2:
        return f"{days} days"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min"
