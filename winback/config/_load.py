"""Read, expand and validate client config files; every problem becomes one ConfigError."""

from __future__ import annotations

import difflib
import logging
import os
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from winback.config._locate import key_at, line_of
from winback.config._client import ClientConfig, ConfigWarning, StoreConfig, ValueSource
from winback.config._masking import URL_PASSWORD, is_secret_key, secret_values
from winback.config._sections import FileModel
from winback.config._warnings import ENV_REF, readable_literal_secrets, readable_secrets_file
from winback.connectors.registry import available_platforms, load_connector_class
from winback.errors import ConfigError, ConnectorNotFoundError, SettingValueError
from winback.secrets import register_secret

log = logging.getLogger(__name__)

SECRETS_SUFFIX = ".secrets.toml"
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END = re.compile(r"\s*\(at end of document\)\s*$")


@dataclass
class _Source:
    """The config file and, for keys merged from it, the secrets file: where each key was written."""

    path: Path
    text: str
    secrets_path: Path | None = None
    secrets_text: str = ""
    from_secrets: set[str] = field(default_factory=set)
    warnings: list[ConfigWarning] = field(default_factory=list)
    env_refs: dict[tuple[str | int, ...], tuple[str, ...]] = field(default_factory=dict)
    """The variables each expanded value referred to, by its key in this file."""
    secrets_env_refs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """The same for the secrets file's keys."""

    def value_sources(self) -> dict[str, ValueSource]:
        """Every value not written out in the config file: expanded from ``${NAME}`` or merged from the secrets file."""
        sources = {
            ".".join(map(str, key)): ValueSource(path=str(self.path), key=".".join(map(str, key)), env=names)
            for key, names in self.env_refs.items()
        }
        for name in self.from_secrets:
            sources[f"store.{name}"] = ValueSource(
                path=str(self.secrets_path), key=name, env=self.secrets_env_refs.get(name, ())
            )
        return sources

    def error(self, message: str, key: Sequence[str | int]) -> ConfigError:
        parts = [str(part) for part in key]
        dotted = ".".join(parts) or None
        if len(parts) >= 2 and parts[0] == "store" and parts[1] in self.from_secrets and self.secrets_path:
            return ConfigError(
                message, path=str(self.secrets_path), line=line_of(self.secrets_text, parts[1:]), key=dotted
            )
        return ConfigError(message, path=str(self.path), line=line_of(self.text, parts) if parts else None, key=dotted)


def load_config(path: str | os.PathLike[str], *, missing_secrets_ok: bool = False) -> ClientConfig:
    """Read and validate one client config file.

    Raises exactly one :class:`~winback.errors.ConfigError` naming the file, the line and the
    key, whatever is wrong. Secrets found in the file are registered for redaction. Secrets other
    users can read (a readable secrets file, secrets written out in a readable config file) do
    not stop loading: they are logged and listed in :attr:`ClientConfig.warnings`.
    ``missing_secrets_ok`` reads an absent secrets file as empty (``winback connect`` creates it).
    """
    path = Path(path)
    text = _read(path)
    data = _parse(text, path)
    source = _Source(path=path, text=text)
    _register_raw_secrets(data)
    raw = data
    data = _expand(data, (), source)

    secrets_file = data.get("secrets_file")
    if isinstance(secrets_file, str) and isinstance(data.get("store"), dict):
        if not (missing_secrets_ok and not (path.parent / secrets_file).exists()):
            data["store"] = _merge_secrets(data["store"], path.parent / secrets_file, source)

    try:
        file = FileModel.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, source, (), _allowed_in_file) from None

    settings_data = dict(file.store)
    platform = settings_data.pop("platform", None)
    if platform is None:
        raise source.error(
            f"required key is missing: set platform = one of {', '.join(map(repr, available_platforms()))}",
            ("store", "platform"),
        )
    if not isinstance(platform, str):
        raise source.error(f"must be a string naming a platform, not {type(platform).__name__}", ("store", "platform"))
    settings_model = _settings_model(platform, source)
    try:
        settings = settings_model.model_validate(settings_data)
    except ValidationError as exc:
        raise _first_error(
            exc, source, ("store",), lambda loc: ["platform", *_allowed_in(settings_model, loc)]
        ) from None

    config = ClientConfig(
        name=file.client.name or path.stem,
        path=path,
        store=StoreConfig(platform=platform, settings=settings),
        database=_database_relative_to(file.database, path.parent),
        sync=file.sync,
        email=_email_relative_to(file.email, path.parent),
        rules=file.rules,
        schedule=file.schedule,
        limits=file.limits,
        workers=file.workers,
        sources=source.value_sources(),
    )
    for secret in secret_values(settings) + secret_values(config.email):
        register_secret(secret)
    for url in (config.database.url, config.workers.broker):
        for match in URL_PASSWORD.finditer(url or ""):
            register_secret(match.group(2))
    literal = readable_literal_secrets(path, text, raw, config)
    if literal:
        log.warning("%s", literal)
        source.warnings.insert(0, literal)
    return config.model_copy(update={"warnings": tuple(source.warnings)}) if source.warnings else config


