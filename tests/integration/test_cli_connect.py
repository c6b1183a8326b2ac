"""``winback connect`` end to end, as its own process against the Shopify emulator over loopback:
the install approved in headless Chromium (driven through the DevTools protocol) ends with the
offline token in the secrets file (mode 0600) and a working ``winback check``; forged, mismatched,
replayed and missing callbacks end with a clear error and nothing written.
"""

from __future__ import annotations

import html
import os
import re
import stat
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.integration.browser import DevTools, chromium  # noqa: F401 - the fixture
from tests.integration.configs import shopify_app_config
from winback.emulator.generate import generate_world
from winback.emulator.shopify import start_shopify_emulator
from winback.emulator.shopify.oauth import callback_hmac

pytestmark = pytest.mark.integration

SECRET_ENV = "ACME_SHOPIFY_CLIENT_SECRET"
WINBACK = [str(Path(sys.executable).with_name("winback"))]


@pytest.fixture(scope="module")
def shopify() -> Iterator[tuple[Any, Any]]:
    server, shop = start_shopify_emulator(generate_world(3, customers=20), throttle=False)
    try:
        yield server, shop
    finally:
        server.stop()


def _config(directory: Path, server: Any, shop: Any) -> Path:
    return shopify_app_config(directory, server, shop, auth="authorization-code", client_secret_env=SECRET_ENV)

