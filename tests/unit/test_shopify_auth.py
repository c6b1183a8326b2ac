"""Shopify auth modes: the client credentials grant as an ``httpx.Auth`` flow (pytest-httpx fakes
Shopify), and the ``[store]`` validation that allows exactly one mode and names the key to fix."""

from __future__ import annotations

import asyncio
import logging
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from pytest_httpx import HTTPXMock

from winback import errors
from winback.config import load_config
from winback.connectors.http import HttpClient, RetryPolicy
from winback.connectors.shopify.settings import ShopifySettings
from winback.secrets import redact
from winback.connectors.shopify.tokens import ClientCredentialsToken, describe_auth, token_provider_for

SHOP = "acme.myshopify.com"
BASE = f"https://{SHOP}"
TOKEN_URL = f"{BASE}/admin/oauth/access_token"
API = f"{BASE}/admin/api/2026-07/graphql.json"
SECRET = "shpss_client_secret_for_tests_0123"


async def _no_sleep(_: float) -> None:
    return None


def settings(**extra: object) -> ShopifySettings:
    return ShopifySettings(shop=SHOP, client_id="client-id-1", client_secret=SECRET, **extra)


def client(auth: ClientCredentialsToken) -> HttpClient:
    return HttpClient(base_url=BASE, auth=auth, store_label=SHOP, retry=RetryPolicy(attempts=2, base_delay=0.01),
                      sleep=_no_sleep)


def grant_response(httpx_mock: HTTPXMock, token: str, *, expires_in: int = 86399) -> None:
    httpx_mock.add_response(method="POST", url=TOKEN_URL,
                            json={"access_token": token, "scope": "read_orders,read_customers", "expires_in": expires_in})


def token_requests(httpx_mock: HTTPXMock) -> list:
    return [r for r in httpx_mock.get_requests() if r.url == TOKEN_URL]


# --- the client credentials flow ---------------------------------------------------------------


async def test_the_first_request_gets_a_token_by_the_client_credentials_grant_and_reuses_it(httpx_mock: HTTPXMock) -> None:
    grant_response(httpx_mock, "shpat_first_token_aaaa")
    httpx_mock.add_response(method="POST", url=API, json={"data": {}}, is_reusable=True,
                            match_headers={"X-Shopify-Access-Token": "shpat_first_token_aaaa"})
    auth = ClientCredentialsToken(settings())
    async with client(auth) as http:
        await http.post_json(API, {"query": "{shop{name}}"}, idempotent=True)
        await http.post_json(API, {"query": "{shop{name}}"}, idempotent=True)

    [grant] = token_requests(httpx_mock)
    assert grant.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(grant.content.decode()) == {
        "grant_type": ["client_credentials"], "client_id": ["client-id-1"], "client_secret": [SECRET]}
    assert "x-shopify-access-token" not in grant.headers
    assert auth.scope == "read_orders,read_customers"
    assert 86000 < (auth.remaining_s() or 0) <= 86399


async def test_a_token_is_renewed_shortly_before_it_expires_not_earlier(httpx_mock: HTTPXMock) -> None:
    grant_response(httpx_mock, "shpat_first_token_aaaa")
    grant_response(httpx_mock, "shpat_second_token_bb")
    httpx_mock.add_response(method="POST", url=API, json={"data": {}}, is_reusable=True)
    auth = ClientCredentialsToken(settings(), refresh_margin_s=300)
    async with client(auth) as http:
        await http.post_json(API, {}, idempotent=True)
        auth._expires_at = datetime.now(timezone.utc) + timedelta(seconds=900)  # 15 min left: keep it
        await http.post_json(API, {}, idempotent=True)
        assert len(token_requests(httpx_mock)) == 1
        auth._expires_at = datetime.now(timezone.utc) + timedelta(seconds=120)  # 2 min left: renew first
        await http.post_json(API, {}, idempotent=True)

    assert len(token_requests(httpx_mock)) == 2
    last = [r for r in httpx_mock.get_requests() if r.url == API][-1]
    assert last.headers["X-Shopify-Access-Token"] == "shpat_second_token_bb"


