"""``feedback_request`` end to end on both emulators: fulfilment times synced, the rule sends one
email per due order through the outbox, a real ``winback serve`` records the clicks from those
emails (one answer per order, last score wins, comment kept, altered links refused) and
``winback status`` shows the NPS."""

from __future__ import annotations

import email
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.integration.serve_harness import ServeProcess, ecwid_config, free_port, shopify_config
from winback.cli.main import cli
from winback.emulator.ecwid import ALL_SCOPES, start_ecwid_emulator
from winback.emulator.ecwid.render import order_public_id
from winback.emulator.generate import generate_world
from winback.emulator.shopify import start_shopify_emulator
from winback.sync import open_store, tables

pytestmark = pytest.mark.integration

RULE = "\n[rules.feedback_request]\nmax_age_days = 40\n\n[limits]\nmax_actions_per_run = 500\n"
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/f/[^/\s]+/[^/\s]+/[^?\s]+)\?score=(\d+)")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    now = datetime.now(UTC)
    shop_world = generate_world(1401, customers=40, now=now)
    ecwid_world = generate_world(1402, customers=40, now=now)
    shop_server, shop = start_shopify_emulator(shop_world, restore_rate=1000, bucket_size=20000)
    ecwid_server, ecwid = start_ecwid_emulator(ecwid_world, scopes=ALL_SCOPES)
    folder = tmp_path_factory.mktemp("clients")
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    shopify_config(folder, "acme", shop_server, shop, public_url=public, extra=RULE)
    eco = ecwid_config(folder, "eco", ecwid_server, ecwid)
    eco.write_text(eco.read_text(encoding="utf-8") + f'public_url = "{public}"\n' + RULE, encoding="utf-8")
    try:
        yield {"folder": folder, "port": port, "worlds": {"acme": shop_world, "eco": ecwid_world},
               "keys": {"acme": f"shopify:{shop.shop_domain}", "eco": f"ecwid:{ecwid.store_id}"}}
    finally:
        shop_server.stop()
        ecwid_server.stop()


def _orders(folder: Path, store_key: str) -> dict[str, dict[str, Any]]:
    with open_store(str(folder / "clients.db")) as store, store.reading() as conn:
        o = tables.orders
        rows = conn.execute(select(o.c.id, o.c.name, o.c.fulfilled_at, o.c.delivered_at, o.c.fulfillment_status)
                            .where(o.c.store_key == store_key)).mappings()
        return {str(r["name"]): dict(r) for r in rows}


def _feedback(folder: Path) -> list[dict[str, Any]]:
    with open_store(str(folder / "clients.db")) as store, store.reading() as conn:
        return [dict(r) for r in conn.execute(select(tables.feedback).order_by(tables.feedback.c.order_id)).mappings()]


def _outbox(folder: Path, client: str) -> list[EmailMessage]:
    paths = sorted((folder / "outbox").glob("*.eml"))
    messages = [email.message_from_bytes(p.read_bytes(), policy=default_policy) for p in paths]
    return [m for m in messages if "from " in str(m["Subject"])]  # type: ignore[misc]


