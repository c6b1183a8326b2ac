"""``winback init``: a starter config that loads, written privately, never with a secret in it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from winback.cli.main import cli
from winback.config import load_config
from winback.errors import ConfigError


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_shopify_from_flags_loads_once_the_env_var_is_set(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "clients" / "acme.toml"
    result = CliRunner().invoke(
        cli,
        [
            "init", str(target), "--platform", "shopify", "--shop", "https://Acme.myshopify.com/",
            "--token-env", "ACME_TOKEN", "--name", "Acme Apparel", "--database", "acme.db",
            "--from-address", "Acme <hello@acme.example>", "--no-interactive",
        ],
    )
    assert result.exit_code == 0, result.output
    assert _mode(target) == 0o600
    text = target.read_text(encoding="utf-8")
    assert 'access_token = "${ACME_TOKEN}"' in text
    assert "export ACME_TOKEN=..." in result.output and f"winback check --config {target}" in result.output

    monkeypatch.delenv("ACME_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="ACME_TOKEN is not set"):
        load_config(target)

    monkeypatch.setenv("ACME_TOKEN", "shpat_not_a_real_token_123")
    config = load_config(target)
    assert config.name == "Acme Apparel"
    assert config.platform == "shopify"
    assert config.store.settings.shop == "acme.myshopify.com"  # type: ignore[attr-defined]
    token = config.store.settings.access_token  # type: ignore[attr-defined]
    assert isinstance(token, SecretStr) and token.get_secret_value() == "shpat_not_a_real_token_123"
    assert config.database.url == str(target.parent / "acme.db")
    assert config.email is not None and config.email.sender == "outbox"
    assert config.email.from_address == "Acme <hello@acme.example>"
    assert "shpat_not_a_real_token_123" not in target.read_text(encoding="utf-8")


def test_ecwid_with_smtp_from_flags_default_path_and_env_names(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "init", "--platform", "ecwid", "--store-id", "1003", "--email-sender", "smtp",
            "--smtp-host", "smtp.example.com", "--smtp-username", "winback", "--no-interactive",
        ],
    )
    assert result.exit_code == 0, result.output
    target = tmp_path / "ecwid-1003.toml"
    assert _mode(target) == 0o600
    text = target.read_text(encoding="utf-8")
    assert 'token = "${ECWID_1003_TOKEN}"' in text and 'smtp_password = "${SMTP_PASSWORD}"' in text

    monkeypatch.setenv("ECWID_1003_TOKEN", "secret_abcdefgh")
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2hunter2")
    config = load_config(target)
    assert config.platform == "ecwid" and config.store.settings.store_id == "1003"  # type: ignore[attr-defined]
    assert config.email is not None and config.email.sender == "smtp"
    assert config.email.smtp_host == "smtp.example.com" and config.email.smtp_port == 587
    assert config.email.smtp_password is not None
    assert config.email.smtp_password.get_secret_value() == "hunter2hunter2"


def test_prompts_build_the_same_kind_of_config(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "beta.toml"
    answers = "\n".join(
        [
            "shopify",               # platform
            "not a shop!",           # rejected, asked again
            "beta-books",            # shop
            "access-token",          # auth: an admin-created app's token
            "",                      # token env: default BETA_BOOKS_SHOPIFY_TOKEN
            "sqlite:///" + str(tmp_path / "beta.db"),
            "smtp",
            "Beta <hi@beta.example>",
            "smtp.beta.example",
            "2525",
            "mailer",
            "$BETA_SMTP",            # a variable name, with the $ tolerated
        ]
    ) + "\n"
    result = CliRunner().invoke(cli, ["init", str(target), "--interactive"], input=answers)
    assert result.exit_code == 0, result.output
    assert "is not a Shopify shop" in result.output
    assert _mode(target) == 0o600

    monkeypatch.setenv("BETA_BOOKS_SHOPIFY_TOKEN", "shpat_prompted_token_1")
    monkeypatch.setenv("BETA_SMTP", "smtp-password-1")
    config = load_config(target)
    assert config.store.settings.shop == "beta-books.myshopify.com"  # type: ignore[attr-defined]
    assert config.database.url == "sqlite:///" + str(tmp_path / "beta.db")
    assert config.email is not None
    assert (config.email.sender, config.email.smtp_host, config.email.smtp_port) == ("smtp", "smtp.beta.example", 2525)
    assert config.email.smtp_username == "mailer" and config.email.from_address == "Beta <hi@beta.example>"
    text = target.read_text(encoding="utf-8")
    assert "shpat_prompted_token_1" not in text and "smtp-password-1" not in text


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "acme.toml"
    target.write_text("# mine\n", encoding="utf-8")
    args = ["init", str(target), "--platform", "shopify", "--shop", "acme", "--no-interactive"]

    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 1
    assert "already exists" in refused.output and "--force" in refused.output
    assert target.read_text(encoding="utf-8") == "# mine\n"

    target.chmod(0o644)
    forced = CliRunner().invoke(cli, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert 'shop = "acme.myshopify.com"' in target.read_text(encoding="utf-8")
    assert _mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["acme.toml"]  # no temporary file left behind


def test_never_takes_a_secret_for_an_env_name(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["init", str(tmp_path / "x.toml"), "--platform", "shopify", "--shop", "acme",
         "--token-env", "shpat_0123-4567", "--no-interactive"],
    )
    assert result.exit_code == 2
    assert "not an environment variable name" in result.output
    assert not (tmp_path / "x.toml").exists()


def test_without_a_terminal_missing_values_are_usage_errors(tmp_path: Path) -> None:
    no_platform = CliRunner().invoke(cli, ["init", str(tmp_path / "a.toml")])
    assert no_platform.exit_code == 2 and "--platform" in no_platform.output
    no_store = CliRunner().invoke(cli, ["init", str(tmp_path / "a.toml"), "--platform", "ecwid"])
    assert no_store.exit_code == 2 and "--store (the Ecwid store_id)" in no_store.output
    assert not (tmp_path / "a.toml").exists()
