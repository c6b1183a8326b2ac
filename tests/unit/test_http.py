"""HttpClient: retries, Retry-After, idempotency, error mapping, token refresh and redaction.

HTTP is faked with pytest-httpx; waits are observed through an injected ``sleep`` so nothing
really sleeps.
"""

from __future__ import annotations

import email.utils
import logging
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from pytest_httpx import HTTPXMock

from winback import errors
from winback.connectors.auth import RefreshingToken, StaticToken
from winback.connectors.http import HttpClient, create_at_most_once, decode_json
from winback.connectors.http_log import redact_url
from winback.connectors.ratelimit import RateLimiter
from winback.connectors.retry import AmbiguousWriteError, RetryPolicy, parse_retry_after

BASE = "https://acme.example.test/api"
URL = f"{BASE}/orders"
STORE = "acme.example.test"
TOKEN = "shpat_TOPSECRET_0123456789abcdef"


class FakeSleep:
    """Records the waits the client asks for instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


def make_client(sleep: FakeSleep, *, attempts: int = 4, auth=None, **kwargs) -> HttpClient:
    return HttpClient(
        base_url=BASE,
        auth=auth or StaticToken(TOKEN),
        store_label=STORE,
        retry=RetryPolicy(attempts=attempts, base_delay=0.5, max_delay=4.0, max_retry_after=60.0),
        sleep=sleep,
        **kwargs,
    )


# --- retries -----------------------------------------------------------------------------------


async def test_429_then_success_is_retried(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    httpx_mock.add_response(url=URL, status_code=429)
    httpx_mock.add_response(url=URL, json={"ok": True})
    async with make_client(sleep) as client:
        assert await client.get_json("/orders") == {"ok": True}
        assert client.requests_sent == 2
    assert len(sleep.waits) == 1
    assert 0 <= sleep.waits[0] <= 0.5  # full jitter under base_delay for the first retry


async def test_retry_after_seconds_is_honoured(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    httpx_mock.add_response(url=URL, status_code=429, headers={"Retry-After": "7"})
    httpx_mock.add_response(url=URL, json={})
    async with make_client(sleep) as client:
        await client.get_json("/orders")
    assert sleep.waits == [7.0]


async def test_retry_after_http_date_is_honoured(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    httpx_mock.add_response(url=URL, status_code=503, headers={"Retry-After": email.utils.format_datetime(when, usegmt=True)})
    httpx_mock.add_response(url=URL, json={})
    async with make_client(sleep) as client:
        await client.get_json("/orders")
    assert len(sleep.waits) == 1
    assert 27 <= sleep.waits[0] <= 30


async def test_retry_after_beyond_the_limit_fails_instead_of_sleeping(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    httpx_mock.add_response(url=URL, status_code=429, headers={"Retry-After": "3600"})
    async with make_client(sleep) as client:
        with pytest.raises(errors.RateLimitedError):
            await client.get_json("/orders")
    assert sleep.waits == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_on_idempotent_request_is_retried(httpx_mock: HTTPXMock, sleep: FakeSleep, status: int) -> None:
    httpx_mock.add_response(url=URL, status_code=status)
    httpx_mock.add_response(url=URL, status_code=status)
    httpx_mock.add_response(url=URL, json=[1])
    async with make_client(sleep) as client:
        assert await client.get_json("/orders") == [1]
        assert client.requests_sent == 3
    assert len(sleep.waits) == 2
    assert sleep.waits[1] <= 1.0  # second back-off ceiling: base_delay * 2


@pytest.mark.parametrize(
    "exc",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped")],
)
async def test_connection_errors_on_idempotent_request_are_retried(
    httpx_mock: HTTPXMock, sleep: FakeSleep, exc: Exception
) -> None:
    httpx_mock.add_exception(exc, url=URL)
    httpx_mock.add_response(url=URL, json={"ok": 1})
    async with make_client(sleep) as client:
        assert await client.get_json("/orders") == {"ok": 1}
    assert len(sleep.waits) == 1


async def test_backoff_is_capped_by_max_delay(httpx_mock: HTTPXMock, sleep: FakeSleep, monkeypatch) -> None:
    monkeypatch.setattr("winback.connectors.retry.random.uniform", lambda low, high: high)
    httpx_mock.add_response(url=URL, status_code=500, is_reusable=True)
    async with make_client(sleep, attempts=6) as client:
        with pytest.raises(errors.PlatformUnavailableError):
            await client.get_json("/orders")
    assert sleep.waits == [0.5, 1.0, 2.0, 4.0, 4.0]


async def test_gives_up_on_5xx_after_attempts_naming_the_store(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    httpx_mock.add_response(url=URL, status_code=503, is_reusable=True)
    async with make_client(sleep, attempts=3) as client:
        with pytest.raises(errors.PlatformUnavailableError) as caught:
            await client.get_json("/orders")
        assert client.requests_sent == 3
    assert not isinstance(caught.value, AmbiguousWriteError)
    assert STORE in str(caught.value) and "503" in str(caught.value)
    assert caught.value.store == STORE
    assert len(sleep.waits) == 2


async def test_gives_up_on_429_after_attempts_naming_the_store(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    httpx_mock.add_response(url=URL, status_code=429, is_reusable=True)
    async with make_client(sleep, attempts=3) as client:
        with pytest.raises(errors.RateLimitedError) as caught:
            await client.get_json("/orders")
    assert STORE in str(caught.value)
    assert caught.value.store == STORE


async def test_gives_up_on_connection_errors_after_attempts(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=URL, is_reusable=True)
    async with make_client(sleep, attempts=3) as client:
        with pytest.raises(errors.PlatformUnavailableError) as caught:
            await client.get_json("/orders")
        assert client.requests_sent == 3
    assert STORE in str(caught.value) and "ConnectError" in str(caught.value)


async def test_raise_for_status_false_returns_last_retryable_response(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    httpx_mock.add_response(url=URL, status_code=429, json={"errors": "throttled"}, is_reusable=True)
    async with make_client(sleep, attempts=2) as client:
        response = await client.request("GET", "/orders", idempotent=True, raise_for_status=False)
    assert response.status_code == 429


async def test_raise_for_status_false_returns_4xx(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    httpx_mock.add_response(url=URL, status_code=409, json={"errorMessage": "conflict"})
    async with make_client(sleep) as client:
        response = await client.request("GET", "/orders", idempotent=True, raise_for_status=False)
    assert response.status_code == 409
    assert sleep.waits == []


# --- writes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_write_is_not_retried_on_5xx(httpx_mock: HTTPXMock, sleep: FakeSleep, status: int) -> None:
    httpx_mock.add_response(url=URL, method="POST", status_code=status)
    async with make_client(sleep) as client:
        with pytest.raises(AmbiguousWriteError) as caught:
            await client.post_json("/orders", {"a": 1}, idempotent=False)
        assert client.requests_sent == 1
    assert STORE in str(caught.value)
    assert isinstance(caught.value, errors.PlatformUnavailableError)
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"), httpx.ReadError("reset")])
async def test_write_is_not_retried_after_it_may_have_been_sent(
    httpx_mock: HTTPXMock, sleep: FakeSleep, exc: Exception
) -> None:
    httpx_mock.add_exception(exc, url=URL, method="POST")
    async with make_client(sleep) as client:
        with pytest.raises(AmbiguousWriteError):
            await client.post_json("/orders", {"a": 1}, idempotent=False)
    assert len(httpx_mock.get_requests()) == 1
    assert sleep.waits == []


async def test_write_is_retried_on_429(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    httpx_mock.add_response(url=URL, method="POST", status_code=429, headers={"Retry-After": "2"})
    httpx_mock.add_response(url=URL, method="POST", json={"id": 5})
    async with make_client(sleep) as client:
        assert await client.post_json("/orders", {"a": 1}, idempotent=False) == {"id": 5}
    assert sleep.waits == [2.0]
    assert [r.content for r in httpx_mock.get_requests()] == [b'{"a":1}', b'{"a":1}']


@pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("busy")])
async def test_write_is_retried_when_it_surely_was_not_sent(
    httpx_mock: HTTPXMock, sleep: FakeSleep, exc: Exception
) -> None:
    httpx_mock.add_exception(exc, url=URL, method="POST")
    httpx_mock.add_response(url=URL, method="POST", json={"id": 5})
    async with make_client(sleep) as client:
        assert await client.post_json("/orders", {"a": 1}, idempotent=False) == {"id": 5}
    assert len(httpx_mock.get_requests()) == 2


# --- error mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, errors.AuthenticationError, "token"),
        (402, errors.StoreFrozenError, "frozen"),
        (403, errors.MissingScopeError, "permission"),
        (404, errors.StoreNotFoundError, "not found"),
        (423, errors.StoreLockedError, "locked"),
        (400, errors.PlatformRejectedError, "HTTP 400"),
    ],
)
async def test_statuses_map_to_errors_naming_the_store(
    httpx_mock: HTTPXMock, sleep: FakeSleep, status: int, error: type[Exception], words: str
) -> None:
    httpx_mock.add_response(url=URL, status_code=status, json={"errors": "[API] nope"})
    async with make_client(sleep) as client:
        with pytest.raises(error) as caught:
            await client.get_json("/orders")
        assert client.requests_sent == 1
    assert STORE in str(caught.value)
    assert words in str(caught.value)
    assert caught.value.store == STORE
    assert sleep.waits == []


async def test_403_message_carries_the_platform_detail(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    httpx_mock.add_response(url=URL, status_code=403, json={"errors": "requires read_orders"})
    async with make_client(sleep) as client:
        with pytest.raises(errors.MissingScopeError, match="requires read_orders"):
            await client.get_json("/orders")


async def test_error_mapper_overrides_and_falls_back(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    def mapper(response: httpx.Response, store: str) -> errors.WinbackError | None:
        if response.status_code == 409:
            return errors.DiscountCodeTakenError(f"{store}: taken", store=store)
        return None

    httpx_mock.add_response(url=URL, status_code=409)
    httpx_mock.add_response(url=URL, status_code=404)
    async with make_client(sleep, error_mapper=mapper) as client:
        with pytest.raises(errors.DiscountCodeTakenError):
            await client.get_json("/orders")
        with pytest.raises(errors.StoreNotFoundError):
            await client.get_json("/orders")


# --- authentication ----------------------------------------------------------------------------


class FakeFetcher:
    def __init__(self, *tokens: str, lifetime: timedelta | None = timedelta(hours=1)) -> None:
        self.tokens = list(tokens)
        self.lifetime = lifetime
        self.calls = 0

    async def __call__(self) -> tuple[str, datetime | None]:
        token = self.tokens[min(self.calls, len(self.tokens) - 1)]
        self.calls += 1
        expires = datetime.now(timezone.utc) + self.lifetime if self.lifetime is not None else None
        return token, expires


async def test_401_refreshes_the_token_once_and_retries_with_the_new_one(
    httpx_mock: HTTPXMock, sleep: FakeSleep
) -> None:
    fetcher = FakeFetcher("token-one-aaaa", "token-two-bbbb")
    auth = RefreshingToken(fetch=fetcher, header="X-Shopify-Access-Token", prefix="")
    httpx_mock.add_response(url=URL, status_code=401, match_headers={"X-Shopify-Access-Token": "token-one-aaaa"})
    httpx_mock.add_response(url=URL, json={"ok": 1}, match_headers={"X-Shopify-Access-Token": "token-two-bbbb"})
    async with make_client(sleep, auth=auth) as client:
        assert await client.get_json("/orders") == {"ok": 1}
    assert fetcher.calls == 2
    assert sleep.waits == []  # the auth flow re-sends at once, outside the back-off


async def test_second_401_after_refresh_is_an_authentication_error(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    fetcher = FakeFetcher("token-one-aaaa", "token-two-bbbb", "token-three-cc")
    auth = RefreshingToken(fetch=fetcher)
    httpx_mock.add_response(url=URL, status_code=401, is_reusable=True)
    async with make_client(sleep, auth=auth) as client:
        with pytest.raises(errors.AuthenticationError) as caught:
            await client.get_json("/orders")
    assert fetcher.calls == 2  # initial fetch + exactly one refresh
    assert len(httpx_mock.get_requests()) == 2
    assert STORE in str(caught.value)


async def test_401_with_static_token_is_not_retried(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    httpx_mock.add_response(url=URL, status_code=401)
    async with make_client(sleep) as client:
        with pytest.raises(errors.AuthenticationError):
            await client.get_json("/orders")
    assert len(httpx_mock.get_requests()) == 1


async def test_refresh_that_returns_the_same_token_does_not_retry(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    auth = RefreshingToken(fetch=FakeFetcher("same-token-xyz"))
    httpx_mock.add_response(url=URL, status_code=401)
    async with make_client(sleep, auth=auth) as client:
        with pytest.raises(errors.AuthenticationError):
            await client.get_json("/orders")
    assert len(httpx_mock.get_requests()) == 1


async def test_refreshing_token_is_fetched_lazily_and_renewed_before_expiry() -> None:
    fetcher = FakeFetcher("token-one-aaaa", "token-two-bbbb", lifetime=timedelta(seconds=30))
    auth = RefreshingToken(fetch=fetcher, refresh_margin_s=60)
    assert fetcher.calls == 0
    assert await auth.headers() == {"Authorization": "Bearer token-one-aaaa"}
    # 30 s left is inside the 60 s margin: the next use renews.
    assert await auth.headers() == {"Authorization": "Bearer token-two-bbbb"}
    assert fetcher.calls == 2


async def test_refreshing_token_is_reused_while_fresh() -> None:
    fetcher = FakeFetcher("token-one-aaaa", "token-two-bbbb", lifetime=timedelta(hours=1))
    auth = RefreshingToken(fetch=fetcher, refresh_margin_s=60)
    for _ in range(3):
        assert await auth.headers() == {"Authorization": "Bearer token-one-aaaa"}
    assert fetcher.calls == 1

    never_expires = FakeFetcher("token-forever-1", lifetime=None)
    auth = RefreshingToken(fetch=never_expires)
    await auth.headers()
    await auth.headers()
    assert never_expires.calls == 1


async def test_refreshing_token_is_an_httpx_auth_on_any_client() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(401 if len(seen) == 1 else 200)

    auth = RefreshingToken(fetch=FakeFetcher("token-one-aaaa", "token-two-bbbb"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer), auth=auth) as plain:
        assert (await plain.get("https://x.test/orders")).status_code == 200
    assert seen == ["Bearer token-one-aaaa", "Bearer token-two-bbbb"]


def test_static_token_repr_hides_the_token() -> None:
    assert TOKEN not in repr(StaticToken(TOKEN))


# --- secrets never leak ------------------------------------------------------------------------


async def test_token_never_appears_in_errors_or_debug_logs(
    httpx_mock: HTTPXMock, sleep: FakeSleep, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # A platform that echoes the token back in its error body must not get it into our messages.
    echo = {"errors": f"bad token {TOKEN}"}
    for status in (400, 401, 402, 403, 404, 423):
        httpx_mock.add_response(url=f"{BASE}/s{status}", status_code=status, json=echo)
    httpx_mock.add_response(url=f"{BASE}/s429", status_code=429, json=echo, is_reusable=True)
    httpx_mock.add_response(url=f"{BASE}/s503", status_code=503, text=f"<html>{TOKEN}</html>", is_reusable=True)
    httpx_mock.add_response(url=f"{BASE}/w500", method="POST", status_code=500, json=echo)
    httpx_mock.add_exception(httpx.ConnectError(f"refused {TOKEN}"), url=f"{BASE}/conn", is_reusable=True)
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=f"{BASE}/wtimeout", method="POST")
    httpx_mock.add_response(url=f"{BASE}/notjson", text=f"oops {TOKEN}")
    httpx_mock.add_response(url=f"{BASE}/q?token={TOKEN}&page=2", status_code=500, is_reusable=True)

    raised: list[BaseException] = []
    async with make_client(sleep, attempts=2) as client:
        for path in ("/s400", "/s401", "/s402", "/s403", "/s404", "/s423", "/s429", "/s503", "/conn", "/notjson"):
            with pytest.raises(errors.WinbackError) as caught:
                await client.get_json(path)
            raised.append(caught.value)
        for path in ("/w500", "/wtimeout"):
            with pytest.raises(errors.WinbackError) as caught:
                await client.post_json(path, {}, idempotent=False)
            raised.append(caught.value)
        with pytest.raises(errors.WinbackError) as caught:
            await client.get_json("/q", params={"token": TOKEN, "page": 2})
        raised.append(caught.value)

    assert len(raised) == 13
    for exc in raised:
        assert TOKEN not in str(exc), exc
        assert TOKEN not in repr(exc.args)
    assert caplog.records, "the client should log at DEBUG/INFO"
    for record in caplog.records:
        assert TOKEN not in record.getMessage(), record.getMessage()
    assert TOKEN not in caplog.text


def test_redact_url_masks_token_query_parameters() -> None:
    shown = redact_url(httpx.URL("https://x.test/a?token=abc123&page=2&access_token=zzz&API_KEY=k&code=SAVE10"))
    assert "abc123" not in shown and "zzz" not in shown and "=k&" not in shown
    assert "token=***" in shown and "access_token=***" in shown and "API_KEY=***" in shown
    assert "page=2" in shown and "code=SAVE10" in shown
    assert redact_url(httpx.URL("https://x.test/a?page=2")) == "https://x.test/a?page=2"
    assert redact_url("/relative?secret=s3cr3t") == "/relative?secret=***"


def test_redact_url_masks_registered_secrets_anywhere() -> None:
    StaticToken("registered-secret-in-path")
    assert "registered-secret-in-path" not in redact_url("https://x.test/registered-secret-in-path/orders")


# --- create at most once -----------------------------------------------------------------------


async def test_create_at_most_once_returns_the_looked_up_object_after_ambiguous_failure() -> None:
    created: list[str] = []

    async def create() -> str:
        created.append("try")
        raise AmbiguousWriteError("ambiguous", store=STORE)

    async def lookup() -> str | None:
        return "existing"

    assert await create_at_most_once(create=create, lookup=lookup) == "existing"
    assert created == ["try"]


async def test_create_at_most_once_recreates_only_when_lookup_finds_nothing() -> None:
    outcomes = iter([AmbiguousWriteError("ambiguous", store=STORE), "made"])
    lookups: list[int] = []

    async def create() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def lookup() -> str | None:
        lookups.append(1)
        return None

    assert await create_at_most_once(create=create, lookup=lookup) == "made"
    assert lookups == [1]


async def test_create_at_most_once_gives_up_after_attempts() -> None:
    calls: list[str] = []

    async def create() -> str:
        calls.append("create")
        raise AmbiguousWriteError("ambiguous", store=STORE)

    async def lookup() -> str | None:
        calls.append("lookup")
        return None

    with pytest.raises(AmbiguousWriteError):
        await create_at_most_once(create=create, lookup=lookup, attempts=2)
    assert calls == ["create", "lookup", "create", "lookup"]


async def test_create_at_most_once_does_not_retry_other_errors() -> None:
    calls: list[str] = []

    async def create() -> str:
        calls.append("create")
        raise errors.DiscountCodeTakenError("taken", store=STORE)

    async def lookup() -> str | None:
        calls.append("lookup")
        return "x"

    with pytest.raises(errors.DiscountCodeTakenError):
        await create_at_most_once(create=create, lookup=lookup)
    assert calls == ["create"]


async def test_create_at_most_once_with_the_client(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    httpx_mock.add_response(url=f"{BASE}/discount_coupons", method="POST", status_code=502)
    httpx_mock.add_response(url=f"{BASE}/discount_coupons?code=SAVE10", method="GET", json={"items": [{"id": 9}]})
    async with make_client(sleep) as client:

        async def create() -> dict:
            return await client.post_json("/discount_coupons", {"code": "SAVE10"}, idempotent=False)

        async def lookup() -> dict | None:
            items = (await client.get_json("/discount_coupons", params={"code": "SAVE10"}))["items"]
            return items[0] if items else None

        assert await create_at_most_once(create=create, lookup=lookup) == {"id": 9}
    assert [r.method for r in httpx_mock.get_requests()] == ["POST", "GET"]


# --- rate limiter ------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_rate_limiter_allows_a_burst_then_paces() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=10, burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await limiter.acquire()
    assert clock.slept == []
    for _ in range(5):
        await limiter.acquire()
    assert clock.slept == pytest.approx([0.1] * 5)
    assert clock.now == pytest.approx(1000.5)


async def test_rate_limiter_refills_with_time_up_to_capacity() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=2, burst=2, clock=clock, sleep=clock.sleep)
    await limiter.acquire()
    await limiter.acquire()
    clock.now += 60  # a long idle period refills only to capacity
    await limiter.acquire()
    await limiter.acquire()
    assert clock.slept == []
    await limiter.acquire()
    assert clock.slept == pytest.approx([0.5])


async def test_rate_limiter_drain_forces_a_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=4, burst=4, clock=clock, sleep=clock.sleep)
    limiter.drain()
    await limiter.acquire()
    assert clock.slept == pytest.approx([0.25])


async def test_rate_limiter_default_burst_and_validation() -> None:
    assert RateLimiter(rate=10).capacity == 10
    assert RateLimiter(rate=0.5).capacity == 1
    with pytest.raises(ValueError):
        RateLimiter(rate=0)


async def test_client_drains_the_limiter_on_429(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=10, burst=10, clock=clock, sleep=clock.sleep)
    httpx_mock.add_response(url=URL, status_code=429, headers={"Retry-After": "0"})
    httpx_mock.add_response(url=URL, json={})
    async with make_client(sleep, limiter=limiter) as client:
        await client.get_json("/orders")
    assert clock.slept == pytest.approx([0.1])  # the bucket was emptied by the 429


# --- parsing helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("  ", None), ("5", 5.0), (" 2.5 ", 2.5), ("-3", 0.0), ("soon", None), ("0", 0.0)],
)
def test_parse_retry_after_values(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_dates() -> None:
    future = datetime.now(timezone.utc) + timedelta(seconds=120)
    assert 115 <= parse_retry_after(email.utils.format_datetime(future, usegmt=True)) <= 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_decode_json_on_non_json_body_is_an_unexpected_response() -> None:
    request = httpx.Request("GET", "https://x.test/orders?token=abc")
    response = httpx.Response(200, text="<html>maintenance</html>", request=request)
    with pytest.raises(errors.UnexpectedResponseError) as caught:
        decode_json(response, STORE)
    message = str(caught.value)
    assert STORE in message and "/orders" in message and "not JSON" in message
    assert "abc" not in message
    assert decode_json(httpx.Response(200, json={"a": 1}, request=request), STORE) == {"a": 1}


async def test_truncated_json_through_the_client(httpx_mock: HTTPXMock, sleep: FakeSleep) -> None:
    httpx_mock.add_response(url=URL, content=b'{"items": [1, 2')
    async with make_client(sleep) as client:
        with pytest.raises(errors.UnexpectedResponseError):
            await client.get_json("/orders")
