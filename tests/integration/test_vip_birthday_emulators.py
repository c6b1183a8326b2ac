"""``vip_tiers`` and ``birthday`` end to end on both platforms: the emulators over real sockets
(birth dates seeded in a Shopify customer metafield and an Ecwid customer extra field), real SQLite,
the outbox sender, the CLI through click's CliRunner. A first run writes each tier once (Shopify
tags, Ecwid customer groups) and sends each birthday gift once; a second run writes and sends
nothing; the platform then shows each tier exactly."""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.integration.configs import vip_birthday_rules
from tests.plugin_dist import NEW_RULES, install_dist_info
from winback.cli.main import cli
from winback.emulator.ecwid import ALL_SCOPES as ECWID_SCOPES
from winback.emulator.ecwid import start_ecwid_emulator
from winback.emulator.generate import generate_world
from winback.emulator.shopify import start_shopify_emulator
from winback.rules import registry

pytestmark = pytest.mark.integration

RULES = vip_birthday_rules(perk_percent=15)
EMAIL = """
[email]
from_address = "Acme <hello@acme.example>"
unsubscribe_mailto = "unsubscribe@acme.example"

[limits]
max_actions_per_run = 100000
marketing_cap_count = 100
"""


@pytest.fixture
def new_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Register the two rules as the installed package does once reinstalled (a dist-info with
    their entry points), whatever the environment's installed metadata says."""
    if {"vip_tiers", "birthday"} <= set(registry.available_rules()):
        yield
        return
    install_dist_info(monkeypatch, tmp_path / "plugins", "winback_new_rules", NEW_RULES)
    registry.clear_cache()
    yield
    registry.clear_cache()


