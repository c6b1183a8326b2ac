"""``winback check``'s fix for a rejected token names where the token really comes from: the
environment variable, the secrets file, or the config file."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from winback.checks import Status, check_store
from winback.config import load_config

TOKEN = "shpat_check_fixes_token_0123456789"


def _rejecting() -> httpx.MockTransport:
    return httpx.MockTransport(
        lambda request: httpx.Response(401, json={"errors": "[API] Invalid API key or access token"})
    )


async def _connect_fix(path: Path) -> str:
    _, items = await check_store(load_config(path), connector_options={"transport": _rejecting()})
    [connect] = [item for item in items if item.name == "connect"]
    assert connect.status is Status.FAIL
    [fix] = connect.fixes
    return fix


STORE = '[store]\nplatform = "shopify"\nshop = "acme"\nmax_attempts = 1\n'


async def test_a_token_from_the_environment_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_SHOPIFY_TOKEN", TOKEN)
    path = tmp_path / "acme.toml"
    path.write_text(STORE + 'access_token = "${ACME_SHOPIFY_TOKEN}"\n', encoding="utf-8")

    fix = await _connect_fix(path)

    assert fix == (
        "the token for acme.myshopify.com was rejected: create a new one and put it in the environment "
        f"variable ACME_SHOPIFY_TOKEN (store.access_token in {path} reads it)"
    )
    assert TOKEN not in fix


async def test_a_token_from_the_secrets_file_names_that_file(tmp_path: Path) -> None:
    secrets = tmp_path / "acme.secrets.toml"
    secrets.write_text(f'access_token = "{TOKEN}"\n', encoding="utf-8")
    os.chmod(secrets, 0o600)
    path = tmp_path / "acme.toml"
    path.write_text('secrets_file = "acme.secrets.toml"\n' + STORE, encoding="utf-8")

    fix = await _connect_fix(path)

    assert fix.endswith(f"create a new one and set access_token in {secrets}")


async def test_a_variable_named_in_the_secrets_file_is_the_place_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_TOKEN", TOKEN)
    secrets = tmp_path / "acme.secrets.toml"
    secrets.write_text('access_token = "${ACME_TOKEN}"\n', encoding="utf-8")
    path = tmp_path / "acme.toml"
    path.write_text('secrets_file = "acme.secrets.toml"\n' + STORE, encoding="utf-8")

    fix = await _connect_fix(path)

    assert fix.endswith(f"put it in the environment variable ACME_TOKEN (access_token in {secrets} reads it)")


async def test_a_token_written_in_the_config_file_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(STORE + f'access_token = "{TOKEN}"\n', encoding="utf-8")
    os.chmod(path, 0o600)

    fix = await _connect_fix(path)

    assert fix.endswith(f"create a new one and set store.access_token in {path}")
