"""The authorization code grant's pieces: the install URL, the callback checks (hmac, shop, state,
timestamp) against forged, replayed and mismatched callbacks, the code exchange (pytest-httpx),
the one-shot loopback listener, and the secrets file the token is saved in (mode 0600)."""

from __future__ import annotations

import asyncio
import stat
import time
import tomllib
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pytest_httpx import HTTPXMock

from winback import errors
from winback.config import save_secret, save_secrets
from winback.connectors.callback_listener import CallbackListener
from winback.connectors.shopify.oauth import InstallRequest, callback_hmac, exchange_code, verify_callback
from winback.connectors.shopify.settings import ShopifySettings

SHOP = "acme.myshopify.com"
SECRET = "hush-client-secret"


def settings(**extra: object) -> ShopifySettings:
    values: dict[str, object] = {"shop": SHOP, "auth": "authorization-code", "client_id": "cid-1", "client_secret": SECRET}
    return ShopifySettings(**{**values, **extra})


def signed(install: InstallRequest, **overrides: str) -> dict[str, str]:
    params = {"code": "code-123", "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWNtZQ", "shop": SHOP,
              "state": install.state, "timestamp": str(int(time.time()))}
    params.update(overrides)
    params["hmac"] = callback_hmac(params, SECRET)
    return params


def test_the_hmac_matches_shopifys_documented_example() -> None:
    # The example of exshopify's docs (Shopify's own algorithm: sorted k=v joined by &, hex HMAC-SHA256).
    params = {"code": "0907a61c0c8d55e99db179b68161bc00", "shop": "some-shop.myshopify.com", "timestamp": "1337178173"}
    assert callback_hmac(params, "hush") == "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"


def test_the_install_url_asks_for_the_scopes_with_a_fresh_state() -> None:
    first, second = InstallRequest(settings()), InstallRequest(settings())
    url = urlsplit(first.url)
    assert (url.scheme, url.netloc, url.path) == ("https", SHOP, "/admin/oauth/authorize")
    query = parse_qs(url.query)
    assert query["client_id"] == ["cid-1"]
    assert query["redirect_uri"] == ["http://127.0.0.1:8788/winback/callback"]
    assert "read_all_orders" in query["scope"][0].split(",") and "write_discounts" in query["scope"][0].split(",")
    assert query["state"] == [first.state] and first.state != second.state and len(first.state) >= 24
    assert SECRET not in first.url


def test_a_genuine_callback_gives_its_code_once_and_a_replay_is_refused() -> None:
    install = InstallRequest(settings())
    params = signed(install)
    assert verify_callback(params, install) == "code-123"
    with pytest.raises(errors.OAuthCallbackError, match="already used"):
        verify_callback(params, install)


@pytest.mark.parametrize(
    ("tamper", "words"),
    [
        (lambda p: {**p, "hmac": "0" * 64}, "hmac does not match"),
        (lambda p: {**p, "code": "code-999"}, "hmac does not match"),  # altered after signing
        (lambda p: {k: v for k, v in p.items() if k != "hmac"}, "hmac does not match"),
    ],
)
def test_a_forged_or_altered_callback_is_refused(tamper, words: str) -> None:
    install = InstallRequest(settings())
    with pytest.raises(errors.OAuthCallbackError, match=words):
        verify_callback(tamper(signed(install)), install)
    assert not install.used  # a forgery does not spend the state of the real callback


@pytest.mark.parametrize("shop", ["other.myshopify.com", "acme.myshopify.com.evil.example", "evil.example", ""])
def test_a_callback_for_another_shop_is_refused_even_when_signed(shop: str) -> None:
    install = InstallRequest(settings())
    with pytest.raises(errors.OAuthCallbackError, match="not the configured store"):
        verify_callback(signed(install, shop=shop), install)


def test_a_callback_of_another_install_or_a_stale_one_is_refused() -> None:
    install = InstallRequest(settings())
    with pytest.raises(errors.OAuthCallbackError, match="does not belong to this install"):
        verify_callback(signed(install, state="a-state-from-an-old-link"), install)
    later = InstallRequest(settings())
    with pytest.raises(errors.OAuthCallbackError, match="stale timestamp"):
        verify_callback(signed(later, timestamp=str(int(time.time()) - 3600)), later)


def test_a_refused_install_reports_the_error() -> None:
    install = InstallRequest(settings())
    with pytest.raises(errors.OAuthCallbackError, match="not approved"):
        verify_callback(signed(install, error="access_denied"), install)


async def test_the_code_is_exchanged_for_an_expiring_offline_token_by_default(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=f"https://{SHOP}/admin/oauth/access_token",
                            json={"access_token": "shpat_offline_token_x", "scope": "read_orders", "expires_in": 3600,
                                  "refresh_token": "shprt_refresh_token_x", "refresh_token_expires_in": 7776000})
    before = datetime.now(timezone.utc)
    tokens, scope = await exchange_code(settings(), "code-123")
    assert scope == "read_orders"
    assert (tokens.access_token, tokens.refresh_token) == ("shpat_offline_token_x", "shprt_refresh_token_x")
    assert tokens.access_expires_at is not None and tokens.refresh_expires_at is not None
    assert 3599 <= (tokens.access_expires_at - before).total_seconds() <= 3602
    assert 89.9 <= (tokens.refresh_expires_at - before).total_seconds() / 86400 <= 90.1
    [request] = httpx_mock.get_requests()
    assert parse_qs(request.content.decode()) == {
        "client_id": ["cid-1"], "client_secret": [SECRET], "code": ["code-123"], "expiring": ["1"]}


