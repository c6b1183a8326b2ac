"""``replenishment`` and co-purchase recommendations end to end on both emulators: ``winback sync``
over real sockets into SQLite, ``plan``, ``run`` with the outbox sender, then a second run that
does nothing. The reminders must point at the product the buyer bought on the anchoring order, by
the URL the platform gave that product."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import and_, select

from winback.cli.main import cli
from winback.emulator.ecwid import ALL_SCOPES, start_ecwid_emulator
from winback.emulator.generate import DEFAULT_NOW, generate_world
from winback.emulator.shopify import start_shopify_emulator
from winback.sync import open_store, tables

pytestmark = pytest.mark.integration

RULES = """
[rules.replenishment]
min_repeat_buyers = 3
max_overdue_days = 365
products = 2

[rules.back_to_bestsellers]
enabled = false
"""


@pytest.fixture(params=["shopify", "ecwid"])
def store_section(request: pytest.FixtureRequest) -> Iterator[str]:
    world = generate_world(41, customers=300, now=DEFAULT_NOW)
    if request.param == "shopify":
        server, shop = start_shopify_emulator(world, restore_rate=20_000, bucket_size=200_000)
        section = (f'platform = "shopify"\nshop = "{shop.shop_domain}"\naccess_token = "{shop.access_token}"\n'
                   f'base_url = "{server.url}"\nbulk_threshold = 100000\n')
    else:
        server, app = start_ecwid_emulator(world, scopes=ALL_SCOPES, requests_per_minute=60_000)
        section = (f'platform = "ecwid"\nstore_id = "{app.store_id}"\ntoken = "{app.token}"\n'
                   f'base_url = "{server.url}/api/v3"\nrequests_per_minute = 60000\n')
    try:
        yield section
    finally:
        server.stop()


def write_config(directory: Path, store: str) -> Path:
    path = directory / "client.toml"
    path.write_text(
        textwrap.dedent(
            """\
            [client]
            name = "Refill Shop"

            [database]
            url = "winback.db"

            [email]
            from_address = "Refill <hello@refill.example>"
            unsubscribe_mailto = "unsubscribe@refill.example"

            [limits]
            max_actions_per_run = 100000
            """
        )
        + "\n[store]\n" + store + RULES,
        encoding="utf-8",
    )
    return path


def test_replenishment_reminds_due_buyers_once_with_a_link_to_their_product(store_section: str, tmp_path: Path) -> None:
    runner = CliRunner()
    config = write_config(tmp_path, store_section)
    synced = runner.invoke(cli, ["sync", "--config", str(config)])
    assert synced.exit_code == 0, synced.output

    planned = runner.invoke(cli, ["plan", "--config", str(config), "--json"])
    assert planned.exit_code == 0, planned.output
    [entry] = json.loads(planned.stdout)
    actions = [a for a in entry["actions"] if a["rule"] == "replenishment"]
    assert actions, "the emulated store has no due reorder: the test would prove nothing"
    assert len({a["email"].casefold() for a in actions}) == len(actions), "one reminder per buyer"

    for action in actions:
        assert "reorder it about every" in action["reason"] and "subscribed" in action["reason"]
    messages = _run(runner, config, tmp_path)
    assert len(messages) == len(actions)

    o, line, ledger = tables.orders, tables.order_lines, tables.action_ledger
    with open_store(str(tmp_path / "winback.db")) as store, store.engine.connect() as conn:
        urls = dict(conn.execute(select(tables.products.c.id, tables.products.c.url)).all())
        purchases = conn.execute(
            select(o.c.id, o.c.lower_email, o.c.ordered_at, o.c.counts_as_purchase, o.c.cancelled_at, o.c.test,
                   line.c.product_id)
            .join(line, and_(line.c.store_key == o.c.store_key, line.c.order_id == o.c.id))
        ).all()
        done = {row.lower_email: row.payload for row in conn.execute(
            select(ledger.c.lower_email, ledger.c.payload, ledger.c.status).where(ledger.c.rule == "replenishment")
        ) if row.status == "done"}
    assert len(done) == len(actions)
    for message in messages:
        to = message["To"].addresses[0].addr_spec.casefold()
        payload = done[to]
        product, anchor = payload["product_id"], payload["anchor_order_id"]
        [anchored] = [p for p in purchases if p.id == anchor and p.product_id == product]
        assert anchored.lower_email == to and anchored.counts_as_purchase
        assert not [p for p in purchases if p.lower_email == to and p.product_id == product
                    and p.ordered_at > anchored.ordered_at and p.cancelled_at is None and not p.test]
        body = message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
        assert "Customers usually reorder it after" in body
        reorder = body.split("You may also like")[0]
        assert f"  {urls[product]}\n" in reorder, (to, reorder)

    # Buyers due for a second product get it on a later run, once the marketing cap (one a
    # week by default) allows: nothing now, and never the same reminder twice.
    again = runner.invoke(cli, ["run", "--config", str(config), "--no-sync"])
    assert again.exit_code == 0, again.output
    assert len(list((tmp_path / "outbox").rglob("*.eml"))) == len(messages)
    replanned = runner.invoke(cli, ["plan", "--config", str(config), "--json"])
    [entry] = json.loads(replanned.stdout)
    assert not {a["idempotency_key"] for a in entry["actions"]} & {a["idempotency_key"] for a in actions}


def _run(runner: CliRunner, config: Path, directory: Path) -> list[Any]:
    done = runner.invoke(cli, ["run", "--config", str(config), "--no-sync"])
    assert done.exit_code == 0, done.output
    return [message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in sorted((directory / "outbox").rglob("*.eml"))]
