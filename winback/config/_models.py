"""The validated shape of a client's config: one pydantic model per TOML table."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator

from winback.config._secrets_store import SecretsFile
from winback.config._secrets_write import secrets_file_of
from winback.connectors.base import Connector, Resource
from winback.model import normalize_email
from winback.sync.tables import store_key as make_store_key
from winback.sync.engine import DEFAULT_RESOURCES

MASK = "***"
SECRET_NAME = re.compile(r"token|password|passwd|secret|api_?key|private_?key|credential", re.IGNORECASE)
"""Keys whose values are treated as secrets wherever they appear."""
_LOCATION_NAME = re.compile(r"_(file|path|dir)$", re.IGNORECASE)
"""...unless the key names where a secret is kept (``secrets_file``): a path, shown in messages."""

_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-?]+$")
_URL_PASSWORD = re.compile(r"(://[^:/@]*:)([^@]*)(@)")


def is_secret_key(name: str) -> bool:
    return bool(SECRET_NAME.search(name)) and not _LOCATION_NAME.search(name)


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClientSection(_Table):
    name: Annotated[str, Field(min_length=1)] | None = None


class DatabaseSection(_Table):
    url: Annotated[str, Field(min_length=1)] | None = None
    """A SQLAlchemy URL or a SQLite file path; ``None`` is winback's default SQLite file."""


class SyncSection(_Table):
    resources: tuple[Resource, ...] = DEFAULT_RESOURCES
    overlap_minutes: Annotated[int, Field(ge=0, le=7 * 24 * 60)] = 10

    @field_validator("resources")
    @classmethod
    def _resources(cls, value: tuple[Resource, ...]) -> tuple[Resource, ...]:
        if not value:
            raise ValueError("list at least one of customers, orders, products")
        return tuple(dict.fromkeys(value))

    @property
    def overlap(self) -> timedelta:
        return timedelta(minutes=self.overlap_minutes)


class EmailSection(_Table):
    """How rules send email; checked here for shape, used by :mod:`winback.notify`."""

    sender: Literal["smtp", "outbox"] = "outbox"
    from_address: str | None = None
    smtp_host: str | None = None
    smtp_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool | None = None
    """Default: on, unless ``smtp_ssl``."""
    smtp_ssl: bool = False
    outbox_dir: Path | None = None
    """Relative to the config file's directory."""
    rate_per_minute: Annotated[int, Field(gt=0)] = 60
    from_name: str | None = None
    """Display name shown next to ``from_address`` (e.g. the store's name)."""
    reply_to: str | None = None
    unsubscribe_url: str | None = None
    """An https URL template with ``{email}`` and/or ``{token}`` placeholders, e.g.
    ``https://shop.example/unsubscribe?e={email}&t={token}``; the merchant's endpoint checks the
    token (see :func:`winback.notify.unsubscribe_link`)."""
    unsubscribe_mailto: str | None = None
    """An address (or ``mailto:`` URL) that unsubscribes the sender of a mail to it."""
    unsubscribe_secret: SecretStr | None = None
    """The HMAC key for ``{token}`` in ``unsubscribe_url``; shared with the merchant's endpoint."""
    templates_dir: Path | None = None
    """Per-client email template overrides; relative to the config file's directory."""
    public_url: str | None = None
    """The public https address of ``winback serve`` (``https://winback.example.com``): marketing mail
    then links to its one-click unsubscribe (RFC 8058) instead of ``unsubscribe_url``. Plain http
    only for 127.0.0.1 / localhost (tests)."""
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_private_key_file: Path | None = None
    """A PEM private key (0600, like the secrets file), relative to the config file's directory.
    With ``dkim_selector`` and ``dkim_domain``, winback signs each message (DKIM, covering the
    List-Unsubscribe headers); leave them out when the mail server or provider signs."""
    _oneclick: tuple[str, Path] | None = PrivateAttr(default=None)
    _postal_address: str | None = PrivateAttr(default=None)
    """(client, config directory) for one-click links; set by :func:`winback.rules.engine.email_settings`."""

    @model_validator(mode="after")
    def _consistent(self) -> EmailSection:
        dkim = (self.dkim_selector, self.dkim_domain, self.dkim_private_key_file)
        if any(v is not None for v in dkim) and not all(v is not None for v in dkim):
            raise ValueError("DKIM signing needs all of dkim_selector, dkim_domain and dkim_private_key_file")
        if self.sender == "smtp" and not self.smtp_host:
            raise ValueError("sender = 'smtp' needs smtp_host")
        if self.smtp_ssl and self.smtp_starttls:
            raise ValueError("smtp_ssl and smtp_starttls exclude each other: choose one")
        return self

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from urllib.parse import urlsplit

        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
        if (parts.scheme != "https" and not loopback) or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"public_url {value!r} must be an https:// address such as https://winback.example.com")
        return value

    @property
    def oneclick(self) -> tuple[str, Path] | None:
        return self._oneclick

    @property
    def postal_address(self) -> str | None:
        """``[store] postal_address`` of the client, which wins over the platform's address."""
        return self._postal_address

    def with_oneclick(self, client: str, directory: Path, postal_address: str | None = None) -> EmailSection:
        copy = self.model_copy()
        copy._oneclick = (client, directory)
        copy._postal_address = postal_address
        return copy

    @field_validator("unsubscribe_url")
    @classmethod
    def _unsubscribe_url(cls, value: str | None) -> str | None:
        import string

        if value is None:
            return None
        if not value.startswith("https://") or any(c.isspace() or ord(c) < 32 for c in value):
            raise ValueError("unsubscribe_url must be an https:// URL without spaces (one-click unsubscribe needs https)")
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"unsubscribe_url has a broken placeholder ({exc}): use {{email}} and {{token}}") from None
        if names - {"email", "token"}:
            unknown = ", ".join(sorted("{" + n + "}" for n in names - {"email", "token"}))
            raise ValueError(f"unsubscribe_url may only use the placeholders {{email}} and {{token}}, not {unknown}")
        if not names:
            raise ValueError("unsubscribe_url must contain {email} or {token} so each recipient gets their own link")
        return value


