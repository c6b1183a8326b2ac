"""Client config files: valid files load; every bad file gives one ConfigError naming file, line, key."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from winback.connectors.registry import available_platforms
from pydantic import SecretStr

from winback.config import ClientConfig, ConfigWarningKind, load_config, load_config_dir
from winback.connectors.base import Resource
from winback.errors import ConfigError
from winback.secrets import redact

SHOP_TOKEN = "shpat_config_test_token_0123456789"
ECWID_TOKEN = "secret_ecwid_config_token_42"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WB_TEST_SHOP_TOKEN", SHOP_TOKEN)
    monkeypatch.delenv("WB_TEST_MISSING", raising=False)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


VALID = """\
[client]
name = "Acme Apparel"

[store]
platform = "shopify"
shop = "acme"
access_token = "${WB_TEST_SHOP_TOKEN}"
base_url = "http://127.0.0.1:8801/"

[database]
url = "acme.db"

[sync]
resources = ["orders", "customers"]
overlap_minutes = 5

[email]
sender = "smtp"
from_address = "Acme <hello@acme.example>"
smtp_host = "smtp.acme.example"
smtp_password = "smtp-password-value"

[rules.back_to_bestsellers]
after_days = 180

[schedule]
cron = "17 * * * *"
"""


def test_valid_file_loads_with_platform_settings_validated(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "acme.toml", VALID))

    assert isinstance(config, ClientConfig)
    assert config.name == "Acme Apparel"
    assert config.platform == "shopify"
    settings = config.store.settings
    assert settings.shop == "acme.myshopify.com"  # type: ignore[attr-defined]
    assert settings.access_token.get_secret_value() == SHOP_TOKEN  # type: ignore[attr-defined]
    assert settings.base_url == "http://127.0.0.1:8801"  # type: ignore[attr-defined]
    assert config.database.url == str(tmp_path / "acme.db")
    assert config.sync.resources == (Resource.ORDERS, Resource.CUSTOMERS)
    assert config.sync.overlap.total_seconds() == 300
    assert config.email is not None and isinstance(config.email.smtp_password, SecretStr)
    assert config.rules == {"back_to_bestsellers": {"after_days": 180}}
    assert config.schedule.cron == "17 * * * *"
    assert type(config.build_connector()).platform == "shopify"


def test_defaults_and_name_from_file_stem(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "beta.toml", '[store]\nplatform = "ecwid"\nstore_id = 1003\ntoken = "abcdefgh"\n'))
    assert config.name == "beta"
    assert config.database.url is None
    assert config.sync.resources == (Resource.CUSTOMERS, Resource.ORDERS, Resource.PRODUCTS)
    assert config.store.settings.store_id == "1003"  # type: ignore[attr-defined]
    assert config.email is None and config.rules == {} and config.schedule.cron is None
    assert config.sync.batch_records == 4000


def test_redacted_masks_every_secret_and_logs_never_show_them(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "acme.toml", VALID))
    shown = config.redacted()
    text = repr(shown)
    assert SHOP_TOKEN not in text and "smtp-password-value" not in text
    assert shown["store"]["access_token"] == "***"
    assert shown["email"]["smtp_password"] == "***"
    assert shown["store"]["shop"] == "acme.myshopify.com"
    assert redact(f"Authorization: {SHOP_TOKEN}") == "Authorization: ***"
    assert "smtp-password-value" not in redact("login smtp-password-value")


def test_secrets_file_is_merged_into_store_and_warns_when_readable(tmp_path: Path, caplog) -> None:
    write(tmp_path / "beta.toml", 'secrets_file = "beta.secrets.toml"\n[store]\nplatform = "ecwid"\nstore_id = "7"\n')
    secrets = write(tmp_path / "beta.secrets.toml", f'token = "{ECWID_TOKEN}"\n')
    os.chmod(secrets, 0o644)
    with caplog.at_level(logging.WARNING):
        config = load_config(tmp_path / "beta.toml")
    assert config.store.settings.token.get_secret_value() == ECWID_TOKEN  # type: ignore[attr-defined]
    assert "readable by other users" in caplog.text and "chmod 600" in caplog.text
    assert ECWID_TOKEN not in repr(config.redacted())

    caplog.clear()
    os.chmod(secrets, 0o600)
    with caplog.at_level(logging.WARNING):
        load_config(tmp_path / "beta.toml")
    assert "readable" not in caplog.text


def _error(tmp_path: Path, text: str, name: str = "client.toml") -> ConfigError:
    path = write(tmp_path / name, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert error.path == str(path)
    assert "\n" not in str(error)
    return error


def test_toml_syntax_error_names_line_column_and_key(tmp_path: Path) -> None:
    error = _error(tmp_path, '[store]\nplatform = "shopify"\nshop = \n')
    assert error.line == 3 and error.key == "store.shop"
    assert "invalid TOML at column" in str(error)
    assert str(error).startswith(f"{tmp_path / 'client.toml'}:3: store.shop: ")


def test_unknown_key_suggests_close_match(tmp_path: Path) -> None:
    error = _error(tmp_path, '[store]\nplatform = "shopify"\nshop = "acme"\naccess_tokn = "${WB_TEST_SHOP_TOKEN}"\n')
    assert (error.line, error.key) == (4, "store.access_tokn")
    assert "did you mean 'access_token'?" in str(error)


def test_unknown_table_suggests_close_match(tmp_path: Path) -> None:
    error = _error(tmp_path, '[store]\nplatform = "shopify"\nshop = "acme"\n\n[snyc]\nresources = ["orders"]\n')
    assert (error.line, error.key) == (5, "snyc")
    assert "did you mean 'sync'?" in str(error)


def test_missing_env_var_names_the_variable(tmp_path: Path) -> None:
    error = _error(tmp_path, '[store]\nplatform = "shopify"\nshop = "acme"\naccess_token = "${WB_TEST_MISSING}"\n')
    assert (error.line, error.key) == (4, "store.access_token")
    assert "WB_TEST_MISSING is not set" in str(error)


def test_wrong_type(tmp_path: Path) -> None:
    error = _error(tmp_path, '[store]\nplatform = "ecwid"\nstore_id = "1"\ntoken = "abcdefgh"\n\n[sync]\noverlap_minutes = "ten"\n')
    assert (error.line, error.key) == (7, "sync.overlap_minutes")
    assert "valid integer" in str(error) and "'ten'" in str(error)


def test_batch_records_out_of_range_names_line_and_key(tmp_path: Path) -> None:
    error = _error(tmp_path, '[store]\nplatform = "ecwid"\nstore_id = "1"\ntoken = "abcdefgh"\n\n[sync]\nbatch_records = 0\n')
    assert (error.line, error.key) == (7, "sync.batch_records")
    assert "greater than or equal to 1" in str(error)


def test_wrong_type_of_a_secret_never_shows_the_value(tmp_path: Path) -> None:
    error = _error(tmp_path, '[store]\nplatform = "ecwid"\nstore_id = "1"\ntoken = ["very-secret-list-token"]\n')
    assert (error.line, error.key) == (4, "store.token")
    assert "very-secret-list-token" not in str(error)


def test_missing_required_key_names_its_table(tmp_path: Path) -> None:
    error = _error(tmp_path, '# Beta\n[store]\nplatform = "ecwid"\nstore_id = "1"\n')
    assert (error.line, error.key) == (2, "store.token")
    assert "required key is missing: add token = ... under [store]" in str(error)


def test_unknown_platform_lists_installed_ones(tmp_path: Path) -> None:
    error = _error(tmp_path, '[client]\nname = "x"\n[store]\nplatform = "shopfy"\n')
    assert (error.line, error.key) == (4, "store.platform")
    assert "did you mean 'shopify'?" in str(error)
    installed = ", ".join(available_platforms())
    assert "ecwid" in installed and "shopify" in installed
    assert installed in str(error)


def test_invalid_platform_setting_uses_the_connector_model(tmp_path: Path) -> None:
    error = _error(tmp_path, '[store]\nplatform = "shopify"\nshop = "shop.acme.com"\n')
    assert (error.line, error.key) == (3, "store.shop")
    assert "is not a Shopify shop" in str(error)


def test_bad_cron(tmp_path: Path) -> None:
    error = _error(tmp_path, '[store]\nplatform = "ecwid"\nstore_id = "1"\ntoken = "abcdefgh"\n[schedule]\ncron = "* * *"\n')
    assert (error.line, error.key) == (6, "schedule.cron")
    assert "5 fields" in str(error)


def test_error_in_secrets_file_names_that_file(tmp_path: Path) -> None:
    write(tmp_path / "c.toml", 'secrets_file = "c.secrets.toml"\n[store]\nplatform = "ecwid"\nstore_id = "1"\n')
    write(tmp_path / "c.secrets.toml", '\ntokn = "abcdefgh"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "c.toml")
    assert caught.value.path == str(tmp_path / "c.secrets.toml")
    assert (caught.value.line, caught.value.key) == (2, "store.tokn")
    assert "did you mean 'token'?" in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")


def test_config_dir_keeps_going_past_invalid_files(tmp_path: Path) -> None:
    write(tmp_path / "b.toml", '[store]\nplatform = "ecwid"\nstore_id = "1"\ntoken = "abcdefgh"\n')
    write(tmp_path / "a.toml", '[store]\nplatform = "nope"\n')
    write(tmp_path / "c.toml", VALID)
    write(tmp_path / "c.secrets.toml", 'token = "not-a-config"\n')
    (tmp_path / "notes.txt").write_text("ignored")

    results = load_config_dir(tmp_path)

    assert [type(r).__name__ for r in results] == ["ConfigError", "ClientConfig", "ClientConfig"]
    assert isinstance(results[0], ConfigError) and results[0].path == str(tmp_path / "a.toml")
    assert [r.name for r in results[1:] if isinstance(r, ClientConfig)] == ["b", "Acme Apparel"]


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_SHOPIFY_TOKEN", "shpat_example_0000")
    example = Path(__file__).parents[2] / "examples" / "client.toml"
    config = load_config(example)
    assert config.name == "Acme Apparel" and config.platform == "shopify"


# --- issue 8: secrets other users can read, empty variables -----------------------------------


def test_secrets_file_path_is_not_a_secret_and_the_warning_names_it(tmp_path: Path, caplog) -> None:
    write(tmp_path / "gamma.toml", 'secrets_file = "gamma-issue8.secrets.toml"\n[store]\nplatform = "ecwid"\nstore_id = "7"\n')
    secrets = write(tmp_path / "gamma-issue8.secrets.toml", f'token = "{ECWID_TOKEN}"\n')
    os.chmod(secrets, 0o644)
    with caplog.at_level(logging.WARNING, logger="winback.config"):
        config = load_config(tmp_path / "gamma.toml")

    shown = redact(caplog.text)
    assert f"{secrets}: readable by other users (mode 0644): run chmod 600 {secrets}" in shown
    assert [(w.kind, w.path) for w in config.warnings] == [(ConfigWarningKind.SECRETS_FILE_READABLE, str(secrets))]
    assert f"chmod 600 {secrets}" in redact(str(config.warnings[0]))


def test_literal_secrets_in_a_readable_config_are_warned_about(tmp_path: Path, caplog) -> None:
    path = write(tmp_path / "acme.toml", VALID.replace('"${WB_TEST_SHOP_TOKEN}"', f'"{SHOP_TOKEN}"'))
    os.chmod(path, 0o640)
    with caplog.at_level(logging.WARNING, logger="winback.config"):
        config = load_config(path)

    [warning] = config.warnings
    assert warning.kind is ConfigWarningKind.LITERAL_SECRET_READABLE
    assert (warning.path, warning.line) == (str(path), 7)
    assert warning.keys == ("store.access_token", "email.smtp_password")
    assert f"chmod 600 {path}" in warning.fixes[0] and "${NAME}" in warning.fixes[1]
    assert redact(caplog.text).count(f"chmod 600 {path}") == 1
    assert str(warning) in caplog.text
    for text in (caplog.text, str(warning)):
        assert SHOP_TOKEN not in text and "smtp-password-value" not in text

    os.chmod(path, 0o600)
    assert load_config(path).warnings == ()


def test_secrets_from_the_environment_are_not_literal_secrets(tmp_path: Path) -> None:
    from_env = write(tmp_path / "acme.toml", VALID.replace('smtp_password = "smtp-password-value"', 'smtp_password = "${WB_TEST_SHOP_TOKEN}"'))
    os.chmod(from_env, 0o644)
    assert load_config(from_env).warnings == ()


def test_literal_password_in_a_database_url_is_a_literal_secret(tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.toml",
        '[store]\nplatform = "shopify"\nshop = "acme"\naccess_token = "${WB_TEST_SHOP_TOKEN}"\n'
        '[database]\nurl = "postgresql://winback:db-password-1234@db/winback"\n',
    )
    os.chmod(path, 0o604)
    [warning] = load_config(path).warnings
    assert (warning.keys, warning.line) == (("database.url",), 6)
    assert "db-password-1234" not in str(warning)


@pytest.mark.parametrize(
    ("platform", "key"), [("shopify", "access_token"), ("ecwid", "token")]
)
def test_empty_env_var_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str, key: str) -> None:
    monkeypatch.setenv("WB_TEST_EMPTY", "")
    other = 'shop = "acme"' if platform == "shopify" else 'store_id = "1"'
    error = _error(tmp_path, f'[store]\nplatform = "{platform}"\n{other}\n{key} = "${{WB_TEST_EMPTY}}"\n')
    assert (error.line, error.key) == (4, f"store.{key}")
    assert "environment variable WB_TEST_EMPTY is empty" in str(error)
    assert str(error).startswith(f"{tmp_path / 'client.toml'}:4: store.{key}: ")
