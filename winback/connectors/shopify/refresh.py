"""Expiring offline tokens of the authorization code grant, renewed with their refresh token.

Since December 2025 ``winback connect`` can ask Shopify (``expiring=1``) for an offline token that
lives an hour and comes with a refresh token (about 90 days). ``POST /admin/oauth/access_token``
with ``grant_type=refresh_token`` trades the refresh token for a new pair, and Shopify *replaces*
the refresh token each time. So the new pair is the store's only key: it is written durably to
the :class:`SecretStore` (the client's secrets file) **before** the new access token is used.

Kill-safety rests on Shopify's rule of August 2026: a used refresh token stays valid until the app
uses its replacement (for up to 30 days). A process killed after Shopify answered but before the
save leaves the previous pair on disk, and the next run refreshes with it again; a process killed
after the save leaves the new pair, which the next run uses. Never using a replacement before it is
saved is what keeps the previous token alive.

Concurrent renewals are serialised twice: an ``asyncio.Lock`` inside the process and the store's
lock across processes (a cron run beside ``winback serve``). Under the lock the store is read
again, so a pair another process saved meanwhile is adopted instead of spending a refresh token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from winback import errors
from winback.connectors.auth import GrantedToken
from winback.connectors.retry import retry_extensions
from winback.connectors.secret_store import SecretStore
from winback.connectors.shopify.grants import grant_error
from winback.secrets import register_secret

REFRESH_REMEDY = (
    "run `winback connect --config FILE` again to reinstall the app on the store (a refresh token "
    "expires after about 90 days without a renewal, and dies with an uninstall)"
)

ASSUMED_LIFETIME_S = 3600.0
"""An expiring offline token's documented lifetime, assumed for a pair read back from disk."""


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str) and value:
        try:
            return _parse_time(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


@dataclass(frozen=True, slots=True)
class OfflineTokens:
    """One pair as Shopify issued it: the offline access token, its refresh token and their expiries.

    ``refresh_token`` is ``None`` for a legacy non-expiring token (``expiring_offline_access = false``).
    """

    access_token: str
    access_expires_at: datetime | None = None
    refresh_token: str | None = None
    refresh_expires_at: datetime | None = None
    lifetime_s: float | None = None
    """The access token's lifetime as issued (``expires_in``); ``None`` when read back from disk."""

    @classmethod
    def from_answer(cls, body: Mapping[str, Any], *, now: datetime | None = None) -> OfflineTokens:
        """The pair in a 200 answer of the token endpoint (``access_token``, ``expires_in``,
        ``refresh_token``, ``refresh_token_expires_in``); a ``ValueError`` without an access token."""
        now = now or datetime.now(timezone.utc)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise ValueError("no access_token")
        refresh = body.get("refresh_token")
        refresh = refresh if isinstance(refresh, str) and refresh else None
        expires_in, refresh_in = body.get("expires_in"), body.get("refresh_token_expires_in")
        register_secret(token)
        register_secret(refresh)
        return cls(
            access_token=token,
            access_expires_at=now + timedelta(seconds=expires_in) if isinstance(expires_in, (int, float)) else None,
            refresh_token=refresh,
            refresh_expires_at=(now + timedelta(seconds=refresh_in)
                                if refresh and isinstance(refresh_in, (int, float)) else None),
            lifetime_s=float(expires_in) if isinstance(expires_in, (int, float)) else None,
        )

    @classmethod
    def from_secrets(cls, values: Mapping[str, Any]) -> OfflineTokens | None:
        """The pair under the secrets-file keys of :meth:`as_secrets`; ``None`` without an access token."""
        token = values.get("access_token")
        if not isinstance(token, str) or not token:
            return None
        refresh = values.get("refresh_token")
        refresh = refresh if isinstance(refresh, str) and refresh else None
        register_secret(token)
        register_secret(refresh)
        return cls(token, _parse_time(values.get("access_expires_at")), refresh,
                   _parse_time(values.get("refresh_expires_at")) if refresh else None)

    def as_secrets(self) -> dict[str, str | None]:
        """The secrets-file keys; ``None`` removes a key (a non-expiring token leaves no stale refresh token)."""
        def stamp(value: datetime | None) -> str | None:
            return None if value is None else value.astimezone(timezone.utc).isoformat(timespec="seconds")

        return {
            "access_token": self.access_token,
            "access_expires_at": stamp(self.access_expires_at),
            "refresh_token": self.refresh_token,
            "refresh_expires_at": stamp(self.refresh_expires_at),
        }

    def refresh_expired(self, now: datetime | None = None) -> bool:
        return self.refresh_expires_at is not None and (now or datetime.now(timezone.utc)) >= self.refresh_expires_at

    def __repr__(self) -> str:
        return f"OfflineTokens(access_expires_at={self.access_expires_at}, refresh_expires_at={self.refresh_expires_at}, tokens=***)"


class RefreshingOfflineToken(GrantedToken):
    """The ``httpx.Auth`` of an expiring offline token: renews it a few minutes before it expires
    and once after a 401, saving each new pair to ``store`` before using it.

    A renewal refused by Shopify (refresh token expired or revoked, app uninstalled) is a
    :class:`~winback.errors.TokenGrantError` naming the store and the remedy (``winback connect``).
    """

    def __init__(self, *, url: str, store_label: str, client_id: str, client_secret: str,
                 tokens: OfflineTokens, secret_store: SecretStore, header: str, refresh_margin_s: float = 300.0) -> None:
        super().__init__(header=header, prefix="", refresh_margin_s=refresh_margin_s)
        register_secret(client_secret)
        self._url, self._store_label = url, store_label
        self._client_id, self._client_secret = client_id, client_secret
        self._secret_store = secret_store
        self._adopt(tokens)
        self.refreshes = 0
        """Renewals this provider obtained from Shopify (for ``check`` and tests)."""

    def __repr__(self) -> str:
        return f"RefreshingOfflineToken(store={self._store_label!r}, client_id={self._client_id!r}, tokens=***)"

    def refresh_remaining_s(self) -> float | None:
        """Seconds the refresh token has left; ``None`` when unknown."""
        if self.tokens.refresh_expires_at is None:
            return None
        return (self.tokens.refresh_expires_at - datetime.now(timezone.utc)).total_seconds()

    # --- the grant's steps, in GrantedToken's flow ----------------------------------------------

    def _adopt(self, tokens: OfflineTokens) -> None:
        register_secret(tokens.refresh_token)
        self.tokens = tokens
        self._accept(tokens.access_token, tokens.access_expires_at)
        # A pair read from disk does not say how long it lived; Shopify's is an hour, which puts
        # the renewal margin at refresh_margin_s (5 min) rather than a tenth of what is left.
        self._lifetime_s = tokens.lifetime_s or ASSUMED_LIFETIME_S

    async def begin_grant(self, *, rejected: str | None) -> httpx.Request | None:
        """Take the cross-process lock and return the refresh request, or ``None`` (lock released)
        when the pair another process saved meanwhile is good to use."""
        await asyncio.to_thread(self._secret_store.acquire)
        try:
            saved = OfflineTokens.from_secrets(self._secret_store.read())
            if saved is not None and saved.refresh_token and saved.refresh_token != self.tokens.refresh_token:
                self._adopt(saved)
                if not self._stale() and saved.access_token != rejected:
                    self._secret_store.release()
                    return None
            refresh = self.tokens.refresh_token
            if refresh is None or self.tokens.refresh_expired():
                why = "no refresh token is saved" if refresh is None else "its refresh token has expired"
                raise errors.TokenGrantError(
                    f"{self._store_label}: the offline access token expired and {why}: {REFRESH_REMEDY}",
                    store=self._store_label,
                )
        except BaseException:
            self._secret_store.release()
            raise
        return httpx.Request(
            "POST",
            self._url,
            data={
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "grant_type": "refresh_token",
                "refresh_token": refresh,
            },
            headers={"Accept": "application/json"},
            # Safe to retry after a lost answer: Shopify keeps a used refresh token valid until
            # its replacement is used (August 2026), and the replacement is never used unsaved.
            extensions=retry_extensions(idempotent=True),
        )

    async def finish_grant(self, response: httpx.Response) -> None:
        """Save the new pair, then use it; raise a merchant-worded error for a refusal."""
        store = self._store_label
        if response.status_code == 429 or response.status_code >= 500:
            raise errors.PlatformUnavailableError(
                f"{store}: Shopify's token endpoint is unavailable (HTTP {response.status_code}) after retries: try "
                "again later; the saved refresh token stays valid", store=store,
            )
        if response.status_code != 200:
            raise grant_error(response, store, "refresh of the offline access token", REFRESH_REMEDY)
        try:
            body = response.json()
            fresh = OfflineTokens.from_answer(body if isinstance(body, dict) else {})
        except ValueError:
            raise errors.UnexpectedResponseError(
                f"{store}: the token endpoint answered HTTP 200 without an access_token", store=store
            ) from None
        if fresh.refresh_token is None:  # RFC 6749 §6: no new refresh token means keep the old one
            fresh = OfflineTokens(fresh.access_token, fresh.access_expires_at, self.tokens.refresh_token,
                                  self.tokens.refresh_expires_at, fresh.lifetime_s)
        try:
            await asyncio.to_thread(self._secret_store.write, fresh.as_secrets())
        except (OSError, errors.WinbackError) as exc:
            raise errors.TokenGrantError(
                f"{store}: Shopify renewed the offline access token but the new pair could not be saved ({exc}); "
                "nothing is lost: the saved refresh token stays valid until a new one is used, so fix the "
                "secrets file and run again", store=store,
            ) from None
        self.refreshes += 1
        self._adopt(fresh)

    async def end_grant(self) -> None:
        self._secret_store.release()