_QUIET_HOURS = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)-([01]?\d|2[0-3]):([0-5]\d)$")


class LimitsSection(_Table):
    """Guard rails of ``winback run`` (see :mod:`winback.rules.guards`); the defaults are safe."""

    marketing_cap_days: Annotated[int, Field(ge=1, le=365)] = 7
    marketing_cap_count: Annotated[int, Field(ge=0, le=100)] = 1
    """At most this many marketing emails per customer within ``marketing_cap_days``, all rules together."""
    quiet_hours: str | None = None
    """``"21:00-08:00"`` in the store's time zone: marketing mail waits for the next run after it."""
    max_actions_per_run: Annotated[int, Field(ge=0)] = 500
    suppress: tuple[str, ...] = ()
    """Emails that never get anything from winback for this client (plus ``winback suppress``)."""
    timezone: str | None = None
    """IANA name (``Europe/Berlin``) overriding the store's own time zone for quiet hours."""

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str | None) -> str | None:
        if value is None:
            return None
        compact = value.replace(" ", "")
        if not _QUIET_HOURS.match(compact):
            raise ValueError(f"quiet_hours must look like '21:00-08:00' (24-hour HH:MM-HH:MM), not {value!r}")
        return compact

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as 'Europe/Berlin'") from None
        return value

    @field_validator("suppress")
    @classmethod
    def _suppress(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        emails: list[str] = []
        for email in value:
            key = normalize_email(email)
            if key is None or "@" not in key:
                raise ValueError(f"suppress lists email addresses; {email!r} is not one")
            emails.append(key)
        return tuple(dict.fromkeys(emails))


class ScheduleSection(_Table):
    cron: str | None = None
    """Five fields: minute hour day-of-month month day-of-week."""

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        fields = value.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(field) for field in fields):
            raise ValueError(
                f"cron {value!r} must have 5 fields (minute hour day-of-month month day-of-week), "
                "e.g. '17 * * * *'"
            )
        return " ".join(fields)


class WorkersSection(_Table):
    """``[workers]``: where ``winback dispatch`` sends this client's runs (see :mod:`winback.workers`)."""

    broker: Annotated[str, Field(min_length=1)] | None = None
    """``amqp://user:password@host:5672//`` (RabbitMQ) or ``redis://host:6379/0``; ``WINBACK_BROKER`` wins."""

    @field_validator("broker")
    @classmethod
    def _broker(cls, value: str | None) -> str | None:
        if value is not None and value.split("://", 1)[0] not in ("amqp", "amqps", "pyamqp", "redis", "rediss"):
            raise ValueError("broker must be an amqp:// (RabbitMQ) or redis:// URL, e.g. 'redis://127.0.0.1:6379/0'")
        return value


class FileModel(_Table):
    """The whole file before the platform settings are checked by their connector."""

    secrets_file: str | None = None
    client: ClientSection = ClientSection()
    store: dict[str, Any]
    database: DatabaseSection = DatabaseSection()
    sync: SyncSection = SyncSection()
    email: EmailSection | None = None
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict)
    schedule: ScheduleSection = ScheduleSection()
    limits: LimitsSection = LimitsSection()
    workers: WorkersSection = WorkersSection()


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


class ClientConfig(BaseModel):
    """One client's validated config. Build it with :func:`winback.config.load_config`."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    path: Path
    store: StoreConfig
    database: DatabaseSection = DatabaseSection()
    sync: SyncSection = SyncSection()
    email: EmailSection | None = None
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict)
    schedule: ScheduleSection = ScheduleSection()
    limits: LimitsSection = LimitsSection()
    workers: WorkersSection = WorkersSection()
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
            "sync": {"resources": [r.value for r in self.sync.resources], "overlap_minutes": self.sync.overlap_minutes},
            "email": None if self.email is None else masked(self.email),
            "rules": masked(self.rules),
            "schedule": masked(self.schedule),
            "workers": {"broker": None if self.workers.broker is None else mask_url(self.workers.broker)},
        }


def mask_url(url: str) -> str:
    return _URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", url)


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
