"""A back_to_bestsellers sequence end to end on both emulators: ``winback run`` at day 0 sends
step 1, some customers come back (orders placed on the platform, then synced), and ``winback run``
15 days later sends step 2, with its personal code created on the platform, only to those who did
not; a third run the same day does nothing. The clock of ``winback run`` is the only thing faked
(``run_clients(now=...)``, as the demo runs it); the platform, SQLite and the outbox are real."""

from __future__ import annotations

import email
import json
from email.utils import parseaddr
import textwrap
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

import winback.cli.plan as cli_plan
import winback.cli.run as cli_run
from winback.cli.main import cli
from winback.clients import plan_clients, run_clients
from winback.emulator.ecwid import ALL_SCOPES, start_ecwid_emulator
from winback.emulator.generate import generate_world
from winback.emulator.respond import Reminder, responses
from winback.emulator.shopify import start_shopify_emulator
from winback.sync import open_store, tables

pytestmark = pytest.mark.integration

RULES = """
[rules.back_to_bestsellers]
after_days = 180
max_age_days = 900

[[rules.back_to_bestsellers.steps]]
after_days = 180

[[rules.back_to_bestsellers.steps]]
after_days = 14
discount = {kind = "percentage", value = 10}

[[rules.back_to_bestsellers.steps]]
after_days = 14

[limits]
max_actions_per_run = 100000
marketing_cap_count = 10
"""


@pytest.fixture(params=["shopify", "ecwid"])
def platform(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    world = generate_world(4242, customers=150)
    if request.param == "shopify":
        server, shop = start_shopify_emulator(world, restore_rate=1000, bucket_size=20000)
        store = (f'platform = "shopify"\nshop = "{shop.shop_domain}"\naccess_token = "{shop.access_token}"\n'
                 f'base_url = "{server.url}"\n')
        place = shop.state.place_order
    else:
        server, app = start_ecwid_emulator(world, scopes=ALL_SCOPES, requests_per_minute=60_000)
        store = (f'platform = "ecwid"\nstore_id = "{app.store_id}"\ntoken = "{app.token}"\n'
                 f'base_url = "{server.url}/api/v3"\nrequests_per_minute = 60000\n')

        def place(order: Any) -> Any:
            customer = world.customer(order.customer_key) if order.customer_key is not None else None
            return app.state.place_order(order, customer)
    try:
        codes = "discount_codes" if request.param == "shopify" else "discount_coupons"
        yield {"name": request.param, "world": world, "server": server, "store": store, "place": place, "codes": codes}
    finally:
        server.stop()


def write_config(directory: Path, store: str) -> Path:
    path = directory / "shop.toml"
    path.write_text(textwrap.dedent("""\
        [client]
        name = "Sequence test"

        [store]
        """) + store + textwrap.dedent("""\
        retry_base_delay_s = 0.01

        [database]
        url = "winback.db"

        [email]
        from_address = "Shop <hello@shop.example>"
        unsubscribe_mailto = "unsubscribe@shop.example"
        """) + RULES, encoding="utf-8")
    return path


def run_at(monkeypatch: pytest.MonkeyPatch, config: Path, now: datetime) -> str:
    """``winback run --no-sync`` with its clock at ``now``."""
    monkeypatch.setattr(cli_run, "run_clients", partial(run_clients, now=now))
    done = CliRunner().invoke(cli, ["run", "--config", str(config), "--no-sync"])
    assert done.exit_code == 0, done.output
    return done.output


def sent_steps(db: Path) -> dict[int, set[str]]:
    """Addresses each step (0-based) was sent to, from the ledger."""
    ledger = tables.action_ledger
    found: dict[int, set[str]] = {}
    with open_store(str(db)) as store, store.reading() as conn:
        rows = conn.execute(select(ledger.c.sequence_step, ledger.c.lower_email).where(
            ledger.c.status == "done", ledger.c.email_started_at.is_not(None))).all()
    for step, lower_email in rows:
        found.setdefault(int(step), set()).add(lower_email)
    return found


def written_codes(platform: dict[str, Any]) -> list[dict[str, Any]]:
    """The discount codes the platform accepted (the emulator's test hook)."""
    return httpx.get(f"{platform['server'].url}/_emulator/writes", timeout=10).json()[platform["codes"]]


def outbox_recipients(outbox: Path) -> list[str]:
    return sorted(parseaddr(email.message_from_bytes(path.read_bytes())["To"])[1].lower()
                  for path in outbox.glob("*.eml"))


def test_step_two_goes_only_to_those_who_did_not_come_back(
    platform: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, platform["store"])
    runner = CliRunner()
    synced = runner.invoke(cli, ["sync", "--config", str(config)])
    assert synced.exit_code == 0, synced.output
    day0 = platform["world"].now

    first = run_at(monkeypatch, config, day0)
    steps = sent_steps(tmp_path / "winback.db")
    reminded = steps.get(0, set())
    assert len(reminded) >= 10, (first, steps)
    assert set(steps) == {0}

    # half of them (a fixed draw) come back within ten days: real orders on the platform
    orders = responses(platform["world"], [Reminder(e, day0, False) for e in sorted(reminded)], seed=9,
                       p_sent=0.5, within_days=10)
    for order in orders:
        platform["place"](order)
    returned = {o.email.lower() for o in orders}
    assert 0 < len(returned) < len(reminded)
    assert runner.invoke(cli, ["sync", "--config", str(config)]).exit_code == 0

    monkeypatch.setattr(cli_plan, "plan_clients", partial(plan_clients, now=day0 + timedelta(days=15)))
    shown = runner.invoke(cli, ["plan", "--config", str(config), "--no-connect", "--json"])
    assert shown.exit_code == 0, shown.output
    due = {a["email"].lower(): a for a in json.loads(shown.stdout)[0]["actions"] if a["step"] == 2}
    assert set(due) == reminded - returned
    assert all(a["reason"].startswith("step 2 of 3: step 1 sent ") and a["reason"].endswith(
        "15 days ago (due after 14); no order since") for a in due.values())

    outbox = tmp_path / "outbox"
    before = outbox_recipients(outbox)
    codes_before = len(written_codes(platform))
    run_at(monkeypatch, config, day0 + timedelta(days=15))
    steps = sent_steps(tmp_path / "winback.db")
    assert steps[1] == reminded - returned
    assert 2 not in steps
    new = outbox_recipients(outbox)
    for address in before:
        new.remove(address)
    newly_lapsed = steps[0] - reminded  # their 180 days ended between the two runs: step 1
    assert sorted(new) == sorted((reminded - returned) | newly_lapsed)
    assert len(written_codes(platform)) - codes_before == len(reminded - returned)  # one personal code per step 2

    print(f"\n{platform['name']}: step 1 to {len(reminded)}, {len(returned)} came back, step 2 to "
          f"{len(steps[1])}, step 1 to {len(newly_lapsed)} newly lapsed")
    again = run_at(monkeypatch, config, day0 + timedelta(days=15))
    assert outbox_recipients(outbox) == sorted(before + new), again
