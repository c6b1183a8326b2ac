"""``GET /_emulator/writes``: the emulators' test hook listing every accepted write, in order.

Not part of either platform's API; process-level tests (the emulator in its own process) read it
to prove that nothing was created twice. Every accepted create is listed, rejected ones are not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from winback.emulator.ecwid import ALL_SCOPES, start_ecwid_emulator
from winback.emulator.generate import generate_world
from winback.emulator.server import EmulatorServer
from winback.emulator.shopify import graphql_url, start_shopify_emulator
from winback.emulator.world import World

pytestmark = pytest.mark.integration

CREATE_DISCOUNT = """mutation($input: DiscountCodeBasicInput!) { discountCodeBasicCreate(basicCodeDiscount: $input) {
  codeDiscountNode { id } userErrors { code } } }"""
CREATE_CUSTOMER = """mutation($input: CustomerInput!) { customerCreate(input: $input) {
  customer { id } userErrors { message } } }"""
INVITE = """mutation($id: ID!) { customerSendAccountInviteEmail(customerId: $id) {
  customer { id } userErrors { code } } }"""


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(seed=11, customers=40, products=10)


@pytest.fixture
def servers() -> Iterator[list[EmulatorServer]]:
    started: list[EmulatorServer] = []
    yield started
    for server in started:
        server.stop()


def _discount(code: str, customer_ids: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "title": f"Come back {code}", "code": code, "startsAt": "2026-01-01T00:00:00Z",
        "customerGets": {"value": {"percentage": 0.1}, "items": {"all": True}},
    }
    if customer_ids:
        spec["context"] = {"customers": {"add": customer_ids}}
    return {"input": spec}


def test_shopify_writes_lists_every_accepted_write_in_order(world: World, servers: list[EmulatorServer]) -> None:
    server, shop = start_shopify_emulator(world, throttle=False, customer_accounts="CLASSIC")  # invites work
    servers.append(server)
    http = httpx.Client(base_url=server.url, timeout=10)

    def gql(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        answer = http.post(graphql_url(server), json={"query": query, "variables": variables},
                           headers={"X-Shopify-Access-Token": shop.access_token}).json()
        assert "errors" not in answer, answer
        return next(iter(answer["data"].values()))

    assert http.get("/_emulator/writes").json() == {"discount_codes": [], "customers_created": [], "invites_sent": [],
                                                     "consent_updates": [], "webhook_subscriptions": [],
                                                     "tag_writes": []}
    existing = shop.customers[0]["id"]
    first = gql(CREATE_DISCOUNT, _discount("BACK-1", [existing]))["codeDiscountNode"]["id"]
    assert gql(CREATE_DISCOUNT, _discount("back-1", [existing]))["userErrors"] == [{"code": "TAKEN"}]
    second = gql(CREATE_DISCOUNT, _discount("BACK-2", [existing]))["codeDiscountNode"]["id"]
    everyone = gql(CREATE_DISCOUNT, _discount("ALL-3", []))["codeDiscountNode"]["id"]
    created = gql(CREATE_CUSTOMER, {"input": {"email": "new.buyer@example.com"}})["customer"]["id"]
    assert gql(CREATE_CUSTOMER, {"input": {"email": "NEW.buyer@example.com"}})["customer"] is None
    assert gql(INVITE, {"id": created})["customer"] == {"id": created}

    writes = http.get("/_emulator/writes").json()

    assert writes["discount_codes"] == [
        {"id": first, "code": "BACK-1", "customer_ids": [existing]},
        {"id": second, "code": "BACK-2", "customer_ids": [existing]},
        {"id": everyone, "code": "ALL-3", "customer_ids": []},
    ]
    assert writes["customers_created"] == [{"id": created, "email": "new.buyer@example.com"}]
    assert [(i["customer_id"], i["email"]) for i in writes["invites_sent"]] == [(created, "new.buyer@example.com")]
    assert writes == shop.writes()


def test_ecwid_writes_lists_every_accepted_write_in_order(world: World, servers: list[EmulatorServer]) -> None:
    server, ecwid = start_ecwid_emulator(world, scopes=ALL_SCOPES, requests_per_minute=100000)
    servers.append(server)
    api = httpx.Client(base_url=f"{server.url}/api/v3/{ecwid.store_id}", timeout=10,
                       headers={"Authorization": f"Bearer {ecwid.token}"})
    hook = f"{server.url}/_emulator/writes"

    assert httpx.get(hook).json() == {"discount_coupons": [], "customers_created": [], "customers_updated": [],
                                     "customer_groups_created": []}
    first = api.post("/discount_coupons", json={"name": "Back", "code": "BACK-1", "discount": 10}).json()["id"]
    assert api.post("/discount_coupons", json={"name": "Back", "code": "back-1"}).status_code == 409
    second = api.post("/discount_coupons", json={"name": "Back", "code": "BACK-2", "discount": 10}).json()["id"]
    customer = api.post("/customers", json={"email": "new.buyer@example.com"}).json()["id"]
    assert api.post("/customers", json={"email": "NEW.buyer@example.com"}).status_code == 409

    writes = httpx.get(hook).json()

    assert writes == {
        "discount_coupons": [{"id": first, "code": "BACK-1"}, {"id": second, "code": "BACK-2"}],
        "customers_created": [{"id": customer, "email": "new.buyer@example.com"}],
        "customers_updated": [],
        "customer_groups_created": [],
    }
    assert writes == ecwid.writes()


def test_writes_hook_is_get_only_and_refuses_non_loopback_hosts(world: World, servers: list[EmulatorServer]) -> None:
    shopify_server, _ = start_shopify_emulator(world)
    ecwid_server, _ = start_ecwid_emulator(world, scopes=ALL_SCOPES)
    servers.extend([shopify_server, ecwid_server])
    for server in (shopify_server, ecwid_server):
        url = f"{server.url}/_emulator/writes"
        assert httpx.get(url).status_code == 200
        assert httpx.get(url, headers={"Host": f"localhost:{server.url.rsplit(':', 1)[1]}"}).status_code == 200
        assert httpx.post(url, json={}).status_code == 404
        assert httpx.get(url, headers={"Host": "shop.example.com"}).status_code == 404


def test_writes_hook_from_a_winback_emulator_process() -> None:
    script = Path(sys.executable).with_name("winback-emulator")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "winback.emulator"]
    process = subprocess.Popen([*command, "ecwid", "--customers", "20", "--scopes", "all"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert httpx.get(f"{info['url']}/_emulator/writes", timeout=10).json() == {
            "discount_coupons": [], "customers_created": [], "customers_updated": [], "customer_groups_created": []}
    finally:
        process.terminate()
        process.wait(timeout=10)
