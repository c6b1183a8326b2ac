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


def test_the_emulator_command_takes_a_token_lifetime_and_prints_the_app_credentials() -> None:
    args = _parser().parse_args(["shopify", "--customers", "5", "--token-lifetime", "7"])
    server, info = start_from_args(args)
    try:
        assert info["oauth"]["client_id"] and info["oauth"]["client_secret"]
        form = {"grant_type": "client_credentials", **info["oauth"]}
        assert httpx.post(f"{server.url}/admin/oauth/access_token", data=form).json()["expires_in"] == 7
    finally:
        server.stop()
