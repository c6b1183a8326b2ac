"""The validated shape of a client's config file: one pydantic model per TOML table, and
:class:`FileModel` for the whole file before its connector checks the ``[store]`` settings."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator

from winback.connectors.base import Resource
from winback.model import normalize_email
from winback.sync.engine import BATCH_RECORDS, DEFAULT_RESOURCES


_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-?]+$")

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
    batch_records: Annotated[int, Field(ge=1, le=100_000)] = BATCH_RECORDS
    """The most records one transaction commits: larger batches cost less CPU per record (fewer
    index pages written again), smaller ones hold less memory and lose less to a kill."""

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


class ClientTables(_Table):
    """The tables a config file and its loaded :class:`~winback.config.ClientConfig` share, declared
    once: a new table is one line here, read from the file and kept on the config alike."""

    database: DatabaseSection = DatabaseSection()
    sync: SyncSection = SyncSection()
    email: EmailSection | None = None
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict)
    schedule: ScheduleSection = ScheduleSection()
    limits: LimitsSection = LimitsSection()
    workers: WorkersSection = WorkersSection()


class FileModel(ClientTables):
    """The whole file before the platform settings are checked by their connector."""

    secrets_file: str | None = None
    client: ClientSection = ClientSection()
    store: dict[str, Any]

