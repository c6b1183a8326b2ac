"""Find rules through the ``winback.rules`` entry-point group and build them from config.

The built-in rules are registered in ``pyproject.toml`` exactly as a third-party package would
register its own, so a plugin's rule is configured, validated and run like the built-ins.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from winback.errors import ConfigError, RuleError
from winback.plugins import PluginGroup
from winback.rules.base import Rule

GROUP = "winback.rules"


_rules: PluginGroup[Rule] = PluginGroup(GROUP, Rule)


def available_rules() -> list[str]:
    return _rules.names()


def load_rule_class(name: str) -> type[Rule]:
    """The rule class registered as ``name``; :class:`RuleError` if none is installed or it is broken."""

    def missing(wanted: str, installed: list[str]) -> Exception:
        close = difflib.get_close_matches(wanted, installed, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return RuleError(
            f"no rule named {wanted!r} is installed{hint} (installed: {', '.join(installed) or 'none'}); "
            f"a package adds its own under the {GROUP!r} entry-point group"
        )

    def broken(found: EntryPoint, exc: Exception) -> Exception:
        return RuleError(
            f"the rule {name!r} is registered as {found.value!r} but could not be loaded "
            f"({type(exc).__name__}: {exc}); reinstall the package that provides it"
        )

    def wrong_type(found: EntryPoint) -> Exception:
        return RuleError(f"entry point {found.value!r} for rule {name!r} is not a winback Rule subclass")

    return _rules.load(name, missing=missing, broken=broken, wrong_type=wrong_type)


def load_rule(name: str, options: Mapping[str, Any] | None = None, *, path: Path | str | None = None) -> Rule:
    """Build the rule ``name`` with ``options`` (its ``[rules.<name>]`` table) validated.

    Every problem becomes one :class:`ConfigError` naming ``rules.<name>.<key>`` and, given
    ``path``, the config file and line.
    """
    where = None if path is None else str(path)
    try:
        cls = load_rule_class(name)
    except RuleError as exc:
        raise _config_error(str(exc), where, (name,)) from None
    try:
        validated = cls.options_model.model_validate(dict(options or {}))
    except ValidationError as exc:
        problem = exc.errors(include_url=False)[0]
        loc = tuple(str(part) for part in problem["loc"])
        if problem["type"] == "extra_forbidden" and len(loc) > 1 and loc[-1] in cls.options_model.model_fields:
            table = ".".join(part for part in loc[:-1] if not part.isdigit())
            message = (f"{loc[-1]!r} is an option of [rules.{name}], not of its {table!r} tables: move it above "
                       f"the first [[rules.{name}.{table}]] (in TOML every key after a table header belongs to "
                       f"that table)")
        elif problem["type"] == "extra_forbidden":
            allowed = list(cls.options_model.model_fields)
            close = difflib.get_close_matches(loc[-1], allowed, n=1, cutoff=0.6) if loc else []
            hint = f" (did you mean {close[0]!r}?)" if close and close[0] != loc[-1] else ""
            message = f"unknown option{hint} for rule {name!r}; expected one of: {', '.join(allowed)}"
        elif problem["type"] == "missing":
            message = f"required option is missing for rule {name!r}"
        else:
            message = str(problem["msg"]).removeprefix("Value error, ")
            shown = problem.get("input")
            if isinstance(shown, (str, int, float, bool)) and repr(shown) not in message:
                message += f" (got {shown!r})"
        more = len(exc.errors()) - 1
        if more:
            message += f"; {more} more problem{'s' if more > 1 else ''} in [rules.{name}]"
        raise _config_error(message, where, (name, *loc)) from None
    return cls(validated)


def rules_from_config(rules: Mapping[str, Mapping[str, Any]], *, path: Path | str | None = None) -> list[Rule]:
    """The enabled rules of a client's ``[rules.*]`` tables, in file order. Rules are opt-in."""
    built = [load_rule(name, options, path=path) for name, options in rules.items()]
    return [rule for rule in built if rule.options.enabled]


def _config_error(message: str, path: str | None, key: tuple[str, ...]) -> ConfigError:
    parts = ("rules", *key)
    line = None
    if path is not None:
        try:
            from winback.config._locate import line_of

            line = line_of(Path(path).read_text(encoding="utf-8"), parts)
        except (OSError, UnicodeDecodeError):
            line = None
    return ConfigError(message, path=path, line=line, key=".".join(parts))


def clear_cache() -> None:
    """Forget discovered entry points (tests that install a plugin at run time call this)."""
    _rules.clear_cache()
