"""Authentication for connectors: a static token, or a provider for expiring tokens.

Kept apart from the HTTP client so a connector (or a plugin) can supply its own :class:`Auth`
(e.g. an OAuth refresh flow) without touching retries. Every token is registered as a secret the
moment we see it, so it is masked in any log line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from winback.secrets import register_secret



class Auth(Protocol):
    """Supplies auth headers; may refresh an expiring token once after a 401."""

    async def headers(self) -> dict[str, str]: ...

    async def refresh(self) -> bool:
        """Get a new token after a 401. True when a new token is available to retry with."""
        ...


@dataclass
class StaticToken:
    """A token that never changes, sent in ``header`` with an optional prefix (``Bearer ``)."""

    token: str
    header: str = "Authorization"
    prefix: str = "Bearer "

    def __post_init__(self) -> None:
        register_secret(self.token)

    async def headers(self) -> dict[str, str]:
        return {self.header: f"{self.prefix}{self.token}"}

    async def refresh(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"StaticToken(header={self.header!r}, token=***)"


TokenFetcher = Callable[[], Awaitable[tuple[str, datetime | None]]]
"""Returns a fresh token and when it expires (``None``: unknown)."""


@dataclass
class RefreshingToken:
    """A token provider for expiring tokens (Shopify Dev Dashboard apps: 24 h; public apps: 1 h).

    The fetcher is called lazily, again shortly before expiry, and once after a 401.
    """

    fetch: TokenFetcher
    header: str = "Authorization"
    prefix: str = "Bearer "
    refresh_margin_s: float = 60.0
    _token: str | None = field(default=None, repr=False)
    _expires_at: datetime | None = field(default=None, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def _renew(self) -> None:
        token, expires_at = await self.fetch()
        register_secret(token)
        self._token, self._expires_at = token, expires_at

    def _stale(self) -> bool:
        if self._token is None:
            return True
        if self._expires_at is None:
            return False
        remaining = (self._expires_at - datetime.now(timezone.utc)).total_seconds()
        return remaining <= self.refresh_margin_s

    async def headers(self) -> dict[str, str]:
        async with self._lock:
            if self._stale():
                await self._renew()
        return {self.header: f"{self.prefix}{self._token}"}

    async def refresh(self) -> bool:
        async with self._lock:
            old = self._token
            await self._renew()
            return self._token != old
