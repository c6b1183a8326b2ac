"""All HTTP the connectors do goes through :class:`HttpClient`.

One place decides timeouts, retries, rate limiting, token refresh, redacted logging and the mapping
of HTTP statuses to :mod:`winback.errors`, so connectors stay translators. Each of those is one of
httpx's own extension points, built here into one ``httpx.AsyncClient``:

* the token and its refresh after a 401: an ``httpx.Auth`` (:mod:`winback.connectors.auth`);
* retries and the "a write is never retried blindly" rule: a transport wrapper
  (:mod:`winback.connectors.retry`), around the client-side rate limit
  (:mod:`winback.connectors.ratelimit`), around the network or a test transport;
* logging with secrets masked: event hooks (:mod:`winback.connectors.http_log`);
* statuses → errors: one table per platform (:mod:`winback.connectors.http_errors`).
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx

from winback import errors
from winback.connectors.auth import StaticToken, TokenAuth
from winback.connectors.http_errors import ErrorMapper, error_for
from winback.connectors.http_log import EVENT_HOOKS, redact_library_logs
from winback.connectors.ratelimit import RateLimitedTransport, RateLimiter, Sleep
from winback.connectors.retry import (
    RETRYABLE_STATUSES,
    AmbiguousWriteError,
    RetryPolicy,
    RetryTransport,
    retry_extensions,
)

# ``Auth`` and ``StaticToken`` stay importable from here only for shopify/connector.py, which is
# being restructured; new code imports them from winback.connectors.auth.
Auth = TokenAuth

__all__ = [
    "AmbiguousWriteError",
    "Auth",
    "HttpClient",
    "RetryPolicy",
    "StaticToken",
    "create_at_most_once",
    "decode_json",
]

T = TypeVar("T")

_LIMITS = httpx.Limits(max_connections=10, max_keepalive_connections=5)


def _network(base_url: str) -> httpx.AsyncBaseTransport:
    """The real network, through the proxy the environment names for this store's host, if any.

    httpx applies environment proxies only when it builds its own transport; ours is wrapped, so
    the choice is made here (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``).
    """
    url = httpx.URL(base_url)
    proxies = urllib.request.getproxies()
    proxy = None
    if url.host and not urllib.request.proxy_bypass(url.host):
        proxy = proxies.get(url.scheme) or proxies.get("all")
    if proxy and "://" not in proxy:
        proxy = f"http://{proxy}"
    return httpx.AsyncHTTPTransport(limits=_LIMITS, proxy=proxy)


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_NO_COOKIES = _NoCookies()


class _ApiClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` without a cookie jar.

    The platforms' APIs authenticate every request by its token and never by a cookie, and the
    jar's ``extract_cookies`` (a urllib request and response built for every answer) was the
    largest single cost of a request in a sync.
    """

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        return None


class HttpClient:
    """One per store. Owns an ``httpx.AsyncClient``; use as an async context manager or ``aclose``."""

    def __init__(
        self,
        *,
        base_url: str,
        auth: TokenAuth,
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
        redact_library_logs()
        self.store_label = store_label
        self.auth = auth
        self.retry = retry
        self.limiter = limiter
        self._error_mapper = error_mapper
        network = transport or _network(base_url)
        if limiter is not None:
            network = RateLimitedTransport(network, limiter)
        self._retrying = RetryTransport(network, policy=retry, store_label=store_label, sleep=sleep)
        self._client = _ApiClient(
            base_url=base_url,
            auth=auth,
            timeout=timeout,
            transport=self._retrying,
            headers={"User-Agent": user_agent, "Accept": "application/json", **(headers or {})},
            event_hooks=EVENT_HOOKS,
        )
        base = self._client.base_url
        self._base: str | None = None
        if base.is_absolute_url and not base.query and not base.fragment:
            self._base = str(base) if str(base).endswith("/") else f"{base}/"  # an empty path prints without its /
        """The base URL (always ending in ``/``) that :meth:`url_for` joins paths to; ``None`` when it
        carries a query or fragment, which only httpx's own merging handles."""

    @property
    def requests_sent(self) -> int:
        """Requests that went to the network, retries included (for benchmarks and status output)."""
        return self._retrying.requests_sent

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def error_for(self, response: httpx.Response) -> errors.WinbackError:
        """``response`` (a final non-2xx one) as the error this store's platform table words."""
        return error_for(response, self.store_label, self._error_mapper)

    def url_for(self, path: str, params: Any = None) -> httpx.URL | None:
        """The absolute URL of ``path`` (``/orders``) under the base URL with ``params`` encoded, built
        in one parse; ``None`` for anything else (an absolute URL, a path with its own query), which
        httpx then merges itself.

        Why: given a path and ``params``, httpx parses a URL three times per request (the path, the
        path joined to the base URL, then that with the query), each time checking every character of
        the query again; an Ecwid search's ``responseFields`` makes that query 400 characters long.
        The URL built here is the one httpx would send, byte for byte: the path joined the way
        ``base_url`` joins it, the query encoded by ``httpx.QueryParams``. Nothing is cached, so no
        query value (which may be a secret) outlives its request.
        """
        if self._base is None or not path.startswith("/") or path.startswith("//") or "?" in path or "#" in path:
            return None
        query = httpx.QueryParams(params) if params is not None else None
        return httpx.URL(f"{self._base}{path[1:]}?{query}" if query else f"{self._base}{path[1:]}")

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
        extensions = {
            **kwargs.pop("extensions", {}),
            **retry_extensions(idempotent=idempotent, retry_statuses=retry_statuses),
        }
        if isinstance(url, str) and (built := self.url_for(url, kwargs.get("params"))) is not None:
            kwargs.pop("params", None)
            url = built
        response = await self._client.request(method, url, extensions=extensions, **kwargs)
        _release_stream(response)
        if raise_for_status and not response.is_success:
            raise self.error_for(response)
        return response

    async def get_json(self, url: str, *, params: Mapping[str, Any] | None = None) -> Any:
        response = await self.request("GET", url, params=params, idempotent=True)
        return decode_json(response, self.store_label)

    async def post_json(self, url: str, body: Any, *, idempotent: bool) -> Any:
        response = await self.request("POST", url, json=body, idempotent=idempotent)
        return decode_json(response, self.store_label)


def _release_stream(response: httpx.Response) -> None:
    """Give a response whose body httpx has read and closed a plain stream of that body.

    Why: httpx wraps the transport's stream in one that refers back to the response (closing it
    sets ``elapsed``), a reference cycle through the connection pool's objects. Its response,
    with the whole body, then lives until the garbage collector finds the cycle, not until its
    reader drops it: every page of a sync was cyclic garbage, the only kind a sync made, and the
    collector ran often for it (:mod:`winback.sync.gc_pause`). The body stays readable as before."""
    response.stream = httpx.ByteStream(response.content)


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