async def test_a_401_renews_the_token_once_and_sends_the_request_again(httpx_mock: HTTPXMock) -> None:
    grant_response(httpx_mock, "shpat_revoked_token_a")
    grant_response(httpx_mock, "shpat_fresh_token_bbb")
    httpx_mock.add_response(method="POST", url=API, status_code=401,
                            match_headers={"X-Shopify-Access-Token": "shpat_revoked_token_a"})
    httpx_mock.add_response(method="POST", url=API, json={"data": {"ok": 1}},
                            match_headers={"X-Shopify-Access-Token": "shpat_fresh_token_bbb"})
    async with client(ClientCredentialsToken(settings())) as http:
        assert await http.post_json(API, {"query": "mutation"}, idempotent=False) == {"data": {"ok": 1}}
    assert len(token_requests(httpx_mock)) == 2
    sent = [r for r in httpx_mock.get_requests() if r.url == API]
    assert [r.content for r in sent] == [b'{"query":"mutation"}'] * 2


async def test_a_second_401_is_an_authentication_error_after_exactly_one_renewal(httpx_mock: HTTPXMock) -> None:
    grant_response(httpx_mock, "shpat_token_one_aaaa")
    grant_response(httpx_mock, "shpat_token_two_bbbb")
    httpx_mock.add_response(method="POST", url=API, status_code=401, is_reusable=True)
    async with client(ClientCredentialsToken(settings())) as http:
        with pytest.raises(errors.AuthenticationError):
            await http.post_json(API, {}, idempotent=True)
    assert len(token_requests(httpx_mock)) == 2
    assert len([r for r in httpx_mock.get_requests() if r.url == API]) == 2


async def test_concurrent_first_requests_share_one_grant(httpx_mock: HTTPXMock) -> None:
    grant_response(httpx_mock, "shpat_shared_token_aa")
    httpx_mock.add_response(method="POST", url=API, json={"data": {}}, is_reusable=True)
    async with client(ClientCredentialsToken(settings())) as http:
        await asyncio.gather(*(http.post_json(API, {}, idempotent=True) for _ in range(5)))
    assert len(token_requests(httpx_mock)) == 1