def test_sync_plan_run_and_answers_on_both_platforms(setup: dict[str, Any]) -> None:
    folder, runner = setup["folder"], CliRunner()
    for client in ("acme", "eco"):
        done = runner.invoke(cli, ["sync", "--config", str(folder / f"{client}.toml")])
        assert done.exit_code == 0, done.output

    # Fulfilment facts land as each platform tells them.
    shop_orders = _orders(folder, setup["keys"]["acme"])
    for o in setup["worlds"]["acme"].orders:
        row = shop_orders[f"#{o.number}"]
        assert row["fulfilled_at"] == o.fulfilled_at and row["delivered_at"] == o.delivered_at
    eco_orders = _orders(folder, setup["keys"]["eco"])
    delivered = [o for o in setup["worlds"]["eco"].orders if o.delivered_at is not None]
    assert delivered
    for o in setup["worlds"]["eco"].orders:
        row = eco_orders[f"#{order_public_id(o.key)}"]
        if o.fulfilled_at is None:
            assert row["fulfilled_at"] is None and row["fulfillment_status"] == "awaiting_processing"
        else:  # Ecwid has no per-status timestamp: the updateDate of the first sighting
            assert row["fulfilled_at"] == o.updated_at.replace(microsecond=0)
            assert row["fulfillment_status"] == ("delivered" if o.delivered_at else "shipped")

    sent: dict[str, list[EmailMessage]] = {}
    for client in ("acme", "eco"):
        config = str(folder / f"{client}.toml")
        planned = runner.invoke(cli, ["plan", "--config", config, "--json"])
        assert planned.exit_code == 0, planned.output
        [entry] = json.loads(planned.stdout)
        actions = [a for a in entry["actions"] if a["rule"] == "feedback_request"]
        assert actions, entry
        assert all("not asked about it yet" in a["reason"] for a in actions)
        assert len({a["email"] for a in actions}) == len(actions)  # one order per buyer
        before = len(list((folder / "outbox").glob("*.eml")))
        ran = runner.invoke(cli, ["run", "--config", config, "--no-sync"])
        assert ran.exit_code == 0, ran.output
        assert f"done={len(actions)}" in ran.stdout
        sent[client] = sorted((folder / "outbox").glob("*.eml"))[before:]  # type: ignore[assignment]
        assert len(sent[client]) == len(actions)
        again = runner.invoke(cli, ["run", "--config", config, "--no-sync"])
        assert again.exit_code == 0 and len(list((folder / "outbox").glob("*.eml"))) == before + len(actions)

    with ServeProcess(folder, port=setup["port"]) as server:
        answered = []
        for client, paths in sent.items():
            message = email.message_from_bytes(paths[0].read_bytes(), policy=default_policy)  # type: ignore[attr-defined]
            text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            links = LINK.findall(text)
            assert [int(score) for _, score in links] == list(range(11))
            base = links[0][0]
            assert base.startswith(f"{server.url}/f/{client}/")
            first = httpx.get(f"{base}?score=9", timeout=10)
            assert first.status_code == 200 and 'id=score>9<' in first.text
            again = httpx.get(f"{base}?score=6", timeout=10)  # changed their mind: the same answer, updated
            assert again.status_code == 200 and 'id=score>6<' in again.text
            head = httpx.head(f"{base}?score=0", timeout=10)  # a link scanner's HEAD records nothing
            assert head.status_code == 200
            posted = httpx.post(base, data={"score": "6", "comment": "Arrived <b>late</b>"}, timeout=10)
            assert posted.status_code == 200 and "id=saved" in posted.text and "&lt;b&gt;late" in posted.text
            tampered = base[:-1] + ("A" if base[-1] != "A" else "B")
            assert httpx.get(f"{tampered}?score=10", timeout=10).status_code == 400
            assert httpx.get(f"{base}?score=11", timeout=10).status_code == 400
            answered.append(client)
        assert "late" not in server.log()  # comments and addresses stay out of the log

    rows = _feedback(folder)
    assert len(rows) == 2
    assert all(r["score"] == 6 and r["clicks"] == 3 and r["comment"] == "Arrived <b>late</b>" for r in rows)
    assert {r["store_key"] for r in rows} == set(setup["keys"].values())
    assert all(r["lower_email"] for r in rows)

    status = runner.invoke(cli, ["status", "--config", str(folder / "acme.toml"), "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)[0]["feedback"] == {
        "answers": 1, "average": 6.0, "nps": -100.0, "promoters": 0, "passives": 0, "detractors": 1}
    plain = runner.invoke(cli, ["status", "--config", str(folder / "eco.toml")])
    assert "feedback: 1 answer, average 6.0/10, NPS -100" in plain.output
