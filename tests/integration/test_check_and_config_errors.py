"""``winback check`` says "ready" only for what ``plan`` and ``run`` accept; config errors exit 2
from every command; read-only commands create no database; store text cannot break a line."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from winback.cli.main import cli
from winback.emulator.ecwid import ALL_SCOPES, start_ecwid_emulator
from winback.emulator.generate import generate_world

pytestmark = pytest.mark.integration

TOKEN = "secret_check_token_1234"
EVIL_NAME = "Evil\r\nok   database      forged line\x1b[31m"


@pytest.fixture(scope="module")
def ecwid() -> Iterator[Any]:
    server, app = start_ecwid_emulator(
        generate_world(77, customers=30, store_name=EVIL_NAME), scopes=ALL_SCOPES, token=TOKEN, requests_per_minute=100_000
    )
    try:
        yield server, app
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WB_CHECK_TOKEN", TOKEN)


def write_client(folder: Path, ecwid: Any, extra: str = "", *, name: str = "shop") -> Path:
    server, app = ecwid
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(
        f"""\
[client]
name = "{name}"

[store]
platform = "ecwid"
store_id = "{app.store_id}"
token = "${{WB_CHECK_TOKEN}}"
base_url = "{server.url}/api/v3"

[database]
url = "{name}.db"

