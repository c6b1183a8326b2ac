"""Find secrets that other users of the machine can read, as :class:`ConfigWarning` objects.

Nothing found here ever holds a secret: a warning names files, lines, keys and file modes only.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from winback.config._locate import line_of
from winback.config._client import ClientConfig, ConfigWarning, ConfigWarningKind
from winback.config._masking import URL_PASSWORD, is_secret_key

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _mode_if_readable(path: Path) -> int | None:
    """The permission bits of ``path`` if group or others may read it, else ``None``."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    return stat.S_IMODE(mode) if mode & (stat.S_IRGRP | stat.S_IROTH) else None


def readable_secrets_file(path: Path) -> ConfigWarning | None:
    mode = _mode_if_readable(path)
    if mode is None:
        return None
    return ConfigWarning(
        kind=ConfigWarningKind.SECRETS_FILE_READABLE,
        path=str(path),
        message=f"readable by other users (mode {mode:04o})",
        fixes=(f"run chmod 600 {path}",),
    )


def readable_literal_secrets(path: Path, text: str, data: Mapping[str, Any], config: ClientConfig) -> ConfigWarning | None:
    """A warning if ``path`` (parsed as ``data``, before ``${NAME}`` expansion) holds secrets
    written out and group or others may read it.

    A value is a secret under the same rules as logging redaction (a secret-looking key, or a
    ``SecretStr`` field of the validated model), plus the password of any URL; it is literal
    when it uses no ``${NAME}``.
    """
    mode = _mode_if_readable(path)
    if mode is None:
        return None
    keys = [key for key in _literal_secret_keys(data, (), config) if key]
    if not keys:
        return None
    lines = {key: line_of(text, key) or 1 << 30 for key in keys}
    keys.sort(key=lambda key: lines[key])
    dotted = tuple(".".join(str(part) for part in key) for key in keys)
    held = ", ".join(dotted)
    return ConfigWarning(
        kind=ConfigWarningKind.LITERAL_SECRET_READABLE,
        path=str(path),
        line=line_of(text, keys[0]),
        keys=dotted,
        message=f"holds {held} as plain text and is readable by other users (mode {mode:04o})",
        fixes=(
            f"run chmod 600 {path}",
            "replace each value with ${NAME} and export NAME (keys of [store] may also go into a secrets_file)",
        ),
    )


def _literal_secret_keys(value: Any, key: tuple[str | int, ...], config: ClientConfig) -> list[tuple[str | int, ...]]:
    if isinstance(value, Mapping):
        return [found for name, item in value.items() for found in _literal_secret_keys(item, (*key, str(name)), config)]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _literal_secret_keys(item, (*key, index), config)]
    if not isinstance(value, str) or not value:
        return []
    password = URL_PASSWORD.search(value)
    if password and password.group(2) and not ENV_REF.search(password.group(2)):
        return [key]
    if ENV_REF.search(value):
        return []
    names = [part for part in key if isinstance(part, str)]
    if (names and is_secret_key(names[-1])) or isinstance(_validated_at(config, key), SecretStr):
        return [key]
    return []


def _validated_at(config: ClientConfig, key: tuple[str | int, ...]) -> Any:
    """The validated value the raw value at ``key`` became (``None`` if it cannot be followed)."""
    current: Any = config
    for depth, part in enumerate(key):
        if depth == 0 and part == "store":
            current = config.store.settings
        elif isinstance(current, BaseModel) and isinstance(part, str) and part in type(current).model_fields:
            current = getattr(current, part)
        elif isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, (list, tuple)) and isinstance(part, int) and part < len(current):
            current = current[part]
        else:
            return None
    return current
