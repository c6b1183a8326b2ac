"""Retries as a transport wrapper, with the rules the "never act twice" promise depends on.

* 429 and connection failures before the request left (``ConnectError``, ``ConnectTimeout``,
  pool timeouts) are always retried: the platform did not act.
* 5xx, read timeouts and dropped connections are retried only for idempotent requests (reads,
  lookups). For a write they are *ambiguous*: the platform may have acted, so we raise
  :class:`AmbiguousWriteError` and the caller looks up before re-creating (see
  :func:`~winback.connectors.http.create_at_most_once`).
* ``Retry-After`` is honoured (seconds or an HTTP date); otherwise exponential back-off with full
  jitter. A ``Retry-After`` beyond :attr:`RetryPolicy.max_retry_after` ends the retries at once.

Whether a request is idempotent, and which statuses to retry, travel with the request as
extensions (:func:`retry_extensions`); a request without them is idempotent when its method is.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from winback import errors
from winback.connectors.http_log import redact_url
from winback.connectors.ratelimit import Sleep

log = logging.getLogger("winback.http")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_IDEMPOTENT = "winback.idempotent"
_RETRY_STATUSES = "winback.retry_statuses"


class AmbiguousWriteError(errors.PlatformUnavailableError):
    """A write failed in a way that leaves unknown whether the platform applied it."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    """A Retry-After beyond this is treated as a failure rather than slept on."""


def retry_extensions(*, idempotent: bool, retry_statuses: frozenset[int] = RETRYABLE_STATUSES) -> dict[str, Any]:
    """Request extensions telling :class:`RetryTransport` how far this request may be retried."""
    return {_IDEMPOTENT: idempotent, _RETRY_STATUSES: retry_statuses}


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


class _Retry(Exception):
    """Internal: carries the reason, an optional server-requested delay and the response to tenacity."""

    def __init__(self, reason: str, retry_after: float | None = None, response: httpx.Response | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.response = response


def _make_wait(policy: RetryPolicy, *, already: int) -> Callable[[RetryCallState], float]:
    """tenacity's wait for the attempts after the first ``already`` ones (see :func:`_delay`)."""
    def wait(state: RetryCallState) -> float:
        reason = state.outcome.exception() if state.outcome else None
        if not isinstance(reason, _Retry):
            return 0.0
        return _delay(policy, reason, state.attempt_number + already)

    return wait


def _delay(policy: RetryPolicy, reason: _Retry, attempt: int) -> float:
    """The wait before attempt ``attempt + 1``: the server's ``Retry-After`` (capped), else
    exponential back-off with full jitter."""
    if reason.retry_after is not None:
        return min(reason.retry_after, policy.max_retry_after)
    ceiling = min(policy.max_delay, policy.base_delay * (2 ** (attempt - 1)))
    return random.uniform(0, ceiling)


class RetryTransport(httpx.AsyncBaseTransport):
    """Sends through ``inner`` and retries what is safe to retry; reads each body inside the attempt.

    Returns the final response, which may be a non-2xx one (including the last retryable one once
    the attempts are used up). Raises :class:`AmbiguousWriteError` for a write that may have been
    applied, and :class:`~winback.errors.PlatformUnavailableError` when the store stayed unreachable.

    The first attempt is a plain call: it runs for every request of a sync, and the common case
    (one attempt that succeeds) should cost nothing beyond the call itself. Only a request that
    needs a retry builds tenacity's ``AsyncRetrying`` for the attempts left.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        policy: RetryPolicy,
        store_label: str,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._inner = inner
        self.policy = policy
        self.store_label = store_label
        self._sleep = sleep
        self.requests_sent = 0
        """Every attempt that went to the network, counted for benchmarks and status output."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        idempotent = request.extensions.get(_IDEMPOTENT, request.method in _SAFE_METHODS)
        statuses = request.extensions.get(_RETRY_STATUSES, RETRYABLE_STATUSES)
        try:
            return await self._attempt(request, idempotent, statuses)
        except _Retry as first:
            if self.policy.attempts <= 1:
                return self._exhausted(first)
            await self._sleep(_delay(self.policy, first, 1))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.policy.attempts - 1),
            wait=_make_wait(self.policy, already=1),
            retry=retry_if_exception_type(_Retry),
            reraise=True,
            sleep=self._sleep,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._attempt(request, idempotent, statuses)
        except _Retry as last:
            return self._exhausted(last)
        return response

    def _exhausted(self, last: _Retry) -> httpx.Response:
        """The last retryable response once the attempts are used up, or the store is unreachable."""
        if last.response is not None:
            return last.response
        raise errors.PlatformUnavailableError(
            f"could not reach {self.store_label} after {self.policy.attempts} attempts "
            f"({last.reason}); check the network and the API URL, then try again.",
            store=self.store_label,
        ) from None

    async def _attempt(self, request: httpx.Request, idempotent: bool, statuses: frozenset[int]) -> httpx.Response:
        self.requests_sent += 1
        try:
            response = await self._inner.handle_async_request(request)
            await response.aread()
        except _NOT_SENT as exc:
            log.info("%s: %s before the request was sent; will retry", _where(request), type(exc).__name__)
            raise _Retry(type(exc).__name__) from exc
        except httpx.TransportError as exc:
            if idempotent:
                log.info("%s: %s; will retry", _where(request), type(exc).__name__)
                raise _Retry(type(exc).__name__) from exc
            raise self._ambiguous(f"the connection failed during a write ({type(exc).__name__})") from exc
        status = response.status_code
        if status not in statuses:
            return response
        if status != 429 and not idempotent:
            raise self._ambiguous(f"the platform failed during a write (HTTP {status})")
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None and retry_after > self.policy.max_retry_after:
            log.info(
                "%s -> HTTP %s with Retry-After %.0f s (over %.0f s); giving up",
                _where(request), status, retry_after, self.policy.max_retry_after,
            )
            return response
        log.info("%s -> HTTP %s; will retry", _where(request), status)
        raise _Retry(f"HTTP {status}", retry_after=retry_after, response=response)

    def _ambiguous(self, what: str) -> AmbiguousWriteError:
        return AmbiguousWriteError(
            f"{self.store_label}: {what}; it may or may not have been applied", store=self.store_label
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def _where(request: httpx.Request) -> str:
    """``METHOD url`` for a log line, the URL redacted; built only when a line is written."""
    return f"{request.method} {redact_url(request.url)}"
