"""``winback check`` against the emulators over real sockets, a real SMTP server and real SQLite."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from winback.cli.main import cli
from winback.emulator.ecwid import ALL_SCOPES as ECWID_SCOPES
from winback.emulator.ecwid import start_ecwid_emulator
from winback.emulator.generate import generate_world
from winback.emulator.shopify import ALL_SCOPES, start_shopify_emulator

pytestmark = pytest.mark.integration

SMTP_USER = "mailer"
SMTP_PASSWORD = "correct-horse-battery"
WRONG_PASSWORD = "wrong-horse-battery-xyz"


@pytest.fixture(scope="module")
def world() -> Any:
    return generate_world(3, customers=100)


@pytest.fixture(scope="module")
def shopify(world: Any) -> Iterator[tuple[Any, Any]]:
    server, shop = start_shopify_emulator(world)  # customer accounts, as every new shop has
    try:
        yield server, shop
    finally:
        server.stop()


@pytest.fixture(scope="module")
def shopify_no_all_orders(world: Any) -> Iterator[tuple[Any, Any]]:
    scopes = [s for s in ALL_SCOPES if s != "read_all_orders"]
    server, shop = start_shopify_emulator(world, scopes=scopes, customer_accounts="CLASSIC")  # a legacy shop
    try:
        yield server, shop
    finally:
        server.stop()


@pytest.fixture(scope="module")
def ecwid(world: Any) -> Iterator[tuple[Any, Any]]:
    server, app = start_ecwid_emulator(world, scopes=ECWID_SCOPES)
    try:
        yield server, app
    finally:
        server.stop()


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[str, int]]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            SMTP_USER.encode(), SMTP_PASSWORD.encode()
        )
        return AuthResult(success=ok, handled=False)

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        Sink(), hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        yield "127.0.0.1", port
    finally:
        controller.stop()


def shopify_store(server: Any, shop: Any, token: str = "${WB_CHECK_SHOP_TOKEN}") -> str:
    return f"""\
[store]
platform = "shopify"
shop = "{shop.shop_domain}"
access_token = "{token}"
base_url = "{server.url}"
max_attempts = 1
"""


def ecwid_store(server: Any, app: Any) -> str:
    return f"""\
[store]
platform = "ecwid"
store_id = "{app.store_id}"
token = "${{WB_CHECK_ECWID_TOKEN}}"
base_url = "{server.url}/api/v3"
retry_attempts = 1
"""


def smtp_email(host: str, port: int) -> str:
    return f"""
[email]
sender = "smtp"
smtp_host = "{host}"
smtp_port = {port}
smtp_username = "{SMTP_USER}"
smtp_password = "${{WB_CHECK_SMTP_PASSWORD}}"
smtp_starttls = false
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.toml"
    path.write_text(f'[client]\nname = "{name}"\n\n{text}\n[database]\nurl = "clients.db"\n', encoding="utf-8")
    return path


@pytest.fixture
def env(monkeypatch, shopify, shopify_no_all_orders, ecwid) -> None:
    monkeypatch.setenv("WB_CHECK_SHOP_TOKEN", shopify[1].access_token)
    monkeypatch.setenv("WB_CHECK_SHOP2_TOKEN", shopify_no_all_orders[1].access_token)
    monkeypatch.setenv("WB_CHECK_ECWID_TOKEN", ecwid[1].token)
    monkeypatch.setenv("WB_CHECK_SMTP_PASSWORD", SMTP_PASSWORD)


def test_all_good_exits_0(env, shopify, ecwid, smtp_server, tmp_path: Path) -> None:
    configs = tmp_path / "clients"
    write(configs, "acme", shopify_store(*shopify) + smtp_email(*smtp_server))
    write(configs, "beta", ecwid_store(*ecwid))

    result = CliRunner().invoke(cli, ["check", "--config-dir", str(configs)])
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    assert f"ok   connect       {shopify[1].shop_domain}" in result.output
    assert "every buyer has an account" in result.output and "nothing to create or invite" in result.output
    assert f"logged in as {SMTP_USER}" in result.output
    assert "2 clients: 2 ready, 0 with problems" in result.output
    assert SMTP_PASSWORD not in result.output
    assert not (configs / "clients.db").exists()  # check creates nothing
    assert "created at the first sync" in result.output

    as_json = CliRunner().invoke(cli, ["check", "--json", "--config-dir", str(configs)])
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    assert document["ok"] is True and document["config_errors"] == []
    by_client = {c["client"]: {item["name"]: item for item in c["checks"]} for c in document["clients"]}
    assert set(by_client["acme"]) == {
        "config", "secrets", "rules", "templates", "connect", "access", "capabilities", "email", "database",
        "address", "dkim",
    }
    assert by_client["acme"]["capabilities"]["data"]["invites_needed"] is False
    assert by_client["beta"]["capabilities"]["data"]["invite_mode"] == "not_needed"  # Ecwid keeps guests' accounts
    assert by_client["beta"]["access"]["data"]["missing"] == []
    assert all(item["status"] == "ok" for checks in by_client.values() for item in checks.values())


