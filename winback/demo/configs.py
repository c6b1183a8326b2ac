"""The demo's client configs: real ``<name>.toml`` files (and their tokens in ``<name>.secrets.toml``,
mode 0600) so ``winback plan --no-connect`` and ``winback status`` work on the demo's database.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any


DEMO_RULES: dict[str, dict[str, Any]] = {
    "auto_create_accounts": {"enabled": True},
    "back_to_bestsellers": {"after_days": 180, "discount": {"kind": "percentage", "value": 10}, "holdout": 0.2},
    "discount_codes": {"segment": {"min_orders": 3}, "kind": "percentage", "value": 15, "holdout": 0.2},
}
"""The demo clients' ``[rules.*]`` tables, in the order the planner runs them."""


@dataclass(slots=True)
class DemoTarget:
    label: str
    platform: str
    settings: dict[str, Any]
    name: str
    """Config file stem."""
    client: str
    sender: str
    """``from_address`` of the client's ``[email]``."""


def write_config(directory: Path, target: DemoTarget) -> Path:
    """``<name>.toml`` with the store, database, outbox and rules; the token in ``<name>.secrets.toml``."""
    directory.mkdir(parents=True, exist_ok=True)
    secret_keys = {"access_token", "token"}
    secrets = {key: value for key, value in target.settings.items() if key in secret_keys}
    settings = {key: value for key, value in target.settings.items() if key not in secret_keys}
    secrets_path = directory / f"{target.name}.secrets.toml"
    _write_private(secrets_path, "".join(f"{key} = {_toml(value)}\n" for key, value in secrets.items()))
    store = "".join(f"{key} = {_toml(value)}\n" for key, value in settings.items())
    rules = "".join(
        f"\n[rules.{name}]\n" + "".join(f"{key} = {_toml(value)}\n" for key, value in options.items())
        for name, options in DEMO_RULES.items()
    )
    path = directory / f"{target.name}.toml"
    _write_private(
        path,
        f"""\
# Written by `winback demo`: a client config for the demo's {target.platform} emulator store.
# The emulator stopped when the demo ended, so use it offline on the demo's database:
#   winback plan --no-connect --config {path}
#   winback status --config {path}
secrets_file = "{secrets_path.name}"

[client]
name = {_toml(target.client)}

[store]
platform = "{target.platform}"
{store}
[database]
url = "../winback.db"

[email]
sender = "outbox"
outbox_dir = "../outbox"
from_address = {_toml(target.sender)}
unsubscribe_mailto = {_toml("unsubscribe@" + target.sender.partition("@")[2])}
{rules}""",
    )
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key} = {_toml(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    os.chmod(path, 0o600)

