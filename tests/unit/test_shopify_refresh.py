"""Expiring offline tokens (authorization code grant) renewed by their refresh token: pytest-httpx
fakes Shopify, the secrets file is real. Each renewal's pair is on disk before its access token is
sent; renewals are shared, adopted from another process, or refused with the remedy."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pytest_httpx import HTTPXMock

from winback import errors
from winback.config import SecretsFile, load_config
from winback.connectors.http import HttpClient, RetryPolicy
from winback.connectors.shopify.refresh import OfflineTokens, RefreshingOfflineToken
from winback.connectors.shopify.settings import ShopifySettings
from winback.connectors.shopify.tokens import describe_auth, token_provider_for

SHOP = "acme.myshopify.com"
BASE = f"https://{SHOP}"
TOKEN_URL = f"{BASE}/admin/oauth/access_token"
API = f"{BASE}/admin/api/2026-07/graphql.json"
SECRET = "shpss_client_secret_for_refresh_01"
NOW = datetime.now(timezone.utc)


async def _no_sleep(_: float) -> None:
    return None


def _write(path: Path, access: str, refresh: str, *, access_left_s: float, refresh_left_s: float = 86400 * 80) -> None:
    now = datetime.now(timezone.utc)
    path.write_text(
        f'client_secret = "{SECRET}"\n'
        f'access_token = "{access}"\naccess_expires_at = "{(now + timedelta(seconds=access_left_s)).isoformat()}"\n'
        f'refresh_token = "{refresh}"\nrefresh_expires_at = "{(now + timedelta(seconds=refresh_left_s)).isoformat()}"\n'
    )
    path.chmod(0o600)


def _provider(path: Path, store: Any = None) -> RefreshingOfflineToken:
    tokens = OfflineTokens.from_secrets(tomllib.loads(path.read_text()))
    assert tokens is not None
    return RefreshingOfflineToken(url=TOKEN_URL, store_label=SHOP, client_id="client-id-1", client_secret=SECRET,
                                  tokens=tokens, secret_store=store or SecretsFile(path),
                                  header="X-Shopify-Access-Token")


def _client(auth: RefreshingOfflineToken) -> HttpClient:
    return HttpClient(base_url=BASE, auth=auth, store_label=SHOP, retry=RetryPolicy(attempts=2, base_delay=0.01),
                      sleep=_no_sleep)


def _grant(httpx_mock: HTTPXMock, access: str, refresh: str, *, expires_in: int = 3600) -> None:
    httpx_mock.add_response(method="POST", url=TOKEN_URL, json={
        "access_token": access, "scope": "read_orders", "expires_in": expires_in,
        "refresh_token": refresh, "refresh_token_expires_in": 7776000})


def _token_requests(httpx_mock: HTTPXMock) -> list[httpx.Request]:
    return [r for r in httpx_mock.get_requests() if r.url == TOKEN_URL]


def _api_tokens(httpx_mock: HTTPXMock) -> list[str]:
    return [r.headers["X-Shopify-Access-Token"] for r in httpx_mock.get_requests() if r.url == API]


async def test_a_token_near_expiry_is_renewed_and_the_new_pair_is_on_disk_before_it_is_sent(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    path = tmp_path / "acme.secrets.toml"
    _write(path, "shpat_old_access_aaaa", "shprt_old_refresh_aaaa", access_left_s=60)
    _grant(httpx_mock, "shpat_new_access_bbbb", "shprt_new_refresh_bbbb")
    on_disk_when_sent: list[dict[str, Any]] = []

    def api(request: httpx.Request) -> httpx.Response:
        on_disk_when_sent.append(tomllib.loads(path.read_text()))
        return httpx.Response(200, json={"data": {}})

    httpx_mock.add_callback(api, method="POST", url=API, is_reusable=True)
    auth = _provider(path)
    async with _client(auth) as http:
        await http.post_json(API, {}, idempotent=True)
        await http.post_json(API, {}, idempotent=True)

    [grant] = _token_requests(httpx_mock)
    assert parse_qs(grant.content.decode()) == {
        "client_id": ["client-id-1"], "client_secret": [SECRET], "grant_type": ["refresh_token"],
        "refresh_token": ["shprt_old_refresh_aaaa"]}
    assert _api_tokens(httpx_mock) == ["shpat_new_access_bbbb"] * 2
    first = on_disk_when_sent[0]
    assert (first["access_token"], first["refresh_token"]) == ("shpat_new_access_bbbb", "shprt_new_refresh_bbbb")
    assert first["client_secret"] == SECRET  # other keys kept
    assert 3500 < (datetime.fromisoformat(first["access_expires_at"]) - datetime.now(timezone.utc)).total_seconds() <= 3600
    assert auth.refreshes == 1 and 3500 < (auth.remaining_s() or 0) <= 3600


async def test_a_fresh_token_is_used_without_a_renewal(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    path = tmp_path / "acme.secrets.toml"
    _write(path, "shpat_fresh_access_aa", "shprt_fresh_refresh_a", access_left_s=3000)
    httpx_mock.add_response(method="POST", url=API, json={"data": {}})
    async with _client(_provider(path)) as http:
        await http.post_json(API, {}, idempotent=True)
    assert _token_requests(httpx_mock) == [] and _api_tokens(httpx_mock) == ["shpat_fresh_access_aa"]


async def test_a_401_renews_once_and_sends_the_request_again(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    path = tmp_path / "acme.secrets.toml"
    _write(path, "shpat_revoked_access_a", "shprt_refresh_one_aaa", access_left_s=3000)
    _grant(httpx_mock, "shpat_renewed_access_b", "shprt_refresh_two_bbb")
    httpx_mock.add_response(method="POST", url=API, status_code=401,
                            match_headers={"X-Shopify-Access-Token": "shpat_revoked_access_a"})
    httpx_mock.add_response(method="POST", url=API, json={"data": {"ok": 1}},
                            match_headers={"X-Shopify-Access-Token": "shpat_renewed_access_b"})
    async with _client(_provider(path)) as http:
        assert await http.post_json(API, {"query": "mutation"}, idempotent=False) == {"data": {"ok": 1}}
    assert len(_token_requests(httpx_mock)) == 1
    assert tomllib.loads(path.read_text())["refresh_token"] == "shprt_refresh_two_bbb"


async def test_concurrent_requests_share_one_renewal(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    path = tmp_path / "acme.secrets.toml"
    _write(path, "shpat_stale_access_aa", "shprt_stale_refresh_a", access_left_s=10)
    _grant(httpx_mock, "shpat_shared_access_b", "shprt_shared_refresh_b")
    httpx_mock.add_response(method="POST", url=API, json={"data": {}}, is_reusable=True)
    async with _client(_provider(path)) as http:
        await asyncio.gather(*(http.post_json(API, {}, idempotent=True) for _ in range(6)))
    assert len(_token_requests(httpx_mock)) == 1
    assert set(_api_tokens(httpx_mock)) == {"shpat_shared_access_b"}


async def test_a_pair_another_process_saved_is_adopted_instead_of_spending_a_refresh_token(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    path = tmp_path / "acme.secrets.toml"
    _write(path, "shpat_stale_access_aa", "shprt_stale_refresh_a", access_left_s=10)
    auth = _provider(path)
    _write(path, "shpat_other_process_b", "shprt_other_process_b", access_left_s=3500)  # a cron run renewed it
    httpx_mock.add_response(method="POST", url=API, json={"data": {}})
    async with _client(auth) as http:
        await http.post_json(API, {}, idempotent=True)
    assert _token_requests(httpx_mock) == []
    assert _api_tokens(httpx_mock) == ["shpat_other_process_b"]


async def test_a_refused_refresh_names_the_store_and_the_remedy_and_keeps_the_file(
    httpx_mock: HTTPXMock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "acme.secrets.toml"
    _write(path, "shpat_stale_access_aa", "shprt_revoked_refresh", access_left_s=5)
    before = path.read_text()
    httpx_mock.add_response(method="POST", url=TOKEN_URL, status_code=400,
                            json={"error": "invalid_grant", "error_description": "revoked"})
    async with _client(_provider(path)) as http:
        with pytest.raises(errors.TokenGrantError) as caught:
            await http.post_json(API, {}, idempotent=True)
    text = str(caught.value)
    assert SHOP in text and "invalid_grant" in text and "winback connect" in text
    for secret in (SECRET, "shprt_revoked_refresh", "shpat_stale_access_aa"):
        assert secret not in text and secret not in caplog.text
    assert path.read_text() == before


async def test_an_expired_refresh_token_is_reported_without_asking_shopify(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    path = tmp_path / "acme.secrets.toml"
    _write(path, "shpat_stale_access_aa", "shprt_old_refresh_aa", access_left_s=-10, refresh_left_s=-1)
    async with _client(_provider(path)) as http:
        with pytest.raises(errors.TokenGrantError, match=r"acme\.myshopify\.com: .*refresh token has expired.*winback connect"):
            await http.post_json(API, {}, idempotent=True)
    assert httpx_mock.get_requests() == []


class _FailingStore(SecretsFile):
    def write(self, values: Any) -> None:
        raise OSError(28, "No space left on device")


async def test_a_pair_that_cannot_be_saved_is_never_used(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    path = tmp_path / "acme.secrets.toml"
    _write(path, "shpat_stale_access_aa", "shprt_refresh_kept_aa", access_left_s=5)
    _grant(httpx_mock, "shpat_unsaved_access_b", "shprt_unsaved_refresh_b")
    async with _client(_provider(path, _FailingStore(path))) as http:
        with pytest.raises(errors.TokenGrantError, match="could not be saved.*nothing is lost"):
            await http.post_json(API, {}, idempotent=True)
    assert _api_tokens(httpx_mock) == []
    assert tomllib.loads(path.read_text())["refresh_token"] == "shprt_refresh_kept_aa"


def test_the_secrets_file_lock_serialises_holders(tmp_path: Path) -> None:
    path = tmp_path / "acme.secrets.toml"
    path.write_text("")
    first, second = SecretsFile(path), SecretsFile(path)
    first.acquire()
    got: list[float] = []
    waiter = threading.Thread(target=lambda: (second.acquire(), got.append(time.monotonic()), second.release()))
    waiter.start()
    time.sleep(0.2)
    assert got == []  # blocked while the first holds it
    released = time.monotonic()
    first.release()
    waiter.join(5)
    assert got and got[0] >= released
    assert (tmp_path / ".acme.secrets.toml.lock").stat().st_mode & 0o077 == 0


def test_check_shows_the_life_left_of_both_tokens(tmp_path: Path) -> None:
    path = tmp_path / "acme.secrets.toml"
    _write(path, "shpat_check_access_aa", "shprt_check_refresh_a", access_left_s=42 * 60 + 30, refresh_left_s=86400 * 80 + 60)
    settings = ShopifySettings(shop=SHOP, auth="authorization-code", client_id="c", client_secret="s",
                               access_token="shpat_check_access_aa", refresh_token="shprt_check_refresh_a")
    text = describe_auth(settings, _provider(path))
    assert text.startswith("authorization-code (expiring") and "42 min more" in text and "80 days" in text
    _write(path, "shpat_check_access_aa", "shprt_check_refresh_a", access_left_s=600, refresh_left_s=86400 * 3)
    assert "expires soon" in describe_auth(settings, _provider(path))
    legacy = ShopifySettings(shop=SHOP, auth="authorization-code", client_id="c", client_secret="s", access_token="t")
    assert "non-expiring" in describe_auth(legacy, token_provider_for(legacy))


def test_an_expiring_token_needs_a_place_to_save_renewals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ShopifySettings(shop=SHOP, auth="authorization-code", client_id="c", client_secret="s",
                               access_token="shpat_x_access", refresh_token="shprt_x_refresh")
    with pytest.raises(errors.ConfigError, match="build_connector"):
        token_provider_for(settings)
    with pytest.raises(ValueError, match="only used with auth = .authorization-code"):
        ShopifySettings(shop=SHOP, access_token="shpat_x_access", refresh_token="shprt_x_refresh")
    secrets = tmp_path / "acme.secrets.toml"
    _write(secrets, "shpat_loaded_access_a", "shprt_loaded_refresh_a", access_left_s=3000)
    (tmp_path / "acme.toml").write_text(
        'secrets_file = "acme.secrets.toml"\n\n[store]\nplatform = "shopify"\nshop = "acme"\n'
        'auth = "authorization-code"\nclient_id = "cid"\n\n[database]\nurl = "w.db"\n')
    connector = load_config(tmp_path / "acme.toml").build_connector()
    auth = connector.http.auth  # type: ignore[attr-defined]
    assert isinstance(auth, RefreshingOfflineToken) and auth.tokens.refresh_token == "shprt_loaded_refresh_a"
    assert 2900 < (auth.remaining_s() or 0) <= 3000


async def test_a_lost_refresh_answer_is_retried_with_the_same_refresh_token(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    """Safe since August 2026: Shopify keeps a used refresh token valid until its replacement is used."""
    path = tmp_path / "acme.secrets.toml"
    _write(path, "shpat_stale_access_aa", "shprt_retried_refresh", access_left_s=5)
    httpx_mock.add_response(method="POST", url=TOKEN_URL, status_code=502)
    _grant(httpx_mock, "shpat_after_retry_bbb", "shprt_after_retry_bbb")
    httpx_mock.add_response(method="POST", url=API, json={"data": {}})
    async with _client(_provider(path)) as http:
        await http.post_json(API, {}, idempotent=True)
    sent = [parse_qs(r.content.decode())["refresh_token"] for r in _token_requests(httpx_mock)]
    assert sent == [["shprt_retried_refresh"]] * 2
    assert tomllib.loads(path.read_text())["refresh_token"] == "shprt_after_retry_bbb"


async def test_an_unavailable_token_endpoint_keeps_the_saved_pair(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    path = tmp_path / "acme.secrets.toml"
    _write(path, "shpat_stale_access_aa", "shprt_kept_refresh_aa", access_left_s=5)
    before = path.read_text()
    httpx_mock.add_response(method="POST", url=TOKEN_URL, status_code=503, is_reusable=True)
    async with _client(_provider(path)) as http:
        with pytest.raises(errors.PlatformUnavailableError, match="saved refresh token stays valid"):
            await http.post_json(API, {}, idempotent=True)
    assert path.read_text() == before and _api_tokens(httpx_mock) == []
