"""Rules are found through the ``winback.rules`` entry points; options errors name the key."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugin_dist import install_dist_info
from winback.errors import ConfigError, RuleError
from winback.rules import registry

PLUGIN = "winback_rules_test_plugin"
SOURCE = '''
from typing import ClassVar
from winback.rules.base import Rule, RuleOptions


class NudgeOptions(RuleOptions):
    after_days: int = 90


class Nudge(Rule):
    name: ClassVar[str] = "nudge"
    options_model = NudgeOptions

    def plan(self, context):
        return iter(())


class NotARule:
    pass
'''


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / f"{PLUGIN}.py").write_text(SOURCE)
    install_dist_info(monkeypatch, tmp_path, "winback_rules_test_plugin", {"winback.rules": {
        "nudge": f"{PLUGIN}:Nudge",
        "impostor": f"{PLUGIN}:NotARule",
        "vanished": "winback_rules_missing_module:Gone",
    }})
    registry.clear_cache()
    yield tmp_path
    registry.clear_cache()
    sys.modules.pop(PLUGIN, None)


def test_builtin_rules_are_registered() -> None:
    registry.clear_cache()
    assert {"back_to_bestsellers", "discount_codes", "auto_create_accounts"} <= set(registry.available_rules())


def test_a_third_party_rule_loads_with_validated_options(plugin: Path) -> None:
    rule = registry.load_rule("nudge", {"after_days": 30})
    assert type(rule).__name__ == "Nudge" and rule.options.after_days == 30
    assert registry.rules_from_config({"nudge": {"enabled": False}}) == []


def test_broken_entries_give_clear_errors(plugin: Path) -> None:
    with pytest.raises(RuleError, match="not a winback Rule subclass"):
        registry.load_rule_class("impostor")
    with pytest.raises(RuleError, match="could not be loaded"):
        registry.load_rule_class("vanished")
    with pytest.raises(RuleError, match=r"did you mean 'nudge'\?"):
        registry.load_rule_class("nudgee")


def test_option_errors_name_the_file_line_and_key(plugin: Path, tmp_path: Path) -> None:
    config = tmp_path / "acme.toml"
    config.write_text('[store]\nplatform = "shopify"\n\n[rules.nudge]\nafter_days = "soon"\nafterdays = 3\n')
    with pytest.raises(ConfigError) as caught:
        registry.load_rule("nudge", {"after_days": "soon"}, path=config)
    assert caught.value.key == "rules.nudge.after_days" and caught.value.line == 5
    assert str(caught.value).startswith(f"{config}:5: rules.nudge.after_days: ")
    with pytest.raises(ConfigError) as caught:
        registry.load_rule("nudge", {"afterdays": 3}, path=config)
    assert caught.value.key == "rules.nudge.afterdays" and "did you mean 'after_days'" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        registry.load_rule("nope", {}, path=config)
    assert caught.value.key == "rules.nope" and "no rule named 'nope'" in str(caught.value)


def test_a_rule_option_written_under_a_step_table_says_where_it_belongs(tmp_path) -> None:
    """TOML puts every key after ``[[rules.x.steps]]`` into that step: the error says to move it."""
    config = tmp_path / "acme.toml"
    config.write_text('[store]\nplatform = "shopify"\n\n[rules.back_to_bestsellers]\n'
                      '[[rules.back_to_bestsellers.steps]]\nafter_days = 180\nrecommend = "co_purchase"\n')
    with pytest.raises(ConfigError) as caught:
        registry.load_rule("back_to_bestsellers", {"steps": [{"after_days": 180, "recommend": "co_purchase"}]},
                           path=config)
    assert caught.value.key == "rules.back_to_bestsellers.steps.0.recommend" and caught.value.line == 5  # the step
    assert "'recommend' is an option of [rules.back_to_bestsellers]" in str(caught.value)
    assert "move it above the first [[rules.back_to_bestsellers.steps]]" in str(caught.value)