async def test_a_refused_grant_says_what_to_check_and_never_shows_the_secret(
    httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    httpx_mock.add_response(method="POST", url=TOKEN_URL, status_code=400,
                            json={"error": "invalid_client", "error_description": "Client authentication failed"})
    auth = ClientCredentialsToken(settings())
    async with client(auth) as http:
        with pytest.raises(errors.TokenGrantError) as caught:
            await http.post_json(API, {}, idempotent=True)
    message = str(caught.value)
    assert SHOP in message and "invalid_client" in message and "client_secret" in message
    assert SECRET not in message and SECRET not in caplog.text and SECRET not in repr(auth)
    assert not [r for r in httpx_mock.get_requests() if r.url == API]


async def test_tokens_and_the_secret_never_reach_the_logs(httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    grant_response(httpx_mock, "shpat_logged_never_abc")
    httpx_mock.add_response(method="POST", url=API, json={"data": {}})
    async with client(ClientCredentialsToken(settings())) as http:
        await http.post_json(API, {}, idempotent=True)
    assert "shpat_logged_never_abc" not in caplog.text and SECRET not in caplog.text
    # The token is registered the moment it arrives, so any later log line or error masks it.
    assert redact("token shpat_logged_never_abc") == "token ***"


def test_check_names_the_mode_and_the_remaining_life() -> None:
    auth = ClientCredentialsToken(settings())
    auth._accept("shpat_some_token_value", datetime.now(timezone.utc) + timedelta(hours=23, minutes=30, seconds=20))
    text = describe_auth(settings(), auth)
    assert text.startswith("client-credentials") and "23 h 30 min" in text
    assert describe_auth(ShopifySettings(shop=SHOP, access_token="shpat_x"), None).startswith("access-token")
    coded = ShopifySettings(shop=SHOP, auth="authorization-code", client_id="c", client_secret="s", access_token="t")
    assert describe_auth(coded, None).startswith("authorization-code")
    assert isinstance(token_provider_for(settings()), ClientCredentialsToken)


def test_authorization_code_without_a_token_yet_says_to_run_connect() -> None:
    pending = ShopifySettings(shop=SHOP, auth="authorization-code", client_id="c", client_secret="s")
    with pytest.raises(errors.ConfigError, match="winback connect"):
        token_provider_for(pending)


# --- [store] validation: exactly one mode -------------------------------------------------------


def _load(tmp_path: Path, store: str, secrets: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None):
    head = 'secrets_file = "acme.secrets.toml"\n' if secrets is not None else ""
    if secrets is not None:
        (tmp_path / "acme.secrets.toml").write_text(secrets, encoding="utf-8")
        (tmp_path / "acme.secrets.toml").chmod(0o600)
    path = tmp_path / "acme.toml"
    path.write_text(head + '[store]\nplatform = "shopify"\nshop = "acme"\n' + textwrap.dedent(store), encoding="utf-8")
    path.chmod(0o600)
    return load_config(path)


@pytest.mark.parametrize(
    ("store", "mode"),
    [
        ('access_token = "shpat_x"\n', "access-token"),
        ('client_id = "abc"\nclient_secret = "${ACME_SECRET}"\n', "client-credentials"),
        ('auth = "authorization-code"\nclient_id = "abc"\nclient_secret = "${ACME_SECRET}"\n', "authorization-code"),
    ],
)
def test_each_mode_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: str, mode: str) -> None:
    monkeypatch.setenv("ACME_SECRET", SECRET)
    assert _load(tmp_path, store).store.settings.auth_mode == mode  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("store", "key", "line", "words"),
    [
        ('access_token = "shpat_x"\nclient_id = "abc"\nclient_secret = "s"\n', "store.client_id", 5, "both set"),
        ('client_id = "abc"\n', "store.client_secret", 1, "client secret"),  # missing: the [store] line
        ('auth = "client-credentials"\nclient_id = "abc"\nclient_secret = "s"\naccess_token = "shpat_x"\n',
         "store.access_token", 7, "not used with client credentials"),
        ('auth = "access-token"\naccess_token = "t"\nclient_secret = "s"\n', "store.client_secret", 6, "not used"),
        ('auth = "authorization-code"\nclient_secret = "s"\n', "store.client_id", 1, "client ID"),
        ('auth = "oauth"\naccess_token = "t"\n', "store.auth", 4, "authorization-code"),
    ],
)
def test_a_wrong_mix_of_keys_names_the_file_line_and_key(tmp_path: Path, store: str, key: str, line: int, words: str) -> None:
    with pytest.raises(errors.ConfigError) as caught:
        _load(tmp_path, store)
    assert (caught.value.key, caught.value.line) == (key, line), str(caught.value)
    assert caught.value.path == str(tmp_path / "acme.toml")
    assert words in str(caught.value)
    assert '"s"' not in str(caught.value)


def test_a_key_from_the_secrets_file_is_blamed_there(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigError) as caught:
        _load(tmp_path, 'access_token = "shpat_x"\n', secrets="# mine\nclient_secret = \"s3cr3t-value\"\n")
    assert caught.value.path == str(tmp_path / "acme.secrets.toml")
    assert (caught.value.key, caught.value.line) == ("store.client_secret", 2)
    assert "s3cr3t-value" not in str(caught.value)


async def test_an_unavailable_token_endpoint_is_retried_then_reported_as_unavailable(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=TOKEN_URL, status_code=503)
    grant_response(httpx_mock, "shpat_after_a_retry_aa")
    httpx_mock.add_response(method="POST", url=API, json={"data": {}})
    async with client(ClientCredentialsToken(settings())) as http:
        await http.post_json(API, {}, idempotent=True)
    assert len(token_requests(httpx_mock)) == 2

    httpx_mock.add_response(method="POST", url=TOKEN_URL, status_code=503, is_reusable=True)
    async with client(ClientCredentialsToken(settings())) as http:
        with pytest.raises(errors.PlatformUnavailableError, match="try again later"):
            await http.post_json(API, {}, idempotent=True)
