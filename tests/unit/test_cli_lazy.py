"""``winback --help`` and tab completion list the commands without importing them (no SQLAlchemy,
config models or connectors for a cron line's start-up), and list them exactly as click lists the
loaded commands; running a command or asking for its help imports its module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import click
import pytest
from click.testing import CliRunner

from winback.cli.main import COMMANDS, cli

HEAVY = ("sqlalchemy", "winback.config", "winback.sync", "winback.connectors", "winback.rules")


def _python(code: str, *, env: dict[str, str] | None = None) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter (nothing imported yet); it prints one JSON object."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _heavy(modules: list[str]) -> list[str]:
    """The modules a listing should not have imported: the commands' and the layers below them."""
    listing = ("winback.cli.main", "winback.cli.lazy")
    return sorted(m for m in modules if m.startswith(HEAVY) or (m.startswith("winback.cli.") and m not in listing))


def test_help_imports_no_command_and_no_sqlalchemy() -> None:
    seen = _python("""
        import json, sys
        from click.testing import CliRunner
        from winback.cli.main import cli
        out = CliRunner().invoke(cli, ["--help"], prog_name="winback").output
        print(json.dumps({"out": out, "modules": sorted(sys.modules)}))
    """)
    assert _heavy(seen["modules"]) == []  # type: ignore[arg-type]
    assert "sync      Sync clients' stores into their local databases." in seen["out"]  # type: ignore[operator]


def test_listing_and_completion_match_click_on_the_loaded_commands() -> None:
    """The stand-ins' listing against :class:`click.Group`'s own, which imports every command."""
    seen = _python("""
        import json, sys
        import click
        from winback.cli.main import cli

        def listing(fmt):
            ctx = click.Context(cli, info_name="winback")
            formatter = ctx.make_formatter()
            fmt(ctx, formatter)
            return formatter.getvalue()

        def completion(complete, prefix):
            ctx = click.Context(cli, info_name="winback", resilient_parsing=True)
            return [[item.value, item.help] for item in complete(ctx, prefix)]

        prefixes = ["", "s", "re", "w", "--"]
        lazy = {"listing": listing(cli.format_commands),
                "completion": [completion(cli.shell_complete, p) for p in prefixes]}
        before = sorted(m for m in sys.modules if m.startswith("sqlalchemy"))
        loaded = {"listing": listing(lambda ctx, f: click.Group.format_commands(cli, ctx, f)),
                  "completion": [completion(lambda ctx, p: click.Group.shell_complete(cli, ctx, p), p)
                                 for p in prefixes]}
        print(json.dumps({"lazy": lazy, "loaded": loaded, "sqlalchemy_before": before,
                          "sqlalchemy_after": any(m.startswith("sqlalchemy") for m in sys.modules)}))
    """)
    assert seen["sqlalchemy_before"] == []
    assert seen["sqlalchemy_after"]  # click's own listing did import the commands
    assert seen["lazy"] == seen["loaded"]


def test_shell_completion_imports_no_command() -> None:
    seen = _python("""
        import json, sys
        from winback.cli.main import cli
        try:
            cli(prog_name="winback")
        except SystemExit:
            pass
        print(json.dumps({"modules": sorted(sys.modules)}))
    """, env={"_WINBACK_COMPLETE": "zsh_complete", "COMP_WORDS": "winback s", "COMP_CWORD": "1"})
    assert _heavy(seen["modules"]) == []  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_summary_is_its_commands_help(name: str) -> None:
    """Shortened to any width, the stand-in says what the command itself says."""
    entry = COMMANDS[name]
    command = entry.load()
    stand_in = entry.stand_in(name)
    assert not command.hidden and not command.deprecated and not command.short_help
    for limit in range(1, 200):
        assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), limit


def test_command_help_imports_only_that_command() -> None:
    seen = _python("""
        import json, sys
        from click.testing import CliRunner
        from winback.cli.main import cli
        out = CliRunner().invoke(cli, ["sync", "--help"], prog_name="winback").output
        print(json.dumps({"out": out, "modules": sorted(sys.modules)}))
    """)
    assert "Usage: winback sync [OPTIONS]" in seen["out"]  # type: ignore[operator]
    commands = {m for m in seen["modules"] if m.startswith("winback.cli.")}  # type: ignore[union-attr]
    assert commands == {"winback.cli.main", "winback.cli.lazy", "winback.cli._common", "winback.cli.sync"}


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["nosuch"], prog_name="winback")
    assert result.exit_code == 2 and "No such command 'nosuch'." in result.output


def test_lazy_command_runs_and_is_loaded_once() -> None:
    result = CliRunner().invoke(cli, ["schedule", "--help"], prog_name="winback")
    assert result.exit_code == 0 and "Usage: winback schedule" in result.output
    ctx = click.Context(cli, info_name="winback")
    assert cli.get_command(ctx, "schedule") is cli.get_command(ctx, "schedule") is COMMANDS["schedule"].load()
