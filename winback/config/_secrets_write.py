"""Write one value into a client's secrets file, the only place winback itself ever stores a secret.

``winback connect`` saves the offline token it obtained there, and every renewal of an expiring
token saves its new pair there. The file is replaced atomically
(a crash leaves the old file or the new one, never half of each), created with mode 0600 and
written with mode 0600 whatever its mode was; every other line (keys, comments) is kept.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path

from winback.errors import ConfigError

_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def secrets_file_of(config_path: Path) -> Path | None:
    """The secrets file ``config_path`` names (``secrets_file = ...``), resolved; ``None`` if it names none."""
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    name = data.get("secrets_file")
    return config_path.parent / name if isinstance(name, str) and name else None


def save_secret(path: Path, key: str, value: str) -> None:
    """Set ``key = "value"`` in the secrets file ``path`` (created if absent), keeping everything else."""
    save_secrets(path, {key: value})


def save_secrets(path: Path, values: Mapping[str, str | None]) -> None:
    """Set every ``key = "value"`` of ``values`` in one atomic replace of ``path`` (created if
    absent), removing the keys whose value is ``None`` and keeping every other line: a crash
    leaves all the old values or all the new ones (a renewed token and its refresh token together)."""
    for key in values:
        if not _KEY.match(key):
            raise ValueError(f"not a plain TOML key: {key!r}")
    names = ", ".join(values)
    try:
        old = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot be read, so the new {names} was not saved: {exc}", path=str(path)) from None
    try:
        tomllib.loads(old)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"is not valid TOML ({exc}), so the new {names} was not saved: fix it first", path=str(path)) from None
    text = old
    for key, value in values.items():
        pattern = re.compile(rf"^[ \t]*{re.escape(key)}[ \t]*=.*$\n?", re.MULTILINE)
        if value is None:
            text = pattern.sub("", text)
            continue
        line = f"{key} = {json.dumps(value)}\n"
        if pattern.search(text):
            text = pattern.sub(lambda _: line, text, count=1)
        else:
            text = text + ("" if not text or text.endswith("\n") else "\n") + line
    tomllib.loads(text)  # a bug here must not reach the merchant's disk
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private_file(path, text)


def write_private_file(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, mode 0600 from its first byte: a reader sees the
    old file or the whole new one, never a half-written or world-readable secret."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
        _fsync_directory(path.parent)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable: without it a power cut may bring back the old file."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
