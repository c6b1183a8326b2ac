"""Client configs the integration tests write for the emulators, where several test files need the
same one: a Shopify app client (client id and secret, either grant) and the vip_tiers and birthday
rule tables. Each test adds its own tables through ``store`` and ``tail``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from winback.emulator.generate import DEFAULT_NOW

TIER_WINDOW_DAYS = (datetime.now(UTC) - DEFAULT_NOW).days + 365
"""The emulated world ends at a fixed date: reach back a year from it, whatever today is."""


def shopify_app_config(
    directory: Path,
    server: Any,
    shop: Any,
    *,
    auth: str | None = None,
    client_secret_env: str | None = None,
    store: str = "",
    tail: str = "",
) -> Path:
    """``directory/acme.toml`` (mode 0600) for the emulator's app, ``shop.oauth``'s client id.

    ``auth`` is the ``[store] auth`` key (``None``: the default, client credentials); the
    authorization-code grant also gets a loopback ``redirect_uri``. The client secret goes to
    ``acme.secrets.toml`` (mode 0600) unless ``client_secret_env`` names the variable that holds it.
    ``store`` is more ``[store]`` lines; ``tail`` more tables after ``[database]``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if client_secret_env is None:
        secrets = directory / "acme.secrets.toml"
        secrets.write_text(f'client_secret = "{shop.oauth.client_secret}"\n', encoding="utf-8")
        secrets.chmod(0o600)
    lines = [
        'secrets_file = "acme.secrets.toml"',
        "",
        "[store]",
        'platform = "shopify"',
        f'shop = "{shop.shop_domain}"',
        *([f'auth = "{auth}"'] if auth else []),
        f'client_id = "{shop.oauth.client_id}"',
        *([f'client_secret = "${{{client_secret_env}}}"'] if client_secret_env else []),
        f'base_url = "{server.url}"',
        *(['redirect_uri = "http://127.0.0.1:0/winback/callback"'] if auth == "authorization-code" else []),
    ]
    path = directory / "acme.toml"
    path.write_text("\n".join(lines) + "\n" + store + '\n[database]\nurl = "winback.db"\n' + tail, encoding="utf-8")
    path.chmod(0o600)
    return path


def vip_birthday_rules(*, perk_percent: int) -> str:
    """``[rules.vip_tiers]`` (Silver from 2 orders, Gold from 4, within :data:`TIER_WINDOW_DAYS`,
    a ``perk_percent`` % welcome code) and ``[rules.birthday]`` (20 % two weeks before)."""
    return f"""
[rules.vip_tiers]
window_days = {TIER_WINDOW_DAYS}
welcome_within_days = {TIER_WINDOW_DAYS}
perk = {{kind = "percentage", value = {perk_percent}}}
[[rules.vip_tiers.tiers]]
name = "Silver"
min_orders = 2
[[rules.vip_tiers.tiers]]
name = "Gold"
min_orders = 4

[rules.birthday]
days_before = 14
discount = {{kind = "percentage", value = 20}}
"""
