"""A client's template that asks for too much: ``winback preview`` prints one error line and exits 1
without a traceback, and in a ``--config-dir`` run it fails that client alone. The Shopify emulator
over real sockets, real SQLite, the outbox sender, the CLI through CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.integration.test_rules_cli import RULE, _subscribed, _write_config, shopify, test_rule  # noqa: F401
from winback.cli.main import cli
from winback.emulator.generate import generate_world
from winback.emulator.shopify import start_shopify_emulator

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ('{{ "x" * 1000000000 }}', "error: email template 'evil.subject.txt' would build a value of over 1,000,000"),
        ("{% for i in range(100000000) %}{% endfor %}", "error: email template 'evil.subject.txt' asked for too much"),
        ('{% include "/etc/passwd" %}', "error: email template 'evil.subject.txt' uses '/etc/passwd', which is not in"),
    ],
    ids=["huge-string", "huge-range", "missing-include"],
)
def test_preview_of_a_template_that_asks_too_much_prints_one_line(
    shopify: tuple[Any, Any], tmp_path: Path, test_rule: None, subject: str, expected: str  # noqa: F811
) -> None:
    server, shop = shopify
    runner = CliRunner()
    config = _write_config(tmp_path / "clients", server, shop, "")
    assert runner.invoke(cli, ["sync", "--config", str(config)]).exit_code == 0
    [chosen] = _subscribed(tmp_path / "clients" / "clients.db", 1)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "evil.subject.txt").write_text(subject, encoding="utf-8")
    (templates / "evil.html").write_text("x", encoding="utf-8")
    (templates / "evil.txt").write_text("x", encoding="utf-8")
    config = _write_config(tmp_path / "clients", server, shop, f'\n[rules.{RULE}]\ntemplate = "evil"\nonly = {json.dumps([chosen])}\n')
    config.write_text(
        config.read_text(encoding="utf-8").replace("[email]\n", f"[email]\ntemplates_dir = {json.dumps(str(templates))}\n"),
        encoding="utf-8",
    )
    config.chmod(0o600)

    shown = runner.invoke(cli, ["preview", RULE, "--config", str(config), "--customer", chosen])

    assert shown.exit_code == 1, shown.output
    assert isinstance(shown.exception, SystemExit)
    assert shown.stdout == "" and "Traceback" not in shown.output
    assert shown.stderr.startswith(expected) and shown.stderr.count("\n") == 1, shown.stderr


def test_in_a_config_dir_run_one_clients_looping_template_fails_that_client_alone(
    shopify: tuple[Any, Any], tmp_path: Path, test_rule: None, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    from winback.notify import limits

    monkeypatch.setattr(limits, "RENDER_SECONDS", 0.5)
    server, shop = shopify
    other_server, other_shop = start_shopify_emulator(generate_world(2032, customers=20), restore_rate=1000, bucket_size=20000)
    try:
        runner = CliRunner()
        clients = tmp_path / "clients"
        acme = _write_config(clients, server, shop, "")
        beta = _write_config(tmp_path / "beta", other_server, other_shop, "").rename(clients / "beta.toml")
        beta.write_text(
            beta.read_text(encoding="utf-8").replace("Acme Apparel", "Beta Goods").replace('"clients.db"', '"beta.db"'),
            encoding="utf-8",
        )
        for config in (acme, beta):
            config.chmod(0o600)
            assert runner.invoke(cli, ["sync", "--config", str(config)]).exit_code == 0
        [acme_buyer] = _subscribed(clients / "clients.db", 1)
        [beta_buyer] = _subscribed(clients / "beta.db", 1)
        templates = tmp_path / "templates"
        templates.mkdir()
        (templates / "evil.subject.txt").write_text("Hi", encoding="utf-8")
        (templates / "evil.html").write_text("x", encoding="utf-8")
        (templates / "evil.txt").write_text(
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", encoding="utf-8"
        )
        acme.write_text(
            acme.read_text(encoding="utf-8").replace("[email]\n", f"[email]\ntemplates_dir = {json.dumps(str(templates))}\n")
            + f'\n[rules.{RULE}]\ntemplate = "evil"\nonly = {json.dumps([acme_buyer])}\n',
            encoding="utf-8",
        )
        beta.write_text(beta.read_text(encoding="utf-8") + f"\n[rules.{RULE}]\nonly = {json.dumps([beta_buyer])}\n", encoding="utf-8")

        ran = runner.invoke(cli, ["run", "--config-dir", str(clients), "--no-sync"])

        assert ran.exit_code == 1, ran.output
        assert "Traceback" not in ran.output
        assert "email template 'evil.txt' took longer than 0.5 s to render" in ran.output
        [sent] = list((clients / "outbox").glob("*.eml"))
        assert f"<{beta_buyer}>" in sent.read_text(encoding="utf-8").split("\n\n", 1)[0]
    finally:
        other_server.stop()
