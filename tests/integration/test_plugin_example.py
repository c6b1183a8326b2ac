"""The example plugin ``examples/winback-hello``: found through its entry point, synced end to end
by the real ``winback`` command, and its own tests pass.

The Makefile installs it into the venv (``make install``). Without it these tests skip with the
command to run, except in CI (env ``CI`` set), where a missing plugin is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from winback.connectors.registry import clear_cache, load_connector_class
from winback.errors import ConnectorNotFoundError
from winback.sync import open_store

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "winback-hello"


@pytest.fixture(scope="module")
def hello_class() -> type:
    clear_cache()
    try:
        return load_connector_class("hello")
    except ConnectorNotFoundError as exc:
        message = (
            f"the example plugin winback-hello is not installed ({exc}); install it with "
            f"`.venv/bin/pip install -e {EXAMPLE} --no-deps` or `make install`"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def test_entry_point_finds_the_connector(hello_class: type) -> None:
    from winback.connectors.base import Connector

    assert issubclass(hello_class, Connector)
    assert hello_class.__module__ == "winback_hello" and hello_class.platform == "hello"


def run_winback(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "winback.cli.main", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )


def test_sync_a_hello_store_into_sqlite(hello_class: type, tmp_path: Path) -> None:
    config = tmp_path / "hello.toml"
    config.write_text(
        '[client]\nname = "Hello"\n\n[store]\nplatform = "hello"\ngreeting_store = "Hello World Shop"\n'
        'page_size = 2\n\n[database]\nurl = "hello.db"\n',
        encoding="utf-8",
    )

    synced = run_winback("sync", "--config", str(config), cwd=tmp_path)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "ok      Hello (Hello Shop 'Hello World Shop'): customers=3 orders=3 products=2 rejected=1" in synced.stdout

    with open_store(str(tmp_path / "hello.db")) as store:
        key = "hello:hello-world-shop"
        assert [row["key"] for row in store.list_stores()] == [key]
        counts = {name: store.count(key, name) for name in ("customers", "orders", "products", "quarantine")}
    assert counts == {"customers": 3, "orders": 3, "products": 2, "quarantine": 1}

    status = run_winback("status", "--json", "--config", str(config), cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    entry = json.loads(status.stdout)[0]
    assert entry["store_key"] == "hello:hello-world-shop" and entry["counts"]["quarantined"] == 1

    checked = run_winback("check", "--config", str(config), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Hello (Hello Shop 'Hello World Shop', hello)" in checked.stdout


def test_the_examples_own_tests_pass(hello_class: type) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        cwd=EXAMPLE, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout


def test_a_plugin_gets_a_full_init_check_and_offline_plan(hello_class: type, tmp_path: Path) -> None:
    """Nothing outside the plugin's package names its platform: ``init`` writes its [store] table
    from the connector's profile, ``check`` names its scopes' remedy, ``plan --no-connect`` plans
    with its usual account mode."""
    made = run_winback(
        "init", "--platform", "hello", "--store", "Hello World Shop", "--token-env", "HELLO_KEY",
        "--no-interactive", cwd=tmp_path,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    [config] = tmp_path.glob("*.toml")
    text = config.read_text(encoding="utf-8")
    assert 'greeting_store = "Hello World Shop"' in text and 'api_key = "${HELLO_KEY}"' in text
    assert "export HELLO_KEY=..." in made.stdout

    env_run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "winback.cli.main", *args], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=False, env={**os.environ, "HELLO_KEY": "hello_secret_key_123"},
    )
    checked = env_run("check", "--config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "hello_secret_key_123" not in checked.stdout + checked.stderr

    narrow = tmp_path / "narrow.toml"
    narrow.write_text(text.replace("[database]", 'permissions = ["read_customers"]\n\n[database]'), encoding="utf-8")
    narrow.chmod(0o600)
    refused = env_run("check", "--config", str(narrow))
    assert refused.returncode == 1
    assert "add write_discounts to the key's permissions in Hello Shop's settings" in refused.stdout

    assert env_run("sync", "--config", str(config)).returncode == 0
    config.write_text(text + "\n[rules.auto_create_accounts]\nsince_days = 36500\n", encoding="utf-8")
    planned = env_run("plan", "--no-connect", "--json", "--config", str(config))
    assert planned.returncode == 0, planned.stdout + planned.stderr
    [entry] = json.loads(planned.stdout)
    assert entry["store_key"] == "hello:hello-world-shop"
    [action] = [a for a in entry["actions"] if a["email"] == "guest@example.com"]
    assert action["steps"][0] == "create_account"
