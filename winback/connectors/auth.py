"""Authentication for connectors: an ``httpx.Auth`` that sends a token and renews it once after a 401.

Kept apart from the HTTP client so a connector (or a plugin) can supply its own token source (e.g.
an OAuth refresh flow) by subclassing :class:`TokenAuth` and overriding two coroutines, without
touching retries. Every token is registered as a secret the moment we see it, so it is masked in
any log line.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx

from winback.secrets import register_secret


class TokenAuth(httpx.Auth):
    """Puts the token on each request; after a 401, refreshes it and sends the request once more.

    Subclasses supply :meth:`headers` and :meth:`refresh`. A second 401 is returned to the caller,
    which reports it as an authentication error.
    """

    async def headers(self) -> dict[str, str]:
        raise NotImplementedError

    async def refresh(self) -> bool:
        """Get a new token after a 401. True when a new token is available to retry with."""
        raise NotImplementedError

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers.update(await self.headers())
        response = yield request
        if response.status_code == 401 and await self.refresh():
            again = httpx.Request(
                request.method,
                request.url,
                headers=request.headers,
                stream=request.stream,
                extensions=dict(request.extensions),
            )
            again.headers.update(await self.headers())
            yield again

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("winback's token auth needs an httpx.AsyncClient")
        yield request  # pragma: no cover - makes this a generator, as httpx expects


@dataclass
class StaticToken(TokenAuth):
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
class RefreshingToken(TokenAuth):
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
