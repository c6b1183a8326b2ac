"""``winback report`` end to end on SQLite and PostgreSQL: the same hand-computed store gives the
same figures on both, through the CLI, as JSON and as one HTML file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.report_fakes import STORE_KEY, day, order, record_action, seed
from tests.unit.test_report_metrics import ORDERS
from winback.cli.main import cli
from winback.sync import open_store


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(f"""[client]
name = "Tiny"

[store]
platform = "ecwid"
store_id = "{STORE_KEY.split(':')[1]}"
token = "${{TINY_TOKEN}}"

[database]
url = "{url}"

[rules.back_to_bestsellers]
after_days = 30
holdout = 0.1
""", encoding="utf-8")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tiny.db'}"
    return request.getfixturevalue("sync_postgres_url")


def test_report_cli_json_and_html(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINY_TOKEN", "secret_tiny")
    store = open_store(database_url)
    try:
        seed(store, [*ORDERS, order("s1-back", "s1@example.com", "2026-03-10", "40", discount_codes=("WB-S1",))])
        record_action(store, "s1@example.com", "2026-03-01", code="WB-S1")
        record_action(store, "h1@example.com", "2026-03-01", holdout=True)
    finally:
        store.close()
    html = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", "--config", str(_config(tmp_path, database_url)), "--from",
                                      "2026-01-01", "--to", "2026-07-01", "--json", "--html", str(html)])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    health = report["health"]
    # the tiny store's figures (tests/unit/test_report_metrics.py) plus s1's order of 40
    assert health["retention"]["S"] == 3 and health["retention"]["N"] == 2 and health["retention"]["E"] == 4
    assert health["retention"]["crr"] == pytest.approx(200 / 3)
    assert (health["buyers"], health["orders"]) == (4, 5)
    assert health["revenue"] == pytest.approx(235)
    [rule] = report["rules"]
    assert (rule["sent"], rule["held_out"], rule["codes_created"], rule["codes_redeemed"]) == (1, 1, 1, 1)
    assert rule["lift"]["verdict"].startswith("not enough data yet")
    assert report["reorder_intervals"]["hints"]  # after_days 30 against a 196-day median
    page = html.read_text(encoding="utf-8")
    assert "Tiny Shop" in page and "66.7 %" in page and "not enough data yet" in page
    assert "secret_tiny" not in page and "secret_tiny" not in result.output
