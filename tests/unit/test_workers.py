"""winback.workers without a broker: settings, broker choice, SQLite refusal, the task message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from winback.cli.main import cli
from winback.config import load_config
from winback.errors import ConfigError, DistributedStoreError
from winback.workers import WorkerSettings, celery_config, create_app, dispatch_clients, require_postgres, resolve_broker
from winback.workers.settings import read_for_dispatch

PG = "postgresql+psycopg://winback@db.internal/winback"


def write(directory: Path, name: str, *, database: str | None = PG, broker: str | None = None) -> Path:
    tables = f'[database]\nurl = "{database}"\n' if database else ""
    tables += f'[workers]\nbroker = "{broker}"\n' if broker else ""
    path = directory / f"{name}.toml"
    path.write_text(
        f'[client]\nname = "{name}"\n[store]\nplatform = "shopify"\nshop = "{name}.myshopify.com"\n'
        f'access_token = "${{TOKEN_{name.upper()}}}"\n{tables}',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def test_reliability_settings() -> None:
    settings = WorkerSettings(broker="redis://127.0.0.1:6379/0", time_limit=600, retry_backoff_max=300)
    conf = celery_config(settings)
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["task_soft_time_limit"] < conf["task_time_limit"] == 600
    assert conf["broker_transport_options"]["visibility_timeout"] > 600
    assert "broker_transport_options" not in celery_config(WorkerSettings(broker="amqp://guest@h//"))
    task = create_app(settings).tasks["winback.run_client"]
    assert task.max_retries == 3 and task.retry_backoff == 60 and task.acks_late
    other = create_app(WorkerSettings(broker="redis://h:6379/0", max_retries=7)).tasks["winback.run_client"]
    assert other.max_retries == 7, "each app has its own task (not Celery's shared one)"


def test_broker_from_env_or_the_configs_agreeing(tmp_path: Path) -> None:
    one = write(tmp_path, "one", broker="redis://127.0.0.1:6379/1")
    write(tmp_path, "two", broker="redis://127.0.0.1:6379/1")
    entries, problems = read_for_dispatch(tmp_path, env={})
    assert not problems and resolve_broker(entries, env={}) == "redis://127.0.0.1:6379/1"
    assert resolve_broker(entries, env={"WINBACK_BROKER": "amqp://guest:pw@rabbit//"}) == "amqp://guest:pw@rabbit//"
    write(tmp_path, "three", broker="amqp://guest:hunter2@rabbit//")
    with pytest.raises(ConfigError, match="different brokers") as caught:
        resolve_broker(read_for_dispatch(tmp_path, env={})[0], env={})
    assert "hunter2" not in str(caught.value) and str(one) in str(caught.value)
    with pytest.raises(ConfigError, match="no broker: set WINBACK_BROKER"):
        resolve_broker([], env={})
    with pytest.raises(ConfigError, match="neither amqp:// .* nor redis://"):
        resolve_broker([], env={"WINBACK_BROKER": "kafka://k:9092"})


def test_config_workers_broker_is_checked_and_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_ACME", "shpat_x")
    monkeypatch.setenv("TOKEN_BAD", "shpat_x")
    config = load_config(write(tmp_path, "acme", broker="amqp://guest:s3cret@rabbit//"))
    assert config.workers.broker == "amqp://guest:s3cret@rabbit//"
    assert config.redacted()["workers"]["broker"] == "amqp://guest:***@rabbit//"
    with pytest.raises(ConfigError, match=r"workers\.broker.*amqp:// \(RabbitMQ\) or redis://"):
        load_config(write(tmp_path, "bad", broker="sqs://queue"))


def test_sqlite_store_is_refused_naming_client_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_LOCAL", "shpat_x")
    path = write(tmp_path, "local", database="local.db")
    with pytest.raises(DistributedStoreError) as caught:
        require_postgres(load_config(path))
    message = str(caught.value)
    assert str(path) in message and "'local'" in message and "SQLite" in message and "database.url" in message
    monkeypatch.setenv("TOKEN_DEFAULT", "shpat_x")
    with pytest.raises(DistributedStoreError):
        require_postgres(load_config(write(tmp_path, "default", database=None)))


def test_task_message_carries_path_and_name_only(tmp_path: Path) -> None:
    """Dispatch needs no secret (the tokens are unset here) and sends none: the message is the
    config's path and the client's name. SQLite clients come back refused, the others go."""
    write(tmp_path, "acme")
    write(tmp_path, "local", database="local.db")
    entries, problems = read_for_dispatch(tmp_path, env={})
    assert not problems
    settings = WorkerSettings(broker="memory://", queue="unit-dispatch")
    app = create_app(settings)
    sent = dispatch_clients(app, settings, entries)
    assert [(s.client, bool(s.task_id), bool(s.error)) for s in sent] == [("acme", True, False), ("local", False, True)]
    with app.connection_for_read() as conn:
        message = conn.SimpleQueue("unit-dispatch").get(timeout=2)
    args, kwargs, _ = message.decode()
    assert args == [str((tmp_path / "acme.toml").resolve()), "acme"] and kwargs == {}
    assert message.headers["task"] == "winback.run_client" and message.headers["id"] == sent[0].task_id
    assert "TOKEN" not in json.dumps(message.payload) + json.dumps(message.headers, default=str)
    message.ack()


def test_dispatch_cli_refuses_sqlite_clients(tmp_path: Path) -> None:
    write(tmp_path, "local", database="local.db")
    (tmp_path / "broken.toml").write_text("[client\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["dispatch", "--config-dir", str(tmp_path)],
                                env={"WINBACK_BROKER": "redis://127.0.0.1:1/0"})
    assert result.exit_code == 2, result.output
    assert "client 'local' keeps its store in SQLite" in result.output and "local.toml" in result.output
    assert "broken.toml" in result.output and "0 of 2 clients sent" in result.output


def test_schedule_workers_prints_dispatch_and_worker_units(tmp_path: Path) -> None:
    write(tmp_path, "acme")
    result = CliRunner().invoke(cli, ["schedule", "--config-dir", str(tmp_path), "--workers", "--every", "15m"])
    assert result.exit_code == 0, result.output
    assert f"dispatch --config-dir {tmp_path.resolve()}" in result.output
    assert "*/15 * * * *" in result.output and "winback-dispatch.timer" in result.output
    assert "winback-worker.service" in result.output and "worker --config-dir" in result.output
    assert "Restart=always" in result.output
