"""All HTTP the connectors do goes through :class:`HttpClient`.

One place decides timeouts, retries, rate limiting, token refresh, redacted logging and the mapping
of HTTP statuses to :mod:`winback.errors`, so connectors stay translators.

Retry rules, which the "never act twice" promise depends on:

* 429 and connection failures before the request left (``ConnectError``, ``ConnectTimeout``,
  pool timeouts) are always retried: the platform did not act.
* 5xx, read timeouts and dropped connections are retried only for idempotent requests (reads,
  lookups). For a write they are *ambiguous*: the platform may have acted, so we raise
  :class:`AmbiguousWriteError` and the caller looks up before re-creating (see
  :func:`create_at_most_once`).
* ``Retry-After`` is honoured (seconds or an HTTP date); otherwise exponential back-off with full
  jitter.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from winback import errors
from winback.secrets import RedactingFilter, redact, register_secret

log = logging.getLogger("winback.http")

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]
"""An ``asyncio.sleep``-like coroutine function; injectable so tests can observe waits without waiting."""

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class AmbiguousWriteError(errors.PlatformUnavailableError):
    """A write failed in a way that leaves unknown whether the platform applied it."""


# --- authentication ----------------------------------------------------------------------------


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


# --- rate limiting -----------------------------------------------------------------------------


class RateLimiter:
    """An async token bucket: at most ``rate`` requests per second on average, ``burst`` at once.

    Used for Ecwid's per-token request rate; Shopify's cost bucket lives in its connector because it
    is driven by the server's own ``throttleStatus``.
    """

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep | None = None,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = float(burst if burst is not None else max(1, int(rate)))
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> None:
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                await (self._sleep or asyncio.sleep)((1 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1

    def drain(self) -> None:
        """Empty the bucket, e.g. after the server said 429 despite our pacing."""
        self._tokens = 0.0
        self._updated = self._clock()


# --- retry policy ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    """A Retry-After beyond this is treated as a failure rather than slept on."""


class _Retry(Exception):
    """Internal: carries the reason and an optional server-requested delay to tenacity."""

    def __init__(self, reason: str, retry_after: float | None = None, response: httpx.Response | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.response = response


class _GiveUp(Exception):
    """Internal: stop retrying and treat ``response`` as final (e.g. Retry-After too long)."""

    def __init__(self, response: httpx.Response):
        super().__init__(response.status_code)
        self.response = response


_REFRESHED = "token refreshed after 401"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _make_wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retry) and exc.retry_after is not None:
            return min(exc.retry_after, policy.max_retry_after)
        ceiling = min(policy.max_delay, policy.base_delay * (2 ** (state.attempt_number - 1)))
        return random.uniform(0, ceiling)

    return wait


# --- error mapping -----------------------------------------------------------------------------


def _platform_message(response: httpx.Response) -> str:
    """A short, secret-free description of the platform's error body."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return redact(text[:200])
    if isinstance(body, Mapping):
        for key in ("errorMessage", "errors", "error", "message"):
            if key in body:
                value = body[key]
                return redact(str(value)[:300])
    return redact(str(body)[:200])


def default_error_for(response: httpx.Response, store: str) -> errors.WinbackError:
    """Map a final non-2xx response to a merchant-readable error."""
    status = response.status_code
    detail = _platform_message(response)
    if status == 401:
        return errors.AuthenticationError(
            f"{store} rejected the access token (HTTP 401): it is wrong, revoked or expired. "
            f"Create a new token for this store and update the config.",
            store=store,
        )
    if status == 402:
        return errors.StoreFrozenError(
            f"{store} is frozen (HTTP 402): the store's plan is unpaid or paused, so its API refuses "
            f"requests. Ask the merchant to settle the account.",
            store=store,
        )
    if status == 403:
        return errors.MissingScopeError(
            f"{store} refused access (HTTP 403): the token lacks a permission. Platform said: {detail}",
            store=store,
        )
    if status == 404:
        return errors.StoreNotFoundError(
            f"{store} was not found (HTTP 404): check the store id or domain in the config.",
            store=store,
        )
    if status == 423:
        return errors.StoreLockedError(
            f"{store} is locked by the platform (HTTP 423); it cannot be used until the platform unlocks it.",
            store=store,
        )
    if status == 429:
        return errors.RateLimitedError(
            f"{store} kept rate-limiting us (HTTP 429) after every retry; try again later.", store=store
        )
    if status >= 500:
        return errors.PlatformUnavailableError(
            f"{store}'s platform kept failing (HTTP {status}) after every retry; try again later.",
            store=store,
        )
    return errors.PlatformRejectedError(f"{store} refused the request (HTTP {status}): {detail}", store=store)


