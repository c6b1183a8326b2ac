"""A click group that imports a command's module only when that command is run or its help shown.

Why
    Importing every command's module up front pulled in the config models, SQLAlchemy, the
    connectors and the rules (about a second) before ``winback --help``, a cron line or a shell's
    tab completion could do anything. The group here holds, for each lazy command, where it lives
    and the first paragraph of its help: ``winback --help`` and completion list the commands from
    that alone, and ``winback <command> ...`` (its ``--help`` included) imports the one module.

What the caller may rely on
    - The listing is what click prints for the loaded commands: each summary goes through a
      stand-in :class:`click.Command` with that help, so click shortens it as it shortens the
      command's own. ``tests/unit/test_cli_lazy.py`` fails when a summary no longer matches its
      command's help.
    - Commands added the ordinary way (``@group.command()``, ``add_command``) are listed and
      found as in any :class:`click.Group`, before the lazy ones of the same name.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import click
from click.shell_completion import CompletionItem


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """Where a command lives (``"package.module:attribute"``) and the first paragraph of its help."""

    target: str
    summary: str

    def load(self) -> click.Command:
        module, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command

    def stand_in(self, name: str) -> click.Command:
        """A command that is never run, only listed: click shortens its help like the real one's."""
        return click.Command(name, help=self.summary)


class LazyGroup(click.Group):
    """A :class:`click.Group` whose ``lazy`` commands are imported on first use (see the module)."""

    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, LazyCommand] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self.lazy:
            command = self.lazy[cmd_name].load()
            self.add_command(command, cmd_name)
        return command

    def listed(self, ctx: click.Context, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
        """The visible commands whose names start with ``prefix``: loaded ones as they are, the
        others as their stand-ins (nothing is imported)."""
        for name in self.list_commands(ctx):
            if not name.startswith(prefix):
                continue
            command = self.commands.get(name) or self.lazy[name].stand_in(name)
            if not command.hidden:
                yield name, command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As :meth:`click.Group.format_commands`, from :meth:`listed`."""
        commands = list(self.listed(ctx))
        if not commands:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in commands)
        rows = [(name, command.get_short_help_str(limit)) for name, command in commands]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """As :meth:`click.Group.shell_complete`, from :meth:`listed`."""
        results = [CompletionItem(name, help=command.get_short_help_str()) for name, command in self.listed(ctx, incomplete)]
        results.extend(click.Command.shell_complete(self, ctx, incomplete))
        return results
