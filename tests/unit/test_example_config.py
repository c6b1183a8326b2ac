"""The commented example config in examples/ must stay loadable: the README points users at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from winback.config import load_config
from winback.rules.engine import client_rules, limits_of

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "client.toml"


def test_example_config_loads_with_every_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_SHOPIFY_TOKEN", "shpat_example_token_value")
    config = load_config(EXAMPLE)
    assert config.platform == "shopify"
    assert [rule.name for rule in client_rules(config)] == [
        "back_to_bestsellers",
        "auto_create_accounts",
        "discount_codes",
    ]
    assert limits_of(config).max_actions_per_run == 500
    assert "shpat_example_token_value" not in str(config.redacted())
