"""What a worker deployment is configured with: the broker, the queue, time limits and retries.

The broker comes from ``WINBACK_BROKER`` or the clients' ``[workers] broker`` (every config that
names one must name the same). The store must be PostgreSQL: runs of one client may land on any
machine, one after another or (if something goes wrong) at once, and only a database server
shared by all of them gives one ledger and one run lock per store.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from winback.config import SECRETS_SUFFIX, ClientConfig
from winback.config._warnings import ENV_REF
from winback.config._masking import mask_url
from winback.errors import ConfigError, DistributedStoreError
from winback.sync.database import database_url

BROKER_ENV = "WINBACK_BROKER"
DEFAULT_QUEUE = "winback"
BROKER_SCHEMES = ("amqp", "amqps", "pyamqp", "redis", "rediss")


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """One deployment's knobs; :func:`winback.workers.create_app` turns them into Celery settings.

    ``time_limit`` is the hard limit of one client run (the worker process is killed and replaced);
    the soft limit, a little earlier, raises inside the run so it ends as a failure and is retried.
    A failed run is retried ``max_retries`` times after ``retry_backoff`` seconds, then twice that,
    and so on up to ``retry_backoff_max``, then reported as failed.
    """

    broker: str
    queue: str = DEFAULT_QUEUE
    time_limit: float = 3600.0
    max_retries: int = 3
    retry_backoff: int = 60
    retry_backoff_max: int = 900
    restore_interval: int = 30
    """Redis: seconds between sweeps that give a dead worker's unacknowledged tasks back."""

    @property
    def soft_time_limit(self) -> float:
        return max(1.0, self.time_limit - min(60.0, self.time_limit * 0.1))

    @property
    def visibility_timeout(self) -> int:
        """Redis only: a task unacknowledged this long is given to another worker. It must exceed
        the longest run and the longest retry countdown (held unacknowledged by a worker), or a
        healthy run would be started a second time."""
        return int(max(self.time_limit, self.retry_backoff_max) * 1.25) + 5

    @property
    def transport(self) -> str:
        return "redis" if self.broker.startswith("redis") else "amqp"

    @property
    def broker_label(self) -> str:
        """The broker URL with its password masked, for messages and logs."""
        return mask_url(self.broker)


def check_broker(url: str, *, where: str) -> str:
    """``url`` if it is a RabbitMQ or Redis URL, else a ConfigError naming ``where`` it came from."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in BROKER_SCHEMES:
        raise ConfigError(
            f"broker {mask_url(url)!r} is neither amqp:// (RabbitMQ) nor redis:// (Redis): "
            "e.g. amqp://guest:guest@127.0.0.1:5672// or redis://127.0.0.1:6379/0",
            path=None, key=where,
        )
    return url


@dataclass(frozen=True, slots=True)
class DispatchEntry:
    """What ``winback dispatch`` needs of one config, read without its secrets: the dispatching
    machine never expands a token (only the workers hold them)."""

    name: str
    path: Path
    database_url: str | None
    broker: str | None


def read_for_dispatch(config_dir: Path, env: Mapping[str, str] | None = None) -> tuple[list[DispatchEntry], list[ConfigError]]:
    """Each client config of ``config_dir`` as a :class:`DispatchEntry`, and the files that could
    not be read (one :class:`ConfigError` each). ``${VAR}`` is expanded only in the broker and
    database URLs, and only where the variable is set (a database URL's scheme is all that is checked)."""
    env = os.environ if env is None else env
    entries: list[DispatchEntry] = []
    problems: list[ConfigError] = []
    for path in sorted(config_dir.glob("*.toml")):
        if path.name.endswith(SECRETS_SUFFIX) or not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            client, database, workers = (data.get(name, {}) for name in ("client", "database", "workers"))
            if not all(isinstance(table, dict) for table in (client, database, workers)):
                raise ConfigError("[client], [database] and [workers] must be tables", path=str(path))
            broker = _expand(workers.get("broker"), env, path, "workers.broker", required=True)
            entries.append(DispatchEntry(
                name=str(client.get("name") or path.stem), path=path.resolve(),
                database_url=_expand(database.get("url"), env, path, "database.url", required=False),
                broker=None if broker is None else check_broker(broker, where=f"{path}: workers.broker"),
            ))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            problems.append(ConfigError(f"cannot be read as TOML ({exc}): run `winback check --config {path}`",
                                        path=str(path)))
        except ConfigError as exc:
            problems.append(exc)
    if not entries and not problems:
        raise ConfigError("holds no client configs (*.toml)", path=str(config_dir))
    return entries, problems


def _expand(value: object, env: Mapping[str, str], path: Path, key: str, *, required: bool) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError("must be a non-empty string", path=str(path), key=key)

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if env.get(name):
            return env[name]
        if required:
            raise ConfigError(f"environment variable {name} is not set: export {name}=... before running winback",
                              path=str(path), key=key)
        return match.group(0)

    return ENV_REF.sub(one, value)


def resolve_broker(configs: Sequence[ClientConfig | DispatchEntry] = (), env: Mapping[str, str] | None = None) -> str:
    """``WINBACK_BROKER``, else the one ``[workers] broker`` the configs agree on."""
    env = os.environ if env is None else env
    if env.get(BROKER_ENV):
        return check_broker(env[BROKER_ENV], where=BROKER_ENV)
    named: dict[str, Path] = {}
    for config in configs:
        broker = config.broker if isinstance(config, DispatchEntry) else config.workers.broker
        if broker:
            named.setdefault(broker, config.path)
    if len(named) > 1:
        files = ", ".join(f"{path} ({mask_url(url)})" for url, path in named.items())
        raise ConfigError(f"the configs name different brokers: {files}; use one, or set {BROKER_ENV}",
                          key="workers.broker")
    if not named:
        raise ConfigError(f"no broker: set {BROKER_ENV}=redis://host:6379/0 (or amqp://...) or "
                          "[workers] broker in the client configs", key="workers.broker")
    url, path = next(iter(named.items()))
    return check_broker(url, where=f"{path}: workers.broker")


def require_postgres(config: ClientConfig) -> str:
    """The client's PostgreSQL URL; a SQLite store raises :class:`DistributedStoreError`."""
    return require_postgres_url(config.name, config.path, config.database.url)


def require_postgres_url(name: str, path: Path, url: str | None) -> str:
    """``url`` made absolute; a SQLite store (or none given: the default SQLite file) raises
    :class:`DistributedStoreError` naming the client and its config file."""
    resolved = database_url(url)
    if not resolved.startswith("postgresql"):
        raise DistributedStoreError(
            f"client {name!r} keeps its store in SQLite ({mask_url(resolved)}): workers on several machines "
            "need one shared PostgreSQL database for the ledger and the run lock. Set [database] url = "
            "\"postgresql+psycopg://user@host/winback\" (see README: Moving from SQLite to PostgreSQL), "
            "or run this client with `winback run` from cron",
            path=str(path), key="database.url",
        )
    return resolved
