"""The CLI with bad configs: exit code 2, one line naming file, line and key; no secret printed."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from winback.cli.main import cli

TOKEN = "shpat_cli_config_secret_987654"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WB_CLI_TOKEN", TOKEN)
    monkeypatch.delenv("WB_CLI_MISSING", raising=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


BAD = {
    "syntax": ('[store]\nplatform = "shopify"\nshop = "acme\n', 3, "store.shop"),
    "unknown_key": ('[store]\nplatform = "shopify"\nshop = "acme"\nacess_token = "x"\n', 4, "store.acess_token"),
    "missing_env": ('[store]\nplatform = "shopify"\nshop = "acme"\naccess_token = "${WB_CLI_MISSING}"\n', 4, "store.access_token"),
    "wrong_type": ('[store]\nplatform = "shopify"\nshop = "acme"\npage_size = "many"\n', 4, "store.page_size"),
    "unknown_platform": ('[store]\nplatform = "magento"\n', 2, "store.platform"),
    "bad_shop": ('[store]\nplatform = "shopify"\nshop = "https://acme.example.com"\n', 3, "store.shop"),
}


@pytest.mark.parametrize("command", [["sync"], ["status"], ["export", "orders"]])
@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_exits_2_with_one_line(tmp_path: Path, case: str, command: list[str]) -> None:
    text, line, key = BAD[case]
    path = tmp_path / "client.toml"
    path.write_text(text, encoding="utf-8")

    result = CliRunner().invoke(cli, [*command, "--config", str(path)])

    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith(f"error: {path}:{line}: {key}: ")
    assert result.stdout == ""


def test_config_dir_with_one_bad_file_reports_it_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('[store]\nplatform = "magento"\n')
    result = CliRunner().invoke(cli, ["status", "--json", "--config-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert f"error: {tmp_path / 'bad.toml'}:2: store.platform: unknown platform 'magento'" in result.stderr


def test_empty_config_dir_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["sync", "--config-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "holds no client configs" in result.stderr


@pytest.mark.parametrize("args", [[], ["--config", "a.toml", "--config-dir", "."]])
def test_exactly_one_config_source(args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["sync", *args])
    assert result.exit_code == 2
    assert "exactly one of --config FILE or --config-dir DIR" in result.stderr


def test_secrets_never_reach_output_or_logs(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    path = tmp_path / "acme.toml"
    path.write_text(
        "[store]\nplatform = \"shopify\"\nshop = \"acme\"\naccess_token = \"${WB_CLI_TOKEN}\"\n"
        f"base_url = \"http://127.0.0.1:{_free_port()}\"\nmax_attempts = 1\n"
        f"[database]\nurl = \"{db}\"\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    synced = runner.invoke(cli, ["--verbose", "sync", "--config", str(path)])
    logged = runner.invoke(cli, ["--json-log", "--verbose", "sync", "--config", str(path)])
    status = runner.invoke(cli, ["status", "--json", "--config", str(path)])

    assert synced.exit_code == 1 and logged.exit_code == 1
    assert "FAILED  acme (acme.myshopify.com)" in synced.stdout
    assert status.exit_code == 0
    entry = json.loads(status.stdout)[0]
    assert entry["synced"] is False and entry["store_key"] == "shopify:acme.myshopify.com"
    for result in (synced, logged, status):
        assert TOKEN not in result.stdout + result.stderr
