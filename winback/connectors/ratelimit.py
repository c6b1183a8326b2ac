"""A client-side request-rate limiter for platforms that count requests (Ecwid: ~600/min/token).

:class:`RateLimiter` is the bucket; :class:`RateLimitedTransport` applies it to every request
that reaches the network, retries included. Shopify's cost bucket is not this: it is driven by the
server's own ``throttleStatus`` and lives in the Shopify connector.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

Sleep = Callable[[float], Awaitable[None]]
"""An ``asyncio.sleep``-like coroutine function; injectable so tests can observe waits without waiting."""


class RateLimiter:
    """An async token bucket: at most ``rate`` requests per second on average, ``burst`` at once."""

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


class RateLimitedTransport(httpx.AsyncBaseTransport):
    """Waits for ``limiter`` before each request and empties it when the server answers 429 anyway."""

    def __init__(self, inner: httpx.AsyncBaseTransport, limiter: RateLimiter) -> None:
        self._inner = inner
        self.limiter = limiter

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.limiter.acquire()
        response = await self._inner.handle_async_request(request)
        if response.status_code == 429:
            self.limiter.drain()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