[email]
sender = "outbox"
outbox_dir = "outbox"
from_address = "hello@shop.example"
"""
        + extra,
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


BAD_RULES = {
    "negative after_days": ("[rules.back_to_bestsellers]\nafter_days = -5\n", "rules.back_to_bestsellers.after_days"),
    "unknown option": ("[rules.back_to_bestsellers]\nafter_dayz = 100\n", "did you mean 'after_days'"),
    "unknown rule": ("[rules.back_to_bestseller]\nafter_days = 100\n", "no rule named 'back_to_bestseller'"),
}


@pytest.mark.parametrize("case", list(BAD_RULES))
def test_a_bad_rule_is_a_config_error_for_every_command(ecwid: Any, tmp_path: Path, case: str) -> None:
    extra, expected = BAD_RULES[case]
    config = write_client(tmp_path, ecwid, extra)
    for command in (["check"], ["plan", "--no-connect"], ["run", "--dry-run"], ["sync"], ["status"]):
        result = invoke(*command, "--config", str(config))
        assert result.exit_code == 2, (command, result.output)
        assert expected in result.output, (command, result.output)
        assert "ready" not in result.output.replace("0 ready", "")
    for command in (["export", "customers"], ["preview", "back_to_bestsellers", "--customer", "a@b.example"]):
        result = invoke(*command, "--config", str(config))
        assert result.exit_code == 2, (command, result.output)
    assert not (tmp_path / "shop.db").exists()


def test_a_bad_rule_in_a_config_dir_stops_only_that_client(ecwid: Any, tmp_path: Path) -> None:
    write_client(tmp_path, ecwid, BAD_RULES["negative after_days"][0], name="bad")
    write_client(tmp_path, ecwid, "[rules.back_to_bestsellers]\nafter_days = 100\n", name="good")
    result = invoke("sync", "--config-dir", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert "2 clients: 1 synced, 0 failed, 1 config error" in result.stdout
    assert (tmp_path / "good.db").exists() and not (tmp_path / "bad.db").exists()


def _templates(tmp_path: Path, body: str) -> str:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "back_to_bestsellers.txt").write_text(body, encoding="utf-8")
    return f'templates_dir = "{folder}"\n'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Hello {{ customer.first_name ", "back_to_bestsellers"),
        ("{% include 'no_such_part.txt' %}", "no_such_part.txt"),
    ],
)
def test_check_renders_every_enabled_template(ecwid: Any, tmp_path: Path, body: str, expected: str) -> None:
    config = write_client(tmp_path, ecwid, "[rules.back_to_bestsellers]\nafter_days = 100\n")
    text = config.read_text(encoding="utf-8").replace('[email]\n', '[email]\n' + _templates(tmp_path, body))
    config.write_text(text, encoding="utf-8")

    result = invoke("check", "--config", str(config), "--json")

    assert result.exit_code == 2, result.output
    checks = {item["name"]: item for item in json.loads(result.stdout)["clients"][0]["checks"]}
    assert checks["templates"]["status"] == "fail"
    assert expected in checks["templates"]["detail"]
    assert checks["rules"]["status"] == "ok"


def test_check_passes_good_templates_and_lists_the_rules(ecwid: Any, tmp_path: Path) -> None:
    config = write_client(
        tmp_path, ecwid,
        "[rules.back_to_bestsellers]\nafter_days = 100\n[rules.discount_codes]\nsegment = {min_orders = 2}\n"
        "kind = \"percentage\"\nvalue = 10\n",
    )
    result = invoke("check", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    checks = {item["name"]: item for item in json.loads(result.stdout)["clients"][0]["checks"]}
    assert checks["rules"]["data"]["enabled"] == ["back_to_bestsellers", "discount_codes"]
    assert checks["templates"]["data"]["rendered"] == 2


def test_check_flags_readable_secrets(ecwid: Any, tmp_path: Path) -> None:
    config = write_client(tmp_path, ecwid)
    config.write_text(config.read_text(encoding="utf-8").replace("${WB_CHECK_TOKEN}", TOKEN), encoding="utf-8")
    config.chmod(0o644)
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 1, result.output
    [line] = [text for text in result.stdout.splitlines() if "secrets" in text and "FAIL" in text]
    assert str(config) in line and "chmod 600" in result.stdout
    assert TOKEN not in result.output


def test_check_creates_no_database_and_tests_that_it_is_writable(ecwid: Any, tmp_path: Path) -> None:
    config = write_client(tmp_path / "clients", ecwid)
    fresh = invoke("check", "--config", str(config), "--json")
    assert fresh.exit_code == 0, fresh.output
    assert not (tmp_path / "clients" / "shop.db").exists()

    assert invoke("sync", "--config", str(config)).exit_code == 0
    if os.geteuid() == 0:
        pytest.skip("root can write a read-only file: the rest needs an ordinary user")
    (tmp_path / "clients" / "shop.db").chmod(0o400)
    readonly = invoke("check", "--config", str(config), "--json")
    assert readonly.exit_code == 1
    checks = {item["name"]: item for item in json.loads(readonly.stdout)["clients"][0]["checks"]}
    assert checks["database"]["status"] == "fail"


def test_check_sees_a_folder_it_cannot_create_the_database_in(ecwid: Any, tmp_path: Path) -> None:
    config = write_client(tmp_path, ecwid)
    (tmp_path / "blocker").write_text("a file")
    config.write_text(
        config.read_text(encoding="utf-8").replace('url = "shop.db"', f'url = "{tmp_path / "blocker" / "x.db"}"'),
        encoding="utf-8",
    )
    result = invoke("check", "--config", str(config), "--json")
    assert result.exit_code == 1
    checks = {item["name"]: item for item in json.loads(result.stdout)["clients"][0]["checks"]}
    assert checks["database"]["status"] == "fail" and "not a writable folder" in checks["database"]["detail"]


def test_plan_and_status_create_no_database(ecwid: Any, tmp_path: Path) -> None:
    config = write_client(tmp_path, ecwid, "[rules.back_to_bestsellers]\nafter_days = 100\n")
    planned = invoke("plan", "--no-connect", "--config", str(config))
    assert planned.exit_code == 1
    assert "run `winback sync` first" in planned.output
    status = invoke("status", "--config", str(config), "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)[0]["synced"] is False
    assert not (tmp_path / "shop.db").exists()


def test_store_text_cannot_break_or_colour_a_printed_line(ecwid: Any, tmp_path: Path) -> None:
    config = write_client(tmp_path, ecwid)
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 0, result.output
    [connect] = [line for line in result.stdout.splitlines() if "connect" in line]
    assert "Evil ok   database      forged line\\x1b[31m" in connect
    assert not any(line.startswith("ok   database      forged") for line in result.stdout.splitlines())
    assert "\x1b" not in result.stdout and "\r" not in result.stdout


def test_check_sees_a_postgresql_user_without_the_right_to_create_tables(sync_postgres_url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from winback.checks import check_database

    url = make_url(sync_postgres_url)
    schema = url.query["options"].split("=")[-1]
    admin = create_engine(sync_postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = 'wb_check_reader'")).scalar():
                conn.execute(text("CREATE ROLE wb_check_reader LOGIN"))
            conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO wb_check_reader'))
    finally:
        admin.dispose()
    reader = url.set(username="wb_check_reader").render_as_string(hide_password=False)

    item = check_database(reader)

    assert item.status.value == "fail" and "lacks the right to create tables" in item.detail
    assert check_database(sync_postgres_url).status.value == "ok"
