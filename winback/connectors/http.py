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
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from winback import errors
from winback.connectors.auth import Auth, RefreshingToken, StaticToken, TokenFetcher
from winback.connectors.http_errors import ErrorMapper, _redact_url, default_error_for
from winback.connectors.ratelimit import RateLimiter, Sleep
from winback.secrets import RedactingFilter

__all__ = [
    "RETRYABLE_STATUSES",
    "AmbiguousWriteError",
    "Auth",
    "ErrorMapper",
    "HttpClient",
    "RateLimiter",
    "RefreshingToken",
    "RetryPolicy",
    "Sleep",
    "StaticToken",
    "TokenFetcher",
    "create_at_most_once",
    "decode_json",
    "default_error_for",
    "parse_retry_after",
]

log = logging.getLogger("winback.http")

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class AmbiguousWriteError(errors.PlatformUnavailableError):
    """A write failed in a way that leaves unknown whether the platform applied it."""


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