async def test_expiring_offline_access_false_asks_for_the_legacy_non_expiring_token(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=f"https://{SHOP}/admin/oauth/access_token",
                            json={"access_token": "shpat_offline_token_x", "scope": "read_orders"})
    tokens, scope = await exchange_code(settings(expiring_offline_access=False), "code-123")
    assert (tokens.access_token, tokens.access_expires_at, tokens.refresh_token, scope) == (
        "shpat_offline_token_x", None, None, "read_orders")
    assert tokens.as_secrets() == {"access_token": "shpat_offline_token_x", "access_expires_at": None,
                                   "refresh_token": None, "refresh_expires_at": None}
    [request] = httpx_mock.get_requests()
    assert parse_qs(request.content.decode()) == {"client_id": ["cid-1"], "client_secret": [SECRET], "code": ["code-123"]}


async def test_an_expiring_token_without_a_refresh_token_is_refused(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=f"https://{SHOP}/admin/oauth/access_token",
                            json={"access_token": "shpat_offline_token_x", "scope": "read_orders", "expires_in": 3600})
    with pytest.raises(errors.UnexpectedResponseError, match="no refresh token.*nothing was saved"):
        await exchange_code(settings(), "code-123")


async def test_a_used_code_is_a_grant_error_without_the_secret(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=f"https://{SHOP}/admin/oauth/access_token", status_code=400,
                            json={"error": "invalid_request",
                                  "error_description": "The authorization code was not found or was already used"})
    with pytest.raises(errors.TokenGrantError) as caught:
        await exchange_code(settings(), "code-123")
    assert "invalid_request" in str(caught.value) and "winback connect" in str(caught.value)
    assert SECRET not in str(caught.value)


# --- the loopback listener ---------------------------------------------------------------------


async def test_the_listener_hands_over_the_first_callback_and_ignores_other_paths() -> None:
    async with CallbackListener("http://127.0.0.1:0/winback/callback") as listener:
        assert listener.redirect_uri.startswith("http://127.0.0.1:") and ":0/" not in listener.redirect_uri
        async with httpx.AsyncClient() as browser:
            base = listener.redirect_uri.rsplit("/winback/callback", 1)[0]
            assert (await browser.get(f"{base}/favicon.ico")).status_code == 404
            pending = asyncio.create_task(browser.get(listener.redirect_uri, params={"code": "c", "state": "s"}))
            callback = await listener.wait(5)
            assert callback.params == {"code": "c", "state": "s"}
            await callback.respond(200, "Connected", "<b>done</b>")
            page = await pending
    assert page.status_code == 200 and "&lt;b&gt;done&lt;/b&gt;" in page.text


async def test_the_listener_times_out_and_refuses_non_loopback_redirects() -> None:
    async with CallbackListener("http://127.0.0.1:0/cb") as listener:
        with pytest.raises(errors.CallbackTimeoutError, match="no install callback"):
            await listener.wait(0.05)
    with pytest.raises(errors.ConfigError, match="loopback"):
        CallbackListener("https://agency.example/cb")


# --- the secrets file --------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_token_goes_into_a_new_secrets_file_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "acme.secrets.toml"
    save_secret(path, "access_token", "shpat_new_token")
    assert _mode(path) == 0o600
    assert tomllib.loads(path.read_text()) == {"access_token": "shpat_new_token"}
    assert [p.name for p in tmp_path.iterdir()] == ["acme.secrets.toml"]  # no temporary file left


def test_saving_keeps_other_keys_and_comments_replaces_the_old_token_and_tightens_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "acme.secrets.toml"
    path.write_text('# the agency\'s app\nclient_secret = "kept"\naccess_token = "old"\nother = 1\n')
    path.chmod(0o644)
    save_secret(path, "access_token", "shpat_new_token")
    text = path.read_text()
    assert text.startswith("# the agency's app\n")
    assert tomllib.loads(text) == {"client_secret": "kept", "access_token": "shpat_new_token", "other": 1}
    assert _mode(path) == 0o600


def test_a_broken_secrets_file_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "acme.secrets.toml"
    path.write_text("client_secret = \n")
    with pytest.raises(errors.ConfigError, match="not valid TOML"):
        save_secret(path, "access_token", "shpat_new_token")
    assert path.read_text() == "client_secret = \n"


def test_a_renewed_pair_replaces_all_keys_in_one_write_and_none_removes_a_key(tmp_path: Path) -> None:
    path = tmp_path / "acme.secrets.toml"
    path.write_text('client_secret = "kept"\n\naccess_token = "old"\nrefresh_token = "old-refresh"\n# end\n')
    save_secrets(path, {"access_token": "new", "access_expires_at": "2026-12-02T14:00:00+00:00",
                        "refresh_token": "new-refresh"})
    assert tomllib.loads(path.read_text()) == {"client_secret": "kept", "access_token": "new",
                                               "refresh_token": "new-refresh",
                                               "access_expires_at": "2026-12-02T14:00:00+00:00"}
    save_secrets(path, {"access_token": "legacy", "access_expires_at": None, "refresh_token": None})
    text = path.read_text()
    assert tomllib.loads(text) == {"client_secret": "kept", "access_token": "legacy"}
    assert text == 'client_secret = "kept"\n\naccess_token = "legacy"\n# end\n'
    assert _mode(path) == 0o600
