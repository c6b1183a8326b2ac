"""One client's validated config (:class:`ClientConfig`): its tables, where each value was written
(:class:`ValueSource`), and the findings that do not stop it loading (:class:`ConfigWarning`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from winback.config._masking import mask_url, masked
from winback.config._sections import ClientTables
from winback.config._secrets_store import SecretsFile
from winback.config._secrets_write import secrets_file_of
from winback.connectors.base import Connector
from winback.sync.tables import store_key as make_store_key



# --- findings that do not stop loading --------------------------------------------------------


class ConfigWarningKind(StrEnum):
    """What a :class:`ConfigWarning` is about."""

    SECRETS_FILE_READABLE = "secrets_file_readable"
    """The ``secrets_file`` may be read by group or others."""
    LITERAL_SECRET_READABLE = "literal_secret_readable"
    """The config file itself holds a secret written out (not ``${NAME}``) and group or others may read it."""


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    """A problem that does not stop a config from loading (a cron run should still sync) but that
    ``winback check`` reports before calling the client ready. Holds no secret; ``str()`` gives the
    logged line ``path[:line]: message: fix; or fix``."""

    kind: ConfigWarningKind
    path: str
    """The file to fix (the config file or its secrets file)."""
    message: str
    fixes: tuple[str, ...]
    """Alternatives, each enough on its own."""
    line: int | None = None
    keys: tuple[str, ...] = ()
    """Dotted keys holding the literal secrets (``store.access_token``), in file order."""

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}: {'; or '.join(self.fixes)}"


@dataclass(frozen=True, slots=True)
class ValueSource:
    """Where a config value was written, so a fix names the place to change it: a key of the
    config file or of its secrets file, and the environment variables its ``${NAME}`` refers to."""

    path: str
    """The file holding the key."""
    key: str
    """The key as written in that file (``store.access_token``; a secrets file's own ``access_token``)."""
    env: tuple[str, ...] = ()
    """The variables of the value's ``${NAME}`` references, in order."""

    def describe(self) -> str:
        """``the environment variable ACME_TOKEN (store.access_token in acme.toml reads it)`` or
        ``access_token in acme.secrets.toml``."""
        if self.env:
            names = " and ".join(self.env)
            noun = "variable" if len(self.env) == 1 else "variables"
            return f"the environment {noun} {names} ({self.key} in {self.path} reads it)"
        return f"{self.key} in {self.path}"


class StoreConfig(BaseModel):
    """The ``[store]`` table: the platform and its connector's validated settings model."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    platform: str
    settings: BaseModel


class ClientConfig(ClientTables):
    """One client's validated config. Build it with :func:`winback.config.load_config`."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    path: Path
    store: StoreConfig
    warnings: tuple[ConfigWarning, ...] = ()
    """Secrets other users of the machine can read (see :class:`ConfigWarningKind`); also logged."""
    sources: Mapping[str, ValueSource] = Field(default_factory=dict)
    """Where values not written out in the config file came from, by dotted key (``store.access_token``):
    an environment variable or the secrets file. Use :meth:`source_of`."""

    @property
    def platform(self) -> str:
        return self.store.platform

    def source_of(self, key: str) -> ValueSource:
        """Where the value of the dotted ``key`` was written (the config file unless recorded otherwise)."""
        return self.sources.get(key) or ValueSource(path=str(self.path), key=key)

    def connector_class(self) -> type[Connector]:
        from winback.connectors.registry import load_connector_class

        return load_connector_class(self.store.platform)

    def build_connector(self, **kwargs: Any) -> Connector:
        """A new connector for this client's store (use it as an async context manager).

        The connector gets the client's secrets file as its ``secret_store``, where credentials
        that rotate (Shopify's expiring offline tokens) are saved at each renewal.
        """
        if "secret_store" not in kwargs:
            path = secrets_file_of(self.path)
            kwargs["secret_store"] = SecretsFile(path) if path is not None else None
        return self.connector_class().from_settings(self.store.settings, **kwargs)

    @property
    def store_label(self) -> str:
        """A human name for the store (``acme.myshopify.com``), from the settings alone."""
        return self.connector_class().label_of(self.store.settings)

    @property
    def store_key(self) -> str:
        """The store's key in the local database (``platform:store_id``), without a request."""
        return make_store_key(self.store.platform, self.connector_class().store_id_of(self.store.settings))

    def redacted(self) -> dict[str, Any]:
        """The config as plain data for display, every secret replaced by ``***``."""
        return {
            "path": str(self.path),
            "client": {"name": self.name},
            "store": {"platform": self.store.platform, **masked(self.store.settings)},
            "database": {"url": None if self.database.url is None else mask_url(self.database.url)},
            "sync": {
                "resources": [r.value for r in self.sync.resources], "overlap_minutes": self.sync.overlap_minutes,
                "batch_records": self.sync.batch_records,
            },
            "email": None if self.email is None else masked(self.email),
            "rules": masked(self.rules),
            "schedule": masked(self.schedule),
            "workers": {"broker": None if self.workers.broker is None else mask_url(self.workers.broker)},
        }
