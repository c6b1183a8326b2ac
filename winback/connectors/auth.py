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
class NoToken(TokenAuth):
    """No credentials at all: for the OAuth endpoints themselves, where the client proves who it is
    in the request body."""

    async def headers(self) -> dict[str, str]:
        return {}

    async def refresh(self) -> bool:
        return False


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


@dataclass(kw_only=True)
class _ExpiringToken(TokenAuth):
    """The state every expiring token shares: the token, when it expires, and one lock so that
    concurrent requests renew it once."""

    header: str = "Authorization"
    prefix: str = "Bearer "
    refresh_margin_s: float = 60.0
    _token: str | None = field(default=None, repr=False)
    _expires_at: datetime | None = field(default=None, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def _accept(self, token: str, expires_at: datetime | None) -> None:
        register_secret(token)
        self._token, self._expires_at = token, expires_at

    def _margin(self) -> float:
        return self.refresh_margin_s

    def _stale(self) -> bool:
        if self._token is None:
            return True
        if self._expires_at is None:
            return False
        return self.remaining_s() <= self._margin()  # type: ignore[operator]

    def remaining_s(self) -> float | None:
        """Seconds the current token has left; ``None`` when it never expires or none is held yet."""
        if self._token is None or self._expires_at is None:
            return None
        return (self._expires_at - datetime.now(timezone.utc)).total_seconds()

    @property
    def expires_at(self) -> datetime | None:
        return self._expires_at


@dataclass
class RefreshingToken(_ExpiringToken):
    """A token provider for expiring tokens whose source is a coroutine (anything but HTTP through
    this client: a vault, a file another process renews).

    The fetcher is called lazily, again shortly before expiry, and once after a 401.
    """

    fetch: TokenFetcher

    async def _renew(self) -> None:
        self._accept(*await self.fetch())

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


@dataclass(kw_only=True)
class GrantedToken(_ExpiringToken):
    """An expiring token the auth flow itself asks for with an HTTP request (an OAuth grant).

    The grant request goes through the same client as the API calls (same transport, retries and
    redacted logging), which only an ``httpx.Auth`` flow allows: it yields the grant request, reads
    the answer, then yields the API request. A token is asked for lazily, again shortly before it
    expires (the margin is at most a tenth of its lifetime, so short-lived tokens stay usable), and
    once after a 401 unless another request already renewed it. Tokens live in memory only.

    Subclasses supply :meth:`grant_request` and :meth:`read_grant`.
    """

    _lifetime_s: float | None = field(default=None, repr=False)

    def grant_request(self) -> httpx.Request:
        raise NotImplementedError

    def read_grant(self, response: httpx.Response) -> tuple[str, datetime | None]:
        """The token and its expiry from the grant's answer; raises a :mod:`winback.errors` error."""
        raise NotImplementedError

    def _accept(self, token: str, expires_at: datetime | None) -> None:
        super()._accept(token, expires_at)
        self._lifetime_s = None if expires_at is None else (expires_at - datetime.now(timezone.utc)).total_seconds()

    def _margin(self) -> float:
        if self._lifetime_s is None:
            return self.refresh_margin_s
        return min(self.refresh_margin_s, self._lifetime_s / 10)

    async def headers(self) -> dict[str, str]:
        if self._token is None:
            raise RuntimeError("GrantedToken gets its token inside the auth flow; send a request first")
        return {self.header: f"{self.prefix}{self._token}"}

    async def refresh(self) -> bool:  # pragma: no cover - the flow below renews by itself
        return False

    # The three steps of one grant, hooks for a subclass whose grant needs more (a lock across
    # processes, a durable save before use: see shopify/refresh.py).

    async def begin_grant(self, *, rejected: str | None) -> httpx.Request | None:
        """The request for a new token (``rejected`` is the token a 401 refused, if any), or
        ``None`` when it turns out none is needed; :meth:`end_grant` follows only a request."""
        return self.grant_request()

    async def finish_grant(self, response: httpx.Response) -> None:
        """Take the token from the grant's answer (or raise)."""
        self._accept(*self.read_grant(response))

    async def end_grant(self) -> None:
        """Runs after every grant request :meth:`begin_grant` returned, whatever its outcome."""

    def _due(self, rejected: str | None) -> bool:
        """A grant is due: before a first send when the token is stale, after a 401 when the token
        refused is still the current one (else another request renewed it meanwhile)."""
        return self._stale() if rejected is None else self._token == rejected

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        rejected: str | None = None
        for attempt in range(2):  # the request, and once more after a 401 with a new token
            if self._due(rejected):
                async with self._lock:
                    if self._due(rejected):
                        grant = await self.begin_grant(rejected=rejected)
                        if grant is not None:
                            try:
                                answer = yield grant
                                await answer.aread()
                                await self.finish_grant(answer)
                            finally:
                                await self.end_grant()
            if attempt:
                request = httpx.Request(
                    request.method, request.url, headers=request.headers, stream=request.stream,
                    extensions=dict(request.extensions),
                )
            sent = self._token
            request.headers[self.header] = f"{self.prefix}{sent}"
            response = yield request
            if response.status_code != 401:
                return
            rejected = sent