ErrorMapper = Callable[[httpx.Response, str], errors.WinbackError | None]
"""Connector hook: return an error for a response, or ``None`` to fall back to the default."""


_SECRET_PARAMS = frozenset(
    {
        "token", "access_token", "refresh_token", "id_token", "secret", "client_secret",
        "api_key", "apikey", "password", "signature", "hmac",
    }
)


def _redact_url(url: httpx.URL | str) -> str:
    """``url`` for logs: values of credential-like query parameters and registered secrets masked."""
    url = httpx.URL(url)
    pairs = url.params.multi_items()
    if any(k.lower() in _SECRET_PARAMS for k, _ in pairs):
        masked = [(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs]
        url = url.copy_with(query=urlencode(masked, safe="*").encode("ascii"))
    return redact(str(url))


# --- the client --------------------------------------------------------------------------------


def _redact_library_logs() -> None:
    """httpx logs every request URL (query included) at INFO on its own logger; mask registered
    secrets in those records at the source, whatever handlers the application installs."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())


class HttpClient:
    """One per store. Owns an ``httpx.AsyncClient``; use as an async context manager or ``aclose``."""

    def __init__(
        self,
        *,
        base_url: str,
        auth: Auth,
        store_label: str,
        timeout: httpx.Timeout | float = httpx.Timeout(30.0, connect=10.0),
        retry: RetryPolicy = RetryPolicy(),
        limiter: RateLimiter | None = None,
        error_mapper: ErrorMapper | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        user_agent: str = "winback/0.1 (+https://github.com/winback)",
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        _redact_library_logs()
        self.store_label = store_label
        self._sleep = sleep
        self.auth = auth
        self.retry = retry
        self.limiter = limiter
        self._error_mapper = error_mapper
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": user_agent, "Accept": "application/json", **(headers or {})},
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
        )
        self.requests_sent = 0
        """Counted for benchmarks and status output."""

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def _error(self, response: httpx.Response) -> errors.WinbackError:
        if self._error_mapper is not None:
            mapped = self._error_mapper(response, self.store_label)
            if mapped is not None:
                return mapped
        return default_error_for(response, self.store_label)

    async def _attempt(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool,
        retry_statuses: frozenset[int],
        refreshed: list[bool],
        **kwargs: Any,
    ) -> httpx.Response:
        if self.limiter is not None:
            await self.limiter.acquire()
        headers = {**kwargs.pop("headers", {}), **(await self.auth.headers())}
        started = time.monotonic()
        try:
            self.requests_sent += 1
            response = await self._client.request(method, url, headers=headers, **kwargs)
        except _NOT_SENT as exc:
            log.info(
                "%s %s: %s before the request was sent; will retry", method, _redact_url(url), type(exc).__name__
            )
            raise _Retry(f"{type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            if idempotent:
                log.info("%s %s: %s; will retry", method, _redact_url(url), type(exc).__name__)
                raise _Retry(type(exc).__name__) from exc
            raise AmbiguousWriteError(
                f"{self.store_label}: the connection failed during a write ({type(exc).__name__}); "
                f"it may or may not have been applied",
                store=self.store_label,
            ) from exc
        elapsed_ms = (time.monotonic() - started) * 1000
        log.debug("%s %s -> %s in %.0f ms", method, _redact_url(response.request.url), response.status_code, elapsed_ms)

        if response.status_code == 401 and not refreshed[0]:
            refreshed[0] = True
            if await self.auth.refresh():
                raise _Retry(_REFRESHED, retry_after=0.0)
        if response.status_code in retry_statuses:
            if response.status_code == 429 and self.limiter is not None:
                self.limiter.drain()
            if response.status_code != 429 and not idempotent:
                raise AmbiguousWriteError(
                    f"{self.store_label}: the platform failed during a write (HTTP {response.status_code}); "
                    f"it may or may not have been applied",
                    store=self.store_label,
                )
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None and retry_after > self.retry.max_retry_after:
                log.info(
                    "%s %s -> HTTP %s with Retry-After %.0f s (over %.0f s); giving up",
                    method, _redact_url(url), response.status_code, retry_after, self.retry.max_retry_after,
                )
                raise _GiveUp(response)
            log.info("%s %s -> HTTP %s; will retry", method, _redact_url(url), response.status_code)
            raise _Retry(f"HTTP {response.status_code}", retry_after=retry_after, response=response)
        return response

    async def request(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool,
        retry_statuses: frozenset[int] = RETRYABLE_STATUSES,
        raise_for_status: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with retries; return the final 2xx response or raise a :mod:`winback.errors` error.

        ``idempotent=False`` marks a write: it is retried only where the platform surely did not act.
        With ``raise_for_status=False`` non-2xx responses are returned to the caller instead,
        including the last retryable one (429/5xx) once the attempts are used up. A ``Retry-After``
        longer than ``RetryPolicy.max_retry_after`` ends the retries at once instead of sleeping.
        """
        refreshed = [False]
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=_make_wait(self.retry),
            retry=retry_if_exception(lambda exc: isinstance(exc, _Retry)),
            reraise=True,
            sleep=self._sleep,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._attempt(
                        method,
                        url,
                        idempotent=idempotent,
                        retry_statuses=retry_statuses,
                        refreshed=refreshed,
                        **dict(kwargs),
                    )
        except _GiveUp as gave_up:
            response = gave_up.response
        except _Retry as exhausted:
            if exhausted.response is not None:
                if not raise_for_status:
                    return exhausted.response
                raise self._error(exhausted.response) from None
            if exhausted.reason == _REFRESHED:
                raise errors.AuthenticationError(
                    f"{self.store_label} rejected the access token even after refreshing it.",
                    store=self.store_label,
                ) from None
            raise errors.PlatformUnavailableError(
                f"could not reach {self.store_label} after {self.retry.attempts} attempts "
                f"({exhausted.reason}); check the network and the API URL, then try again.",
                store=self.store_label,
            ) from None
        if raise_for_status and not response.is_success:
            raise self._error(response)
        return response

    async def get_json(self, url: str, *, params: Mapping[str, Any] | None = None) -> Any:
        response = await self.request("GET", url, params=params, idempotent=True)
        return decode_json(response, self.store_label)

    async def post_json(self, url: str, body: Any, *, idempotent: bool) -> Any:
        response = await self.request("POST", url, json=body, idempotent=idempotent)
        return decode_json(response, self.store_label)


def decode_json(response: httpx.Response, store: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise errors.UnexpectedResponseError(
            f"{store} answered {response.request.method} {response.request.url.path} with a body "
            f"that is not JSON (HTTP {response.status_code})",
            store=store,
        ) from None


async def create_at_most_once(
    *,
    create: Callable[[], Awaitable[T]],
    lookup: Callable[[], Awaitable[T | None]],
    attempts: int = 3,
) -> T:
    """Create something exactly once despite ambiguous failures.

    After an :class:`AmbiguousWriteError` we look the object up: if it exists the write went
    through and we return it; if not, it is safe to try again.
    """
    last: AmbiguousWriteError | None = None
    for _ in range(attempts):
        try:
            return await create()
        except AmbiguousWriteError as exc:
            last = exc
            found = await lookup()
            if found is not None:
                return found
    assert last is not None
    raise last
