"""The emulator's rate limit (a sliding window of requests per token) and its bad-token lockout.

Ecwid does not document its window; a sliding 60-second window per token is assumed. Kept apart
from the app so it can be driven with a fake clock on its own.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """At most ``limit`` requests per ``window`` seconds per key; tells how long to wait otherwise."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Record a request; ``None`` if allowed, else seconds until one would be."""
        with self._lock:
            now = self._clock()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(0.0, hits[0] + self.window - now)
            hits.append(now)
            return None

    def waiting(self, key: str) -> float | None:
        """Like :meth:`hit` without recording a request: ``None`` if one would be allowed."""
        with self._lock:
            now = self._clock()
            hits = self._hits.get(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            return max(0.0, hits[0] + self.window - now) if len(hits) >= self.limit else None


class BadTokenLockout:
    """Ecwid's block on non-working tokens: a token that failed ``per_token`` times in a minute is
    refused (429) until the minute has passed, and so is every request from an address that sent
    ``per_address`` failing requests in a minute.

    The emulator's server does not see the caller's address, so all callers count as one address.
    """

    def __init__(self, per_token: int = 20, per_address: int = 600, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.tokens = SlidingWindowLimiter(per_token, window, clock)
        self.address = SlidingWindowLimiter(per_address, window, clock)

    def blocked(self) -> float | None:
        """Seconds until the address may call again, or ``None`` when it is not blocked."""
        return self.address.waiting("address")

    def failed(self, token: str) -> float | None:
        """Count one request with a non-working ``token``; seconds to wait if it is now blocked."""
        address = self.address.hit("address")
        token_wait = self.tokens.hit(token)
        waits = [w for w in (address, token_wait) if w is not None]
        return max(waits) if waits else None
