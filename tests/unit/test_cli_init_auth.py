"""``winback init --auth``: each of Shopify's three 2026 credential paths gets the right keys, the
config loads in that mode once its variable is set, and nothing secret is written."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from winback.cli.main import cli
from winback.config import load_config

SECRET = "shpss_never_in_a_file_123"


@pytest.mark.parametrize(
    ("auth", "env", "next_step"),
    [
        ("access-token", "ACME_SHOPIFY_TOKEN", "winback check --config"),
        ("client-credentials", "ACME_SHOPIFY_CLIENT_SECRET", "winback check --config"),
        ("authorization-code", "ACME_SHOPIFY_CLIENT_SECRET", "winback connect --config"),
    ],
)
def test_each_auth_path_writes_its_keys_and_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, auth: str, env: str,
                                                  next_step: str) -> None:
    target = tmp_path / "acme.toml"
    result = CliRunner().invoke(cli, ["init", str(target), "--platform", "shopify", "--shop", "acme", "--auth", auth,
                                      "--client-id", "1a2b3c4d", "--no-interactive"])
    assert result.exit_code == 0, result.output
    assert f"export {env}=..." in result.output and f"{next_step} {target}" in result.output

    monkeypatch.setenv(env, SECRET)
    settings = load_config(target).store.settings
    assert settings.auth_mode == auth  # type: ignore[attr-defined]
    text = target.read_text()
    assert SECRET not in text
    if auth == "access-token":
        assert "client_id" not in text
    else:
        assert settings.client_id == "1a2b3c4d"  # type: ignore[attr-defined]
    secrets = tmp_path / "acme.secrets.toml"
    assert secrets.exists() == (auth == "authorization-code")
    if secrets.exists():
        assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
        assert 'secrets_file = "acme.secrets.toml"' in text


def test_the_terminal_asks_which_credentials_the_merchant_has(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "own.toml"
    answers = "\n".join(["shopify", "own-shop", "", "9z8y7x", "", "", "", ""]) + "\n"
    result = CliRunner().invoke(cli, ["init", str(target), "--interactive"], input=answers)
    assert result.exit_code == 0, result.output
    assert "Dev Dashboard app installed on a store of your own organization" in result.output
    monkeypatch.setenv("OWN_SHOP_SHOPIFY_CLIENT_SECRET", SECRET)
    settings = load_config(target).store.settings
    assert (settings.auth_mode, settings.client_id) == ("client-credentials", "9z8y7x")  # type: ignore[attr-defined]


def test_an_unknown_auth_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "a.toml"), "--platform", "shopify", "--shop", "acme",
                                      "--auth", "password", "--no-interactive"])
    assert result.exit_code == 2 and "choose one of access-token, client-credentials, authorization-code" in result.output
    assert not (tmp_path / "a.toml").exists()
