"""Expiring offline tokens (authorization code grant) end to end against the Shopify emulator over
loopback, tokens living 2 s: ``winback connect`` saves the pair, a sync crosses several renewals
and ends equal to the emulator, ``winback check`` shows the life left, and a process killed by
SIGKILL right after a renewal, before or after its save, leaves a secrets file the next run works
with (the refresh token retained by Shopify since August 2026). Under the older strict rotation the
kill before the save loses the store's access, and the next run says to run ``winback connect``."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.integration import sync_compare as compare
from tests.integration.configs import shopify_app_config
from tests.integration.test_cli_connect import Connect, _approve_with_http
from winback.cli.main import cli
from winback.config import load_config, save_secrets
from winback.connectors.shopify.refresh import OfflineTokens
from winback.emulator.generate import generate_world
from winback.emulator.shopify import start_shopify_emulator
from winback.sync import open_store

pytestmark = pytest.mark.integration

LIFETIME_S = 2
WORKER = Path(__file__).with_name("refresh_kill_worker.py")
WINBACK = [str(Path(sys.executable).with_name("winback"))]


def _start(**knobs: Any) -> tuple[Any, Any]:
    return start_shopify_emulator(generate_world(7, customers=80), offline_token_lifetime=LIFETIME_S,
                                  restore_rate=1000, bucket_size=1000, **knobs)


@pytest.fixture
def shopify() -> Iterator[tuple[Any, Any]]:
    server, shop = _start()
    try:
        yield server, shop
    finally:
        server.stop()


def _config(directory: Path, server: Any, shop: Any, *, extra: str = "") -> Path:
    return shopify_app_config(directory, server, shop, auth="authorization-code",
                              store="bulk_threshold = -1\npage_size = 25\n" + extra)

def _installed(directory: Path, server: Any, shop: Any) -> Path:
    """A client whose app is installed: the pair of an expiring code exchange in its secrets file."""
    config = _config(directory, server, shop)
    install = {"client_id": shop.oauth.client_id, "scope": "read_orders", "redirect_uri": "http://127.0.0.1:9/cb",
               "state": "s"}
    approved = httpx.post(f"{server.url}/admin/oauth/authorize", data=install)
    code = httpx.URL(approved.headers["location"]).params["code"]
    answer = httpx.post(f"{server.url}/admin/oauth/access_token", data={
        "client_id": shop.oauth.client_id, "client_secret": shop.oauth.client_secret, "code": code, "expiring": "1"})
    save_secrets(config.parent / "acme.secrets.toml", OfflineTokens.from_answer(answer.json()).as_secrets())
    return config


def _secrets(config: Path) -> dict[str, Any]:
    return tomllib.loads((config.parent / "acme.secrets.toml").read_text())


def _refreshes(shop: Any) -> int:
    return sum(1 for grant in shop.oauth.grants if grant["grant_type"] == "refresh_token")


def _check(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WINBACK, "check", "--config", str(config)], capture_output=True, text=True, timeout=120)


def test_connect_saves_an_expiring_pair_and_check_renews_it(shopify: tuple[Any, Any], tmp_path: Path) -> None:
    server, shop = shopify
    config = _config(tmp_path, server, shop)
    connect = Connect(config, shop)
    _approve_with_http(connect, server)
    code, out, err = connect.finish()
    assert code == 0, err
    assert "refresh_token" in out
    secrets_path = tmp_path / "acme.secrets.toml"
    saved = _secrets(config)
    assert set(saved) == {"client_secret", "access_token", "access_expires_at", "refresh_token", "refresh_expires_at"}
    assert stat.S_IMODE(secrets_path.stat().st_mode) == 0o600

    checked = _check(config)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "authorization-code (expiring offline token" in checked.stdout and "refresh token for 89 days" in checked.stdout
    assert _refreshes(shop) == 1  # the saved token was within its renewal margin: renewed, then used
    assert _secrets(config)["refresh_token"] != saved["refresh_token"]
    for secret in (saved["access_token"], saved["refresh_token"], shop.oauth.client_secret):
        assert secret not in checked.stdout + checked.stderr


def test_connect_with_expiring_offline_access_false_saves_a_legacy_token_only(shopify: tuple[Any, Any], tmp_path: Path) -> None:
    server, shop = shopify
    config = _config(tmp_path, server, shop, extra="expiring_offline_access = false\n")
    with (tmp_path / "acme.secrets.toml").open("a") as secrets:
        secrets.write('access_expires_at = "2026-01-01T00:00:00+00:00"\n')  # left by an earlier expiring install
    connect = Connect(config, shop)
    _approve_with_http(connect, server)
    code, out, err = connect.finish()
    assert code == 0, err
    assert set(_secrets(config)) == {"client_secret", "access_token"}  # the stale expiry is gone
    assert shop.oauth.grants[-1]["expires_at"] is None


def test_a_sync_across_several_renewals_loses_nothing(shopify: tuple[Any, Any], tmp_path: Path) -> None:
    server, shop = shopify
    config = _installed(tmp_path, server, shop)
    result = CliRunner().invoke(cli, ["sync", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert _refreshes(shop) >= 2, shop.oauth.grants
    assert shop.oauth.refused_refreshes == 0
    loaded = load_config(config)
    store = open_store(loaded.database.url)
    try:
        compare.assert_store_equals(store, loaded.store_key, compare.shopify_fingerprints(shop))
    finally:
        store.close()
    again = CliRunner().invoke(cli, ["sync", "--config", str(config)])  # with the last pair saved
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize("when", ["before-save", "after-save"])
def test_a_process_killed_right_after_a_renewal_leaves_a_working_store(tmp_path: Path, when: str) -> None:
    server, shop = _start()
    try:
        config = _installed(tmp_path, server, shop)
        before = _secrets(config)
        worker = subprocess.run([sys.executable, str(WORKER), str(config), when], capture_output=True, text=True,
                                timeout=120)
        assert worker.returncode == -signal.SIGKILL, worker.stderr
        assert _refreshes(shop) == 1  # Shopify answered the renewal before the kill
        after = _secrets(config)
        if when == "before-save":
            assert after == before  # the new pair died with the process
        else:
            assert after["refresh_token"] != before["refresh_token"]
        assert not list(tmp_path.glob(".acme.secrets.toml.*.tmp"))

        checked = _check(config)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert shop.oauth.refused_refreshes == 0
        assert _refreshes(shop) == 2
        assert _secrets(config)["refresh_token"] not in (before["refresh_token"], after["refresh_token"])
        assert _check(config).returncode == 0  # and the pair saved by the recovery works in turn
    finally:
        server.stop()


def test_without_the_retention_a_kill_before_the_save_loses_access_and_says_what_to_do(tmp_path: Path) -> None:
    """The older strict rotation (a refresh token works once): what the retention rule saves us from."""
    server, shop = _start(refresh_retention_s=0)
    try:
        config = _installed(tmp_path, server, shop)
        worker = subprocess.run([sys.executable, str(WORKER), str(config), "before-save"], capture_output=True,
                                text=True, timeout=120)
        assert worker.returncode == -signal.SIGKILL, worker.stderr
        checked = _check(config)
        assert checked.returncode == 1
        output = checked.stdout + checked.stderr
        assert "Shopify refused the refresh of the offline access token" in output and "invalid_grant" in output
        assert shop.shop_domain in output and "winback connect --config" in output
        assert shop.oauth.refused_refreshes == 1
    finally:
        server.stop()