class Connect:
    """A running ``winback connect``: the install URL and the redirect it printed."""

    def __init__(self, config: Path, shop: Any, *, timeout: float = 30) -> None:
        env = {**os.environ, SECRET_ENV: shop.oauth.client_secret}
        self.process = subprocess.Popen(
            [*WINBACK, "connect", "--config", str(config), "--no-browser", "--timeout", str(timeout)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        assert self.process.stdout is not None
        lines = [self.process.stdout.readline() for _ in range(3)]
        self.install_url = lines[1].strip()
        found = re.search(r"returns to (\S+) on this machine", lines[2])
        assert found and self.install_url.startswith("http"), lines
        self.redirect = found.group(1)
        self.state = re.search(r"[?&]state=([^&]+)", self.install_url).group(1)  # type: ignore[union-attr]

    def finish(self) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, err


def _approve_with_http(connect: Connect, server: Any) -> str:
    """What a browser does: load the install page, submit Approve, follow to the redirect."""
    with httpx.Client(timeout=10) as browser:
        page = browser.get(connect.install_url)
        fields = {name: html.unescape(value) for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', page.text)}
        approved = browser.post(f"{server.url}/admin/oauth/authorize", data=fields)
        assert approved.status_code == 302
        location = approved.headers["location"]
        assert browser.get(location).status_code == 200
        return location


def _callback(connect: Connect, params: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{connect.redirect}?{urlencode(params)}", timeout=10)


def _signed(secret: str, **params: str) -> dict[str, str]:
    return {**params, "hmac": callback_hmac(params, secret)}


@pytest.mark.parametrize("case", ["forged", "other shop"])
def test_a_forged_or_mismatched_callback_is_refused_and_nothing_is_written(
    shopify: tuple[Any, Any], tmp_path: Path, case: str
) -> None:
    server, shop = shopify
    config = _config(tmp_path, server, shop)
    connect = Connect(config, shop)
    now = str(int(time.time()))
    if case == "forged":
        params = {"code": "guessed", "shop": shop.shop_domain, "state": connect.state, "timestamp": now, "hmac": "ab" * 32}
        words = "hmac does not match"
    else:
        params = _signed(shop.oauth.client_secret, code="c", shop="other-store.myshopify.com", state=connect.state,
                         timestamp=now)
        words = "not the configured store"

    page = _callback(connect, params)
    code, _, err = connect.finish()

    assert page.status_code == 400 and "Not connected" in page.text
    assert code == 1 and words in err and "nothing was saved" in err
    assert not (tmp_path / "acme.secrets.toml").exists()
    assert shop.oauth.client_secret not in err


def test_a_replayed_callback_is_refused_and_the_saved_token_stays(shopify: tuple[Any, Any], tmp_path: Path) -> None:
    server, shop = shopify
    config = _config(tmp_path, server, shop)
    first = Connect(config, shop)
    genuine = _approve_with_http(first, server)
    code, out, err = first.finish()
    assert code == 0, err
    saved = (tmp_path / "acme.secrets.toml").read_text()

    second = Connect(config, shop)
    replayed = httpx.get(second.redirect + "?" + genuine.split("?", 1)[1], timeout=10)
    code, _, err = second.finish()

    assert replayed.status_code == 400
    assert code == 1 and "does not belong to this install" in err
    assert (tmp_path / "acme.secrets.toml").read_text() == saved


def test_reinstalling_clears_the_disconnected_mark(shopify: tuple[Any, Any], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Review item 5: after app/uninstalled, a reinstall through `winback connect` lets sync run again."""
    from datetime import UTC, datetime

    from winback.config import load_config
    from winback.sync import open_store
    from winback.sync.connections import disconnected_at, mark_disconnected

    server, shop = shopify
    monkeypatch.setenv(SECRET_ENV, shop.oauth.client_secret)
    config = _config(tmp_path, server, shop)
    key = load_config(config, missing_secrets_ok=True).store_key
    with open_store(str(tmp_path / "winback.db")) as store:
        mark_disconnected(store, key, datetime.now(UTC), "app/uninstalled")
    connect = Connect(config, shop)
    _approve_with_http(connect, server)
    code, out, err = connect.finish()
    assert code == 0, err
    assert "disconnected mark of the earlier uninstall is cleared" in out
    with open_store(str(tmp_path / "winback.db")) as store:
        assert disconnected_at(store, key) is None


def test_no_callback_times_out_and_writes_nothing(shopify: tuple[Any, Any], tmp_path: Path) -> None:
    server, shop = shopify
    connect = Connect(_config(tmp_path, server, shop), shop, timeout=1)
    code, _, err = connect.finish()
    assert code == 1 and "no install callback" in err
    assert not (tmp_path / "acme.secrets.toml").exists()


# --- the install in a real browser ---------------------------------------------------------------


def test_the_install_flow_in_chromium_from_the_printed_url_to_the_saved_token(
    shopify: tuple[Any, Any], tmp_path: Path, chromium: Path
) -> None:
    server, shop = shopify
    config = _config(tmp_path, server, shop)
    connect = Connect(config, shop)
    browser = DevTools(chromium, tmp_path / "profile")
    try:
        browser.open(connect.install_url)
        browser.wait_for("document.readyState === 'complete' && !!document.getElementById('approve')")
        assert "read_all_orders" in browser.evaluate("document.body.innerText")
        browser.evaluate("document.getElementById('approve').click()")
        shown = browser.wait_for("document.title === 'Connected' && document.body.innerText")
    finally:
        browser.close()
    code, out, err = connect.finish()

    assert code == 0, err
    assert "You can close this tab" in shown
    secrets = tmp_path / "acme.secrets.toml"
    assert f"saved access_token (expires in 1 h, renewed automatically) and refresh_token in {secrets} (mode 0600)" in out
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    token = tomllib.loads(secrets.read_text())["access_token"]
    assert token.startswith("shpat_") and token not in out and token not in err
    assert [g["grant_type"] for g in shop.oauth.grants][-1] == "authorization_code"

    env = {**os.environ, SECRET_ENV: shop.oauth.client_secret}
    check = subprocess.run([*WINBACK, "check", "--config", str(config)], capture_output=True, text=True, env=env,
                           timeout=120)
    assert "auth: authorization-code" in check.stdout, check.stdout + check.stderr
    assert "ok   access" in check.stdout and token not in check.stdout