def load_config_dir(directory: str | os.PathLike[str]) -> list[ClientConfig | ConfigError]:
    """Every ``*.toml`` in ``directory`` except ``*.secrets.toml``, sorted by file name.

    An invalid file yields its :class:`ConfigError` in place and does not stop the others.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError("is not a directory: give the directory holding the clients' *.toml files", path=str(directory))
    results: list[ClientConfig | ConfigError] = []
    for path in sorted(directory.glob("*.toml")):
        if path.name.endswith(SECRETS_SUFFIX) or not path.is_file():
            continue
        try:
            results.append(load_config(path))
        except ConfigError as exc:
            results.append(exc)
    return results


# --- reading -----------------------------------------------------------------------------------


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such file: check the path", path=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a directory: give a *.toml file (or use --config-dir)", path=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"is not UTF-8 text ({exc.reason} at byte {exc.start})", path=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot be read: {exc.strerror}", path=str(path)) from None


def _parse(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        if position:
            line, column = int(position.group(1)), int(position.group(2))
            reason = message[: position.start()]
            raise ConfigError(
                f"invalid TOML at column {column}: {reason} (see https://toml.io for the syntax)",
                path=str(path), line=line, key=key_at(text, line),
            ) from None
        reason = _TOML_END.sub("", message)
        line = max(1, len(text.splitlines()))
        raise ConfigError(f"invalid TOML at the end of the file: {reason}", path=str(path), line=line) from None


def _register_raw_secrets(data: Any, key: str = "") -> None:
    """Register secret-looking values before validation, so no error message can show them."""
    if isinstance(data, dict):
        for name, value in data.items():
            _register_raw_secrets(value, str(name))
    elif isinstance(data, list):
        for item in data:
            _register_raw_secrets(item, key)
    elif isinstance(data, str) and key and is_secret_key(key) and not ENV_REF.fullmatch(data):
        register_secret(data)


def _expand(value: Any, key: tuple[str | int, ...], source: _Source) -> Any:
    """Replace ``${NAME}`` in every string with the environment variable's value."""
    if isinstance(value, dict):
        return {name: _expand(item, (*key, name), source) for name, item in value.items()}
    if isinstance(value, list):
        return [_expand(item, (*key, index), source) for index, item in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        found = os.environ.get(name)
        if not found:
            state = "is not set" if found is None else "is empty"
            raise source.error(
                f"environment variable {name} {state}: export {name}=... before running winback, "
                "or move the value into the secrets file",
                key,
            )
        if key and is_secret_key(str(key[-1])):
            register_secret(found)
        return found

    expanded = ENV_REF.sub(substitute, value)
    names = tuple(dict.fromkeys(ENV_REF.findall(value)))
    if names:
        source.env_refs[key] = names
    return expanded


def _merge_secrets(store: dict[str, Any], secrets_path: Path, source: _Source) -> dict[str, Any]:
    text = _read_secrets(secrets_path, source)
    data = _parse(text, secrets_path)
    source.secrets_path, source.secrets_text = secrets_path, text
    merged = dict(store)
    for name, value in data.items():
        if isinstance(value, dict):
            raise ConfigError(
                "must hold plain key = value pairs for [store], not tables",
                path=str(secrets_path), line=line_of(text, (name,)), key=name,
            )
        if isinstance(value, str):
            register_secret(value)
        if name in merged:
            raise ConfigError(
                f"is set both here and in [store] of {source.path}: keep it in one place",
                path=str(secrets_path), line=line_of(text, (name,)), key=f"store.{name}",
            )
        merged[name] = value
        source.from_secrets.add(name)
    secrets_source = _Source(path=secrets_path, text=text)
    expanded = {name: (_expand(value, (name,), secrets_source) if name in data else value) for name, value in merged.items()}
    source.secrets_env_refs = {str(key[0]): names for key, names in secrets_source.env_refs.items() if key}
    return expanded


def _read_secrets(secrets_path: Path, source: _Source) -> str:
    if not secrets_path.is_file():
        raise source.error(f"the secrets file {str(secrets_path)!r} does not exist (paths are relative to this file)", ("secrets_file",))
    warning = readable_secrets_file(secrets_path)
    if warning:
        log.warning("%s", warning)
        source.warnings.append(warning)
    return _read(secrets_path)


# --- platform ----------------------------------------------------------------------------------


def _settings_model(platform: str, source: _Source) -> type[BaseModel]:
    installed = available_platforms()
    if platform not in installed:
        hint = _did_you_mean(platform, installed)
        raise source.error(
            f"unknown platform {platform!r}{hint}: installed platforms are {', '.join(installed) or 'none'} "
            "(a plugin adds its own through the 'winback.connectors' entry points)",
            ("store", "platform"),
        )
    try:
        return load_connector_class(platform).settings_model
    except ConnectorNotFoundError as exc:
        raise source.error(str(exc), ("store", "platform")) from None


# --- validation errors -------------------------------------------------------------------------


def _allowed_in(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Field names of the model found at ``loc`` inside ``model`` (empty if it is not a model)."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return []
        current = _model_of(fields[part].annotation)
    return list(getattr(current, "model_fields", {}))


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _allowed_in_file(loc: Sequence[str | int]) -> list[str]:
    return _allowed_in(FileModel, loc)


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _first_error(
    exc: ValidationError,
    source: _Source,
    prefix: tuple[str, ...],
    allowed: Callable[[Sequence[str | int]], list[str]],
) -> ConfigError:
    problems = sorted(exc.errors(include_url=False), key=lambda p: _error_order(p, source, prefix))
    problem = problems[0]
    loc = tuple(problem["loc"])
    blamed = (problem.get("ctx") or {}).get("error")
    if isinstance(blamed, SettingValueError):
        loc = (*loc, blamed.key)
    key = (*prefix, *loc)
    last = str(loc[-1]) if loc else ""
    kind = problem["type"]
    if kind == "extra_forbidden":
        choices = [name for name in allowed(loc[:-1]) if name != "secrets_file" or not prefix]
        message = f"unknown key{_did_you_mean(last, choices)}; expected one of: {', '.join(choices)}"
    elif kind == "missing":
        table = ".".join(str(part) for part in key[:-1])
        where = f"under [{table}]" if table else "at the top of the file"
        message = f"required key is missing: add {last} = ... {where}"
    else:
        message = str(problem["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        shown = problem.get("input")
        secret = any(is_secret_key(str(part)) for part in key)
        if not secret and isinstance(shown, (str, int, float, bool)) and repr(shown) not in message:
            message += f" (got {shown!r})"
    if len(problems) > 1:
        more = len(problems) - 1
        message += f"; {more} more problem{'s' if more > 1 else ''} in this file after this one"
    return source.error(message, key)


def _error_order(problem: Any, source: _Source, prefix: tuple[str, ...]) -> tuple[int, int]:
    """Unknown keys first (often the cause of a "missing" one), then in file order."""
    rank = 0 if problem["type"] == "extra_forbidden" else 2 if problem["type"] == "missing" else 1
    line = line_of(source.text, (*prefix, *problem["loc"])) or 1 << 30
    return rank, line


def _database_relative_to(database: Any, base: Path) -> Any:
    url = database.url
    if url and "://" not in url and not Path(url).expanduser().is_absolute():
        return database.model_copy(update={"url": str((base / url).resolve())})
    return database


def _email_relative_to(email: Any, base: Path) -> Any:
    if email is None:
        return email
    update = {
        name: (base / value).resolve()
        for name in ("outbox_dir", "templates_dir")
        if (value := getattr(email, name)) is not None and not value.expanduser().is_absolute()
    }
    return email.model_copy(update=update) if update else email