def test_missing_read_all_orders_says_what_to_do(env, shopify_no_all_orders, tmp_path: Path) -> None:
    server, shop = shopify_no_all_orders
    path = write(tmp_path, "acme", shopify_store(server, shop, "${WB_CHECK_SHOP2_TOKEN}"))

    result = CliRunner().invoke(cli, ["check", "--config", str(path)])
    assert result.exit_code == 1, result.output
    assert "FAIL access" in result.output and "missing read_all_orders" in result.output
    assert "fix: add the read_all_orders scope to the app: orders older than 60 days are invisible without it" in result.output
    assert "legacy customer accounts" in result.output
    assert "1 client: 0 ready, 1 with problems" in result.output

    document = json.loads(CliRunner().invoke(cli, ["check", "--json", "--config", str(path)]).stdout)
    access = next(item for item in document["clients"][0]["checks"] if item["name"] == "access")
    assert access["status"] == "fail" and access["data"]["missing"] == ["read_all_orders"]
    assert any("read_all_orders" in fix for fix in access["fixes"])


def test_wrong_token_names_the_store(env, shopify, ecwid, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WB_CHECK_SHOP_TOKEN", "shpat_wrong_token_0000")
    monkeypatch.setenv("WB_CHECK_ECWID_TOKEN", "secret_wrong_token_0000")
    configs = tmp_path / "clients"
    write(configs, "acme", shopify_store(*shopify))
    write(configs, "beta", ecwid_store(*ecwid))

    result = CliRunner().invoke(cli, ["check", "--config-dir", str(configs)])
    assert result.exit_code == 1, result.output
    shop_domain, store_id = shopify[1].shop_domain, ecwid[1].store_id
    assert "FAIL connect" in result.output
    assert f"the token for {shop_domain} was rejected" in result.output
    assert f"the token for Ecwid store {store_id} was rejected" in result.output
    assert "skip access" in result.output
    assert "shpat_wrong_token_0000" not in result.output and "secret_wrong_token_0000" not in result.output
    assert "2 clients: 0 ready, 2 with problems" in result.output


def test_wrong_smtp_password_fails_without_showing_it(env, shopify, smtp_server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WB_CHECK_SMTP_PASSWORD", WRONG_PASSWORD)
    path = write(tmp_path, "acme", shopify_store(*shopify) + smtp_email(*smtp_server))

    for args in (["check", "--config", str(path)], ["check", "--json", "--config", str(path)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        assert WRONG_PASSWORD not in result.output and SMTP_PASSWORD not in result.output
        assert "refused the login" in result.output and SMTP_USER in result.output
    plain = CliRunner().invoke(cli, ["check", "--config", str(path)]).output
    assert "FAIL email" in plain and "ok   connect" in plain


def test_unreachable_smtp_and_config_errors(env, shopify, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    configs = tmp_path / "clients"
    write(configs, "acme", shopify_store(*shopify) + smtp_email("127.0.0.1", closed_port))
    (configs / "broken.toml").write_text('[store]\nplatform = "shopify"\nshopp = "x"\n', encoding="utf-8")

    result = CliRunner().invoke(cli, ["check", "--config-dir", str(configs)])
    assert result.exit_code == 2, result.output
    assert "broken.toml" in result.output and "unknown key" in result.output
    assert "cannot connect" in result.output and "check smtp_host and smtp_port" in result.output

    single = CliRunner().invoke(cli, ["check", "--json", "--config", str(configs / "broken.toml")])
    assert single.exit_code == 2
    document = json.loads(single.stdout)
    assert document["ok"] is False and document["clients"] == []
    assert document["config_errors"][0]["key"] == "store.shopp"


@pytest.fixture(scope="module")
def starttls_server(tmp_path_factory) -> Iterator[tuple[str, int, Path]]:
    """An aiosmtpd server that requires STARTTLS before AUTH, with a self-signed loopback cert."""
    import shutil
    import ssl
    import subprocess

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == SMTP_PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        Sink(), hostname="127.0.0.1", port=port, authenticator=authenticator,
        tls_context=context, require_starttls=True, auth_require_tls=True,
    )
    controller.start()
    try:
        yield "127.0.0.1", port, cert
    finally:
        controller.stop()


def test_smtp_login_after_starttls(env, shopify, starttls_server, tmp_path: Path, monkeypatch) -> None:
    host, port, cert = starttls_server
    email = smtp_email(host, port).replace("smtp_starttls = false\n", "")
    path = write(tmp_path, "acme", shopify_store(*shopify) + email)

    untrusted = CliRunner().invoke(cli, ["check", "--config", str(path)])
    assert untrusted.exit_code == 1, untrusted.output
    assert "FAIL email" in untrusted.output and "TLS failed" in untrusted.output

    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    trusted = CliRunner().invoke(cli, ["check", "--config", str(path)])
    assert trusted.exit_code == 0, trusted.output
    assert f"smtp {host}:{port} (STARTTLS): logged in as {SMTP_USER}" in trusted.output
    assert SMTP_PASSWORD not in trusted.output
