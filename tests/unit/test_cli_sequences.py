"""``winback plan`` and ``winback preview --step`` for a rule with steps, on a local store (no
platform contacted)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.unit.test_rules_builtin_support import Shop
from winback.cli.main import cli
from winback.sync import open_store

CONFIG = """\
[store]
platform = "ecwid"
store_id = "1"
token = "${{WB_SEQ_TOKEN}}"

[database]
url = "sqlite:///{database}"

[email]
from_address = "Shop <hello@shop.example>"

[rules.back_to_bestsellers]
max_age_days = 100000
lookback_days = 100000

[[rules.back_to_bestsellers.steps]]
after_days = 180

[[rules.back_to_bestsellers.steps]]
after_days = 14
discount = {{kind = "percentage", value = 10}}
"""


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WB_SEQ_TOKEN", "secret_sequence_token_value")
    database = tmp_path / "client.db"
    store = open_store(str(database))
    shop = Shop(store)
    shop.put(shop.product("p1"), shop.customer("ann"), shop.order("o-ann", 200, customer_id="ann",
                                                                    email="ann@example.com"))
    store.close()
    path = tmp_path / "shop.toml"
    path.write_text(textwrap.dedent(CONFIG.format(database=database)), encoding="utf-8")
    return path


def test_plan_shows_the_step_and_why(client: Path) -> None:
    shown = CliRunner().invoke(cli, ["plan", "--config", str(client), "--no-connect", "--json"])
    assert shown.exit_code == 0, shown.output
    [action] = json.loads(shown.stdout)[0]["actions"]
    assert (action["step"], action["timing"]) == (1, "after_days")
    assert action["reason"].startswith("step 1 of 2: last order ")


def test_preview_renders_any_step(client: Path, tmp_path: Path) -> None:
    page = tmp_path / "step2.html"
    shown = CliRunner().invoke(cli, ["preview", "back_to_bestsellers", "--config", str(client),
                                     "--customer", "ann@example.com", "--step", "2", "--output", str(page)])
    assert shown.exit_code == 0, shown.output
    html = page.read_text(encoding="utf-8")
    assert "personal code" in html and "BACK-" in html
    assert "reason: step 2 of 2" in shown.stderr

    first = CliRunner().invoke(cli, ["preview", "back_to_bestsellers", "--config", str(client),
                                     "--customer", "ann@example.com", "--step", "1"])
    assert first.exit_code == 0 and "BACK-" not in first.stdout

    missing = CliRunner().invoke(cli, ["preview", "back_to_bestsellers", "--config", str(client),
                                       "--customer", "ann@example.com", "--step", "3"])
    assert missing.exit_code == 1 and "step 3 does not exist" in missing.stderr
