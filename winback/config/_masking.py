"""Which config keys hold secrets, and config values as plain data with every secret masked
(``***``): what ``winback config show``, logs and messages may print."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

MASK = "***"
SECRET_NAME = re.compile(r"token|password|passwd|secret|api_?key|private_?key|credential", re.IGNORECASE)
"""Keys whose values are treated as secrets wherever they appear."""
_LOCATION_NAME = re.compile(r"_(file|path|dir)$", re.IGNORECASE)
"""...unless the key names where a secret is kept (``secrets_file``): a path, shown in messages."""
URL_PASSWORD = re.compile(r"(://[^:/@]*:)([^@]*)(@)")
"""The password of a ``scheme://user:password@host`` URL."""


def is_secret_key(name: str) -> bool:
    return bool(SECRET_NAME.search(name)) and not _LOCATION_NAME.search(name)


def mask_url(url: str) -> str:
    return URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", url)


def masked(value: Any, key: str = "") -> Any:
    """Plain data with ``SecretStr`` values and values under secret-looking keys masked."""
    if isinstance(value, SecretStr):
        return MASK
    if key and is_secret_key(key) and value not in (None, ""):
        return MASK
    if isinstance(value, BaseModel):
        return {name: masked(getattr(value, name), name) for name in type(value).model_fields}
    if isinstance(value, Mapping):
        return {str(k): masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [masked(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def secret_values(value: Any, key: str = "") -> list[str]:
    """Every secret string inside ``value`` (same rules as :func:`masked`)."""
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if key and is_secret_key(key) and isinstance(value, str):
        return [value]
    if isinstance(value, BaseModel):
        return [s for name in type(value).model_fields for s in secret_values(getattr(value, name), name)]
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in secret_values(v, str(k))]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in secret_values(item)]
    return []
