"""The Shopify emulator's OAuth endpoints answer as shopify.dev documents them: both grants at
``/admin/oauth/access_token`` (form or JSON), the approval page and its signed redirect, and a
token that outlives its ``expires_in`` getting the same 401 as a wrong one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from winback.emulator.__main__ import _parser, start_from_args
from winback.emulator.generate import generate_world
from winback.emulator.shopify import graphql_url, start_shopify_emulator
from winback.emulator.shopify.oauth import callback_hmac

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def shopify() -> Iterator[tuple[Any, Any]]:
    server, shop = start_shopify_emulator(generate_world(5, customers=10), throttle=False, token_lifetime=1,
                                          redirect_uris=["http://127.0.0.1:9/cb"])
    try:
        yield server, shop
    finally:
        server.stop()


def _shop_name(server: Any, token: str) -> httpx.Response:
    return httpx.post(graphql_url(server), json={"query": "{ shop { name } }"},
                      headers={"X-Shopify-Access-Token": token})


def test_client_credentials_tokens_expire_into_a_401(shopify: tuple[Any, Any]) -> None:
    server, shop = shopify
    form = {"grant_type": "client_credentials", "client_id": shop.oauth.client_id, "client_secret": shop.oauth.client_secret}
    answer = httpx.post(f"{server.url}/admin/oauth/access_token", data=form)
    as_json = httpx.post(f"{server.url}/admin/oauth/access_token", json=form)

    body = answer.json()
    assert answer.status_code == 200 and set(body) == {"access_token", "scope", "expires_in"}
    assert body["access_token"].startswith("shpat_") and body["expires_in"] == 1 and "read_orders" in body["scope"]
    assert as_json.status_code == 200 and as_json.json()["access_token"] != body["access_token"]
    assert _shop_name(server, body["access_token"]).status_code == 200
    time.sleep(1.1)
    expired = _shop_name(server, body["access_token"])
    assert expired.status_code == 401 and expired.json() == _shop_name(server, "shpat_wrong").json()

    wrong = httpx.post(f"{server.url}/admin/oauth/access_token", data={**form, "client_secret": "nope"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_client"


def test_the_approval_page_redirects_with_a_signed_code_that_works_once(shopify: tuple[Any, Any]) -> None:
    server, shop = shopify
    install = {"client_id": shop.oauth.client_id, "scope": "read_orders", "redirect_uri": "http://127.0.0.1:9/cb",
               "state": "s-123"}
    page = httpx.get(f"{server.url}/admin/oauth/authorize", params=install)
    assert page.status_code == 200 and 'id="approve"' in page.text and "read_orders" in page.text
    approved = httpx.post(f"{server.url}/admin/oauth/authorize", data=install)
    assert approved.status_code == 302
    location = urlsplit(approved.headers["location"])
    params = dict(parse_qsl(location.query))
    assert f"{location.scheme}://{location.netloc}{location.path}" == "http://127.0.0.1:9/cb"
    assert set(params) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert params["state"] == "s-123" and params["shop"] == shop.shop_domain
    assert params["hmac"] == callback_hmac(params, shop.oauth.client_secret)

    exchange = {"client_id": shop.oauth.client_id, "client_secret": shop.oauth.client_secret, "code": params["code"]}
    first = httpx.post(f"{server.url}/admin/oauth/access_token", data=exchange)
    again = httpx.post(f"{server.url}/admin/oauth/access_token", data=exchange)
    assert first.status_code == 200 and set(first.json()) == {"access_token", "scope"}  # offline: no expiry
    assert again.status_code == 400 and "already used" in again.json()["error_description"]
    assert _shop_name(server, first.json()["access_token"]).status_code == 200

    for bad in ({**install, "client_id": "other-app"}, {**install, "redirect_uri": "http://127.0.0.1:9/elsewhere"}):
        assert httpx.get(f"{server.url}/admin/oauth/authorize", params=bad).status_code == 400


def _code(server: Any, shop: Any) -> str:
    install = {"client_id": shop.oauth.client_id, "scope": "read_orders", "redirect_uri": "http://127.0.0.1:9/cb",
               "state": "s"}
    approved = httpx.post(f"{server.url}/admin/oauth/authorize", data=install)
    return dict(parse_qsl(urlsplit(approved.headers["location"]).query))["code"]


def _token(server: Any, shop: Any, **form: str) -> httpx.Response:
    app = {"client_id": shop.oauth.client_id, "client_secret": shop.oauth.client_secret}
    return httpx.post(f"{server.url}/admin/oauth/access_token", data={**app, **form})


def _refresh(server: Any, shop: Any, token: str) -> httpx.Response:
    return _token(server, shop, grant_type="refresh_token", refresh_token=token)


@pytest.fixture
def expiring() -> Iterator[tuple[Any, Any]]:
    server, shop = start_shopify_emulator(generate_world(5, customers=10), throttle=False, offline_token_lifetime=1,
                                          refresh_token_lifetime=60)
    try:
        yield server, shop
    finally:
        server.stop()


def test_an_expiring_code_exchange_gives_a_pair_whose_access_token_expires_into_a_401(expiring: tuple[Any, Any]) -> None:
    server, shop = expiring
    answer = _token(server, shop, code=_code(server, shop), expiring="1")
    body = answer.json()
    assert answer.status_code == 200
    assert set(body) == {"access_token", "scope", "expires_in", "refresh_token", "refresh_token_expires_in"}
    assert body["expires_in"] == 1 and body["refresh_token_expires_in"] == 60
    assert _shop_name(server, body["access_token"]).status_code == 200
    time.sleep(1.1)
    assert _shop_name(server, body["access_token"]).status_code == 401
    renewed = _refresh(server, shop, body["refresh_token"]).json()
    assert renewed["refresh_token"] != body["refresh_token"] and renewed["expires_in"] == 1
    assert _shop_name(server, renewed["access_token"]).status_code == 200
    assert [g["grant_type"] for g in shop.oauth.grants][-2:] == ["authorization_code", "refresh_token"]


def test_a_used_refresh_token_works_again_until_its_replacement_is_used(expiring: tuple[Any, Any]) -> None:
    """Shopify since August 2026: a lost or unsaved refresh answer is recovered with the old token."""
    server, shop = expiring
    first = _token(server, shop, code=_code(server, shop), expiring="1").json()["refresh_token"]
    lost = _refresh(server, shop, first).json()["refresh_token"]  # the answer the app never saved
    retried = _refresh(server, shop, first)
    assert retried.status_code == 200
    replacement = retried.json()["refresh_token"]
    assert _refresh(server, shop, replacement).status_code == 200  # using the replacement...
    gone = _refresh(server, shop, first)  # ...retires the token it replaced
    assert gone.status_code == 400 and gone.json()["error"] == "invalid_grant"
    assert lost != replacement
    assert _refresh(server, shop, "shprt_never_issued").status_code == 400


def test_strict_rotation_and_expired_refresh_tokens_are_refused() -> None:
    server, shop = start_shopify_emulator(generate_world(5, customers=10), throttle=False, refresh_retention_s=0)
    try:
        first = _token(server, shop, code=_code(server, shop), expiring="1").json()["refresh_token"]
        assert _refresh(server, shop, first).status_code == 200
        time.sleep(0.01)
        assert _refresh(server, shop, first).status_code == 400  # before August 2026: one use only
        fresh = _token(server, shop, code=_code(server, shop), expiring="1").json()["refresh_token"]
        shop.oauth.expire_refresh_tokens()
        assert _refresh(server, shop, fresh).json()["error"] == "invalid_grant"
    finally:
        server.stop()


def test_the_emulator_command_takes_a_token_lifetime_and_prints_the_app_credentials() -> None:
    args = _parser().parse_args(["shopify", "--customers", "5", "--token-lifetime", "7"])
    server, info = start_from_args(args)
    try:
        assert info["oauth"]["client_id"] and info["oauth"]["client_secret"]
        form = {"grant_type": "client_credentials", **info["oauth"]}
        assert httpx.post(f"{server.url}/admin/oauth/access_token", data=form).json()["expires_in"] == 7
    finally:
        server.stop()
