"""Client-credentials tokens that expire mid-job: a sync and a ``winback run`` over the Shopify
emulator (tokens living 1 s) cross several expiries, and mid-run revocations that answer 401, yet
the store ends exactly equal to the emulator and every discount code is created once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.integration import sync_compare as compare
from tests.integration.configs import shopify_app_config
from winback.cli.main import cli
from winback.config import load_config
from winback.emulator.generate import generate_world
from winback.emulator.shopify import start_shopify_emulator
from winback.sync import open_store

pytestmark = pytest.mark.integration

LIFETIME_S = 1


@pytest.fixture
def shopify() -> Iterator[tuple[Any, Any]]:
    # restore_rate and bucket keep a full read at ~4 s: long enough to outlive several tokens.
    server, shop = start_shopify_emulator(
        generate_world(7, customers=80), token_lifetime=LIFETIME_S, restore_rate=1000, bucket_size=1000
    )
    try:
        yield server, shop
    finally:
        server.stop()


def _config(directory: Path, server: Any, shop: Any, *, extra: str = "") -> Path:
    return shopify_app_config(directory, server, shop, store="bulk_threshold = -1\npage_size = 25\n", tail=f"""
[email]
from_address = "Acme <hello@acme.example>"
unsubscribe_mailto = "unsubscribe@acme.example"
{extra}""")

def _assert_store_equals_emulator(config_path: Path, shop: Any) -> None:
    config = load_config(config_path)
    store = open_store(config.database.url)
    try:
        compare.assert_store_equals(store, config.store_key, compare.shopify_fingerprints(shop))
    finally:
        store.close()


def test_a_sync_across_two_token_expiries_loses_nothing(shopify: tuple[Any, Any], tmp_path: Path) -> None:
    server, shop = shopify
    config = _config(tmp_path, server, shop)

    result = CliRunner().invoke(cli, ["sync", "--config", str(config)])

    assert result.exit_code == 0, result.output
    assert len(shop.oauth.grants) >= 3, shop.oauth.grants  # two expiries crossed: three tokens at least
    assert {grant["grant_type"] for grant in shop.oauth.grants} == {"client_credentials"}
    _assert_store_equals_emulator(config, shop)
    assert shop.oauth.client_secret not in result.output


def test_a_run_across_token_expiries_and_revocations_repeats_no_write(shopify: tuple[Any, Any], tmp_path: Path) -> None:
    server, shop = shopify
    rules = """rate_per_minute = 300

[rules.discount_codes]
segment = {min_orders = 2}
kind = "percentage"
value = 15
since_days = 3650
"""
    config = _config(tmp_path, server, shop, extra=rules)
    stop = threading.Event()

    def revoke() -> None:  # tokens also die early (a rotated secret): the next request gets a 401
        while not stop.wait(0.7):
            shop.oauth.expire_all()

    revoker = threading.Thread(target=revoke, daemon=True)
    revoker.start()
    try:
        first = CliRunner().invoke(cli, ["run", "--config", str(config)])
    finally:
        stop.set()
        revoker.join()

    assert first.exit_code == 0, first.output
    codes = shop.writes()["discount_codes"]
    assert codes, first.output
    assert f"actions: {len(codes)} done, 0 failed" in first.output
    assert len(shop.oauth.grants) >= 3 and shop.unauthorized_requests >= 1
    assert not [c for c, n in Counter(code["code"] for code in codes).items() if n > 1]
    assert not [c for c, n in Counter(tuple(code["customer_ids"]) for code in codes).items() if n > 1]
    _assert_store_equals_emulator(config, shop)

    again = CliRunner().invoke(cli, ["run", "--config", str(config)])
    assert again.exit_code == 0, again.output
    assert shop.writes()["discount_codes"] == codes


def test_check_names_the_mode_the_token_life_and_a_rejected_secret(shopify: tuple[Any, Any], tmp_path: Path) -> None:
    server, shop = shopify
    config = _config(tmp_path / "good", server, shop)
    good = CliRunner().invoke(cli, ["check", "--config", str(config)])
    assert "auth: client-credentials (Dev Dashboard app emulator-client-id); token valid for" in good.output, good.output

    bad = _config(tmp_path / "bad", server, shop)
    (bad.parent / "acme.secrets.toml").write_text('client_secret = "not-the-secret"\n', encoding="utf-8")
    refused = CliRunner().invoke(cli, ["check", "--config", str(bad)])
    assert refused.exit_code == 1
    assert "refused the client credentials grant" in refused.output
    assert f"client_secret in {bad.parent / 'acme.secrets.toml'}" in refused.output
    assert "not-the-secret" not in refused.output