def _config(directory: Path, store: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "acme.toml"
    path.write_text(textwrap.dedent(f"""\
        [client]
        name = "Acme"

        [store]
        {store}
        postal_address = "1 Market Street, Springfield"

        [database]
        url = "clients.db"
        """) + EMAIL + RULES, encoding="utf-8")
    return path


def _plan(runner: CliRunner, config: Path) -> dict[str, list[dict[str, Any]]]:
    planned = runner.invoke(cli, ["plan", "--config", str(config), "--json"])
    assert planned.exit_code == 0, planned.output
    [entry] = json.loads(planned.stdout)
    by_rule: dict[str, list[dict[str, Any]]] = {"vip_tiers": [], "birthday": []}
    for action in entry["actions"]:
        by_rule[action["rule"]].append(action)
    return by_rule


def _run_twice(runner: CliRunner, config: Path, planned: dict[str, list[dict[str, Any]]]) -> None:
    first = runner.invoke(cli, ["run", "--config", str(config), "--no-sync"])
    assert first.exit_code == 0, first.output
    total = sum(len(actions) for actions in planned.values())
    assert f"done={total}" in first.stdout, first.stdout
    mails = list((config.parent / "outbox").glob("*.eml"))
    welcomes = [a for a in planned["vip_tiers"] if "send_email" in a["steps"]]
    assert len(mails) == len(welcomes) + len(planned["birthday"])
    subjects = Counter("Happy birthday" in p.read_text(encoding="utf-8") for p in mails)
    assert subjects[True] == len(planned["birthday"])

    second = runner.invoke(cli, ["run", "--config", str(config), "--no-sync"])
    assert second.exit_code == 0, second.output
    assert "done=" not in second.stdout or "done=0" in second.stdout
    assert len(list((config.parent / "outbox").glob("*.eml"))) == len(mails)


def test_shopify_tiers_are_tags_and_birthdays_come_from_a_metafield(tmp_path: Path, new_rules: None) -> None:
    server, shop = start_shopify_emulator(generate_world(2141, customers=150), restore_rate=1000, bucket_size=20000,
                                          birthday_metafield="facts.birth_date")
    try:
        store = (f'platform = "shopify"\nshop = "{shop.shop_domain}"\naccess_token = "{shop.access_token}"\n'
                 f'base_url = "{server.url}"\nbirth_date_metafield = "facts.birth_date"')
        config = _config(tmp_path / "clients", store)
        runner = CliRunner()
        synced = runner.invoke(cli, ["sync", "--config", str(config)])
        assert synced.exit_code == 0, synced.output
        planned = _plan(runner, config)
        assert planned["vip_tiers"] and planned["birthday"], planned
        assert {a["steps"][0] for a in planned["vip_tiers"]} == {"set_customer_tier"}
        codes_before = len(shop.writes()["discount_codes"])

        _run_twice(runner, config, planned)

        writes = shop.writes()
        tagged = [w for w in writes["tag_writes"] if "added" in w]
        assert len(tagged) == len(planned["vip_tiers"]), "one tag write per tier change"
        assert len({w["customer_id"] for w in tagged}) == len(tagged)
        wanted = {a["email"].casefold(): a for a in planned["vip_tiers"]}
        for customer in shop.state.customers.by_num.values():
            labels = {t for t in customer["tags"] if t.startswith("VIP ")}
            if (customer["email"] or "").casefold() in wanted:
                tier = "Gold" if "tier Gold" in wanted[customer["email"].casefold()]["reason"] else "Silver"
                assert labels == {f"VIP {tier}"}
            else:
                assert labels == set()
        perks = sum("create_discount_code" in a["steps"] for a in planned["vip_tiers"])
        assert len(writes["discount_codes"]) - codes_before == perks + len(planned["birthday"])

        resynced = runner.invoke(cli, ["sync", "--config", str(config)])
        assert resynced.exit_code == 0, resynced.output
        again = _plan(runner, config)
        assert again["vip_tiers"] == [], "the synced tags and the ledger agree: nothing to change"
    finally:
        server.stop()


def test_ecwid_tiers_are_customer_groups_and_birthdays_come_from_an_extra_field(
    tmp_path: Path, new_rules: None
) -> None:
    server, app = start_ecwid_emulator(generate_world(2142, customers=150), scopes=ECWID_SCOPES,
                                       requests_per_minute=100_000, birthday_field="birthday")
    try:
        store = (f'platform = "ecwid"\nstore_id = "{app.store_id}"\ntoken = "{app.token}"\n'
                 f'base_url = "{server.url}/api/v3"\nrequests_per_minute = 100000\nbirth_date_field = "birthday"')
        config = _config(tmp_path / "clients", store)
        runner = CliRunner()
        synced = runner.invoke(cli, ["sync", "--config", str(config)])
        assert synced.exit_code == 0, synced.output
        planned = _plan(runner, config)
        assert planned["vip_tiers"] and planned["birthday"], planned
        # The merchant put one future VIP in a group of their own meanwhile: it must stay there.
        app.state.customer_groups[42] = "Wholesale"
        chosen = planned["vip_tiers"][0]["email"].casefold()
        wholesale = next(r.body["id"] for r in app.state.customers.values()
                         if str(r.body.get("email", "")).casefold() == chosen)
        app.state.customers[wholesale].body.update(customerGroupId=42, customerGroupName="Wholesale")

        first = runner.invoke(cli, ["run", "--config", str(config), "--no-sync"])
        assert first.exit_code == 0, first.output
        second = runner.invoke(cli, ["run", "--config", str(config), "--no-sync"])
        assert second.exit_code == 0, second.output

        writes = app.writes()
        assert sorted(g["name"] for g in writes["customer_groups_created"]) == sorted(
            {"VIP Gold" if "tier Gold" in a["reason"] else "VIP Silver" for a in planned["vip_tiers"]})
        moved = [w for w in writes["customers_updated"] if "customerGroupId" in w]
        assert len(moved) == len({w["id"] for w in moved}), "each customer moved once"
        groups = {g["name"]: g["id"] for g in writes["customer_groups_created"]}
        by_email = {str(r.body.get("email", "")).casefold(): r.body for r in app.state.customers.values()}
        kept = 0
        for action in planned["vip_tiers"]:
            body = by_email[action["email"].casefold()]
            if body["id"] == wholesale:
                assert body["customerGroupName"] == "Wholesale", "a merchant's own group is left alone"
                kept += 1
                continue
            tier = "VIP Gold" if "tier Gold" in action["reason"] else "VIP Silver"
            assert (body["customerGroupId"], body["customerGroupName"]) == (groups[tier], tier)
        assert kept == 1 and len(moved) == len(planned["vip_tiers"]) - 1
        assert "skipped=1" in first.stdout, first.stdout
        perks = sum("create_discount_code" in a["steps"] for a in planned["vip_tiers"]
                    if by_email[a["email"].casefold()]["id"] != wholesale)
        assert len(writes["discount_coupons"]) == perks + len(planned["birthday"])
        assert "done=0" in second.stdout or "done=" not in second.stdout
    finally:
        server.stop()
