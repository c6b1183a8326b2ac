"""Shared pieces of the commands: choosing configs, deciding between rich and plain output."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from winback.config import ClientConfig, load_config, load_config_dir
from winback.display import printable
from winback.errors import ConfigError
from winback.rules.engine import client_rules

F = TypeVar("F", bound=Callable[..., Any])


def config_options(command: F) -> F:
    """``--config FILE`` / ``--config-dir DIR``; the command takes ``config`` and ``config_dir``."""
    command = click.option(
        "--config-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Directory of client configs: every *.toml except *.secrets.toml.",
    )(command)
    command = click.option(
        "--config", type=click.Path(dir_okay=False, path_type=Path), help="One client's TOML config file."
    )(command)
    return command


def load_client(path: Path) -> ClientConfig:
    """One client's config, its rules validated too: a bad rule option is a config error
    (exit 2) for every command, not only for the ones that run rules."""
    config = load_config(path)
    client_rules(config)
    return config


def load_configs(
    config: Path | None, config_dir: Path | None, *, single_raises: bool = True, echo: bool = True
) -> tuple[list[ClientConfig], list[ConfigError]]:
    """The valid configs and the errors of invalid ones (rules validated as :func:`load_client`).

    A single ``--config`` raises its error (``single_raises``); in a ``--config-dir`` each bad
    file is one :class:`ConfigError`, printed to stderr unless ``echo`` is false, and the valid
    clients go on.
    """
    if (config is None) == (config_dir is None):
        raise click.UsageError("give exactly one of --config FILE or --config-dir DIR")
    results: list[ClientConfig | ConfigError]
    if config is not None:
        try:
            results = [load_client(config)]
        except ConfigError as exc:
            if single_raises:
                raise
            results = [exc]
    else:
        assert config_dir is not None
        results = list(load_config_dir(config_dir))
        if not results:
            raise ConfigError("holds no client configs (*.toml)", path=str(config_dir))
    configs: list[ClientConfig] = []
    problems: list[ConfigError] = []
    for result in results:
        if isinstance(result, ClientConfig):
            try:
                client_rules(result)
            except ConfigError as exc:
                result = exc
        if isinstance(result, ConfigError):
            problems.append(result)
        else:
            configs.append(result)
    if echo:
        for problem in problems:
            click.secho(f"error: {printable(problem)}", fg="red", err=True)
    return configs, problems


def say(text: object = "", **style: Any) -> None:
    """Print one line of output whose parts may come from stores or servers (see :mod:`winback.display`)."""
    line = printable(text)
    click.echo(click.style(line, **style) if style else line)


def cell(text: object) -> str:
    """A rich table cell holding other people's text: printable, and no rich markup in it."""
    from rich.markup import escape

    return escape(printable(text))


def totals(count: int, noun: str, parts: dict[str, int], *, config_errors: int = 0) -> str:
    """``4 clients: 2 synced, 1 failed, 1 config error``: every part, config errors when any."""
    shown = [f"{n} {word}" for word, n in parts.items()]
    if config_errors:
        shown.append(f"{config_errors} config error{'s' if config_errors != 1 else ''}")
    return f"{count} {noun}{'' if count == 1 else 's'}: " + ", ".join(shown)


def _root_params(ctx: click.Context) -> dict[str, Any]:
    return ctx.find_root().params


def rich_stderr(ctx: click.Context) -> bool:
    """Progress bars only on an interactive terminal and without ``--quiet`` / ``--json-log``."""
    params = _root_params(ctx)
    return sys.stderr.isatty() and not params.get("quiet") and not params.get("json_log")


def rich_stdout() -> bool:
    return sys.stdout.isatty()


@contextmanager
def logs_through(stream: Any) -> Iterator[None]:
    """Point the root logger's stderr handlers at ``stream`` (rich's live display) for a while."""
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.__stderr__, sys.stderr):
            swapped.append((handler, handler.stream))
    try:
        for handler, _ in swapped:
            handler.setStream(stream)
        yield
    finally:
        for handler, old in swapped:
            handler.setStream(old)
