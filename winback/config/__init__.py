"""Per-client TOML config: one file per client (merchant store), validated into :class:`ClientConfig`.

Format (see ``examples/client.toml`` for a commented example)::

    secrets_file = "acme.secrets.toml"   # optional; relative to this file

    [client]
    name = "Acme Apparel"                # label in logs and tables; default: the file's stem

    [store]
    platform = "shopify"                 # "shopify", "ecwid", or a plugin's entry-point name
    shop = "acme.myshopify.com"          # every other key goes to the connector's settings model
    access_token = "${ACME_SHOPIFY_TOKEN}"
    # base_url = "http://127.0.0.1:8801" # emulators and compatible servers

    [database]
    url = "sqlite:////var/lib/winback/acme.db"   # optional; default: winback's default SQLite file
                                                 # a plain path is relative to this file

    [sync]
    resources = ["customers", "orders", "products"]   # default: all three
    overlap_minutes = 10                               # re-read window behind each cursor
    batch_records = 4000                               # most records per transaction

    [email]                              # optional; used by rules
    sender = "smtp"                      # "smtp" or "outbox" (default)
    from_address = "Acme <hello@acme.example>"
    smtp_host = "smtp.example.com"
    smtp_port = 587
    smtp_username = "winback"
    smtp_password = "${ACME_SMTP_PASSWORD}"
    smtp_starttls = true                 # default: on unless smtp_ssl
    smtp_ssl = false
    outbox_dir = "outbox"                # relative to this file
    rate_per_minute = 60

    [rules.back_to_bestsellers]          # one table per rule; options are checked by the rule
    after_days = 180

    [schedule]
    cron = "17 * * * *"                  # five fields

    [workers]                            # optional; `winback dispatch` (see winback.workers)
    broker = "redis://127.0.0.1:6379/0"  # or amqp://...; WINBACK_BROKER wins

Secrets
    ``${NAME}`` anywhere in a string value is replaced by the environment variable ``NAME``; a
    missing or empty variable is an error. ``secrets_file`` names a TOML file of plain
    ``key = value`` pairs merged into ``[store]`` (a key may not be in both). When that file, or a
    config file holding a secret written out instead of ``${NAME}``, is readable by group or
    others, a warning is logged and kept in :attr:`ClientConfig.warnings` (:class:`ConfigWarning`).
    Values of secret-looking keys (token, password, secret, api key; not ``*_file``, ``*_path``,
    ``*_dir``, which name places) and of ``SecretStr`` fields are registered with
    :func:`winback.secrets.register_secret` so logs mask them; :meth:`ClientConfig.redacted` gives
    the config for display with ``***``.

Platform settings
    The ``[store]`` table (minus ``platform``) is validated by the connector's own
    ``settings_model``, found through :mod:`winback.connectors.registry`, so a plugin's settings
    are checked the same way as the built-ins'.

Errors
    Whatever is wrong, :func:`load_config` raises one :class:`~winback.errors.ConfigError` whose
    message names the file, the line and the dotted key (``store.access_token``) and says what
    is expected: TOML syntax, unknown keys (with a close match suggested), wrong types, missing
    keys, missing environment variables, unknown platforms.
"""

from winback.config._load import SECRETS_SUFFIX, load_config, load_config_dir
from winback.config._secrets_store import SecretsFile
from winback.config._secrets_write import save_secret, save_secrets, secrets_file_of
from winback.config._client import ClientConfig, ConfigWarning, ConfigWarningKind, StoreConfig, ValueSource
from winback.config._sections import (
    ClientSection,
    DatabaseSection,
    EmailSection,
    ScheduleSection,
    SyncSection,
    WorkersSection,
)

__all__ = [
    "SECRETS_SUFFIX",
    "save_secret",
    "save_secrets",
    "SecretsFile",
    "secrets_file_of",
    "ClientConfig",
    "ClientSection",
    "ConfigWarning",
    "ConfigWarningKind",
    "DatabaseSection",
    "EmailSection",
    "ScheduleSection",
    "StoreConfig",
    "SyncSection",
    "ValueSource",
    "WorkersSection",
    "load_config",
    "load_config_dir",
]
