"""The pieces ``winback connect --via-serve`` and the serve callback route share: the pending
install (0600, state stored hashed, one use), the serve redirect URL, and the 2026 missing-scope
remedy Shopify merchants are given."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from winback import errors
from winback.connect import PendingConnect, serve_redirect_uri
from winback.connectors.shopify.oauth import InstallRequest
from winback.connectors.shopify.profile import SHOPIFY
from winback.connectors.shopify.settings import ShopifySettings

SHOP = "acme.myshopify.com"


def _install() -> InstallRequest:
    return InstallRequest(ShopifySettings(shop=SHOP, auth="authorization-code", client_id="cid", client_secret="s",
                                          redirect_uri="https://wb.example.com/oauth/shopify/callback"))


def test_a_pending_install_is_private_keeps_no_state_and_is_spent_once(tmp_path: Path) -> None:
    install = _install()
    record = PendingConnect.write(tmp_path / "acme.toml", install, 60)

    assert record.path == tmp_path / "acme.connect.json" and record.config_path == tmp_path / "acme.toml"
    assert stat.S_IMODE(record.path.stat().st_mode) == 0o600
    assert install.state not in record.path.read_text()
    assert PendingConnect.find(tmp_path, "other.myshopify.com", install.state) is None
    assert PendingConnect.find(tmp_path, SHOP, install.state + "x") is None
    found = PendingConnect.find(tmp_path, SHOP.upper(), install.state)
    assert found is not None and found.expires_at > time.time() + 50
    assert found.claim() is True
    assert found.claim() is False
    assert PendingConnect.find(tmp_path, SHOP, install.state) is None


def test_the_serve_redirect_is_the_callback_route_of_an_https_public_url() -> None:
    assert serve_redirect_uri("https://wb.example.com/") == "https://wb.example.com/oauth/shopify/callback"
    assert serve_redirect_uri("http://127.0.0.1:8080") == "http://127.0.0.1:8080/oauth/shopify/callback"
    with pytest.raises(errors.ConfigError, match="https://"):
        serve_redirect_uri("http://wb.example.com")


def test_the_missing_scope_fix_describes_the_2026_dev_dashboard_remedy() -> None:
    fix = SHOPIFY.scope_fix("read_all_orders", SHOP)

    assert "read_all_orders" in fix and "60 days" in fix
    assert "Dev Dashboard" in fix and "release a new version" in fix and "Versions" in fix
    assert "approve the updated scopes on acme.myshopify.com" in fix
    assert "run `winback connect` again" in fix
    assert "reinstall the app" not in fix and "put the new token in the config" not in fix


def test_the_403_and_access_denied_wording_gives_the_same_remedy() -> None:
    from winback.connectors.shopify.graphql import GRAPHQL_ERRORS, SHOPIFY_ERRORS

    texts = [rule.message for rule in (*SHOPIFY_ERRORS.rules, *GRAPHQL_ERRORS.rules) if rule.error is errors.MissingScopeError]
    assert len(texts) == 2
    for text in texts:
        assert "Versions" in text and "approve the updated scopes" in text and "`winback connect` again" in text
