"""``winback connect --via-serve`` with a real ``winback serve`` process and the Shopify emulator:
the install approved from the printed URL lands on ``/oauth/shopify/callback``, the offline token
is saved in the client's secrets file (0600) and ``winback check`` passes; forged, mismatched and
replayed callbacks get a 400 page and write nothing."""

from __future__ import annotations

import html
import os
import re
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.integration.serve_harness import ServeProcess
from winback.config import load_config
from winback.sync import open_store
from winback.sync.connections import disconnected_at, mark_disconnected
from winback.emulator.generate import generate_world
from winback.emulator.shopify import start_shopify_emulator
from winback.emulator.shopify.oauth import callback_hmac

pytestmark = pytest.mark.integration

SECRET_ENV = "ACME_SHOPIFY_CLIENT_SECRET"
WINBACK = [str(Path(sys.executable).with_name("winback"))]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, ServeProcess, Path]]:
    server, shop = start_shopify_emulator(generate_world(3, customers=20), throttle=False)
    folder = tmp_path_factory.mktemp("clients")
    for name in ("acme", "beta"):
        _config(folder, name, server, shop)
    os.environ[SECRET_ENV] = shop.oauth.client_secret
    serve = ServeProcess(folder)
    try:
        serve.start()
        yield server, shop, serve, folder
    finally:
        serve.stop()
        server.stop()
        os.environ.pop(SECRET_ENV, None)


def _config(folder: Path, name: str, server: Any, shop: Any) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(
        f"""secrets_file = "{name}.secrets.toml"

[store]
platform = "shopify"
shop = "{shop.shop_domain}"
auth = "authorization-code"
client_id = "{shop.oauth.client_id}"
client_secret = "${{{SECRET_ENV}}}"
base_url = "{server.url}"

[database]
url = "{name}.db"
""",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def _connect(folder: Path, name: str, serve: ServeProcess) -> str:
    """Run ``winback connect --via-serve``; the install URL it printed."""
    done = subprocess.run([*WINBACK, "connect", "--config", str(folder / f"{name}.toml"), "--via-serve",
                           "--public-url", serve.url, "--no-browser", "--timeout", "120"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"returns to {serve.url}/oauth/shopify/callback" in done.stdout
    return done.stdout.splitlines()[1].strip()


def _approve(install_url: str, server: Any) -> str:
    """What the merchant's browser does on the install page; the callback URL it is sent to."""
    with httpx.Client(timeout=10) as browser:
        page = browser.get(install_url)
        fields = {k: html.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page.text)}
        approved = browser.post(f"{server.url}/admin/oauth/authorize", data=fields)
        assert approved.status_code == 302
        return str(approved.headers["location"])


def test_connect_via_serve_saves_the_token_once_and_check_passes(world: tuple[Any, Any, ServeProcess, Path]) -> None:
    server, shop, serve, folder = world
    clients_before = httpx.get(f"{serve.url}/healthz").json()["clients"]
    key = load_config(folder / "acme.toml", missing_secrets_ok=True).store_key
    with open_store(str(folder / "acme.db")) as store:  # an earlier app/uninstalled (review item 5)
        mark_disconnected(store, key, datetime.now(UTC), "app/uninstalled")
    install_url = _connect(folder, "acme", serve)
    pending = folder / "acme.connect.json"
    assert stat.S_IMODE(pending.stat().st_mode) == 0o600

    callback = _approve(install_url, server)
    assert callback.startswith(f"{serve.url}/oauth/shopify/callback?")
    page = httpx.get(callback, timeout=30)

    assert page.status_code == 200 and "<title>Connected</title>" in page.text, page.text
    secrets = folder / "acme.secrets.toml"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    pair = tomllib.loads(secrets.read_text())
    token, refresh = pair["access_token"], pair["refresh_token"]  # an expiring token, as by default
    assert {"access_expires_at", "refresh_expires_at"} <= set(pair)
    assert token.startswith("shpat_") and token not in page.text and token not in serve.log()
    assert refresh not in page.text and refresh not in serve.log()
    assert not pending.exists()
    assert [g["grant_type"] for g in shop.oauth.grants][-1] == "authorization_code"
    assert httpx.get(f"{serve.url}/healthz").json()["clients"] == clients_before + 1
    with open_store(str(folder / "acme.db")) as store:
        assert disconnected_at(store, key) is None

    saved = secrets.read_bytes()
    replayed = httpx.get(callback, timeout=30)
    assert replayed.status_code == 400 and "nothing was saved" in replayed.text
    assert secrets.read_bytes() == saved

    check = subprocess.run([*WINBACK, "check", "--config", str(folder / "acme.toml")], capture_output=True,
                           text=True, timeout=120)
    assert "auth: authorization-code (expiring offline token" in check.stdout, check.stdout + check.stderr
    assert "ok   access" in check.stdout and token not in check.stdout


def test_forged_and_mismatched_callbacks_get_400_and_write_nothing(world: tuple[Any, Any, ServeProcess, Path]) -> None:
    server, shop, serve, folder = world
    install_url = _connect(folder, "beta", serve)
    state = re.search(r"[?&]state=([^&]+)", install_url).group(1)  # type: ignore[union-attr]
    now = str(int(time.time()))
    secret = shop.oauth.client_secret
    cases = {
        "forged hmac": {"code": "guessed", "shop": shop.shop_domain, "state": state, "timestamp": now, "hmac": "ab" * 32},
        "other shop": {"code": "c", "shop": "other-store.myshopify.com", "state": state, "timestamp": now},
        "unknown state": {"code": "c", "shop": shop.shop_domain, "state": "not-issued", "timestamp": now},
        "stale": {"code": "c", "shop": shop.shop_domain, "state": state, "timestamp": str(int(time.time()) - 3600)},
    }
    grants = len(shop.oauth.grants)
    for case, params in cases.items():
        if "hmac" not in params:
            params = {**params, "hmac": callback_hmac(params, secret)}
        page = httpx.get(f"{serve.url}/oauth/shopify/callback?{urlencode(params)}", timeout=30)
        assert page.status_code == 400 and "Not connected" in page.text, (case, page.text)
        assert "nothing was saved" in page.text, case
    assert not (folder / "beta.secrets.toml").exists()
    assert len(shop.oauth.grants) == grants
    assert secret not in serve.log()
