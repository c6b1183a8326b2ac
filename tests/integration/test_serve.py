"""``winback serve`` over a real process on loopback: the one-click unsubscribe (RFC 8058) and
the Shopify and Ecwid webhooks, against the emulators over real sockets and a real SQLite file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.integration.serve_harness import (
    ECWID_SECRET,
    SHOPIFY_SECRET,
    ServeProcess,
    ecwid_config,
    ecwid_webhook,
    shopify_config,
    shopify_webhook,
    wait_for,
)
from winback.cli.main import cli
from winback.emulator.ecwid import ALL_SCOPES, start_ecwid_emulator
from winback.emulator.generate import generate_world
from winback.emulator.shopify import start_shopify_emulator
from winback.notify import oneclick
from winback.sync import open_store, tables

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def emulators() -> Iterator[dict[str, Any]]:
    shop_server, shop = start_shopify_emulator(generate_world(1101, customers=40), restore_rate=1000, bucket_size=20000)
    ecwid_server, ecwid = start_ecwid_emulator(generate_world(1102, customers=30), scopes=ALL_SCOPES)
    try:
        yield {"shop_server": shop_server, "shop": shop, "ecwid_server": ecwid_server, "ecwid": ecwid}
    finally:
        shop_server.stop()
        ecwid_server.stop()


@pytest.fixture(scope="module")
def served(emulators: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("clients")
    acme = shopify_config(folder, "acme", emulators["shop_server"], emulators["shop"])
    eco = ecwid_config(folder, "eco", emulators["ecwid_server"], emulators["ecwid"])
    runner = CliRunner()
    for config in (acme, eco):
        done = runner.invoke(cli, ["sync", "--config", str(config)])
        assert done.exit_code == 0, done.output
    with ServeProcess(folder) as server:
        yield {"folder": folder, "server": server, "db": folder / "clients.db", **emulators}


def _db(served: dict[str, Any]) -> Any:
    return open_store(str(served["db"]))


def _subscribed(served: dict[str, Any], store_key: str, n: int, skip: int = 0) -> list[str]:
    with _db(served) as store, store.reading() as conn:
        c = tables.customers
        rows = conn.execute(select(c.c.lower_email).where(
            c.c.store_key == store_key, c.c.consent_state == "subscribed", c.c.lower_email.is_not(None),
        ).order_by(c.c.lower_email)).scalars().all()
    assert len(rows) >= n + skip
    return list(rows[skip:skip + n])


def _suppressed(served: dict[str, Any], email: str) -> bool:
    with _db(served) as store, store.reading() as conn:
        s = tables.suppressions
        return conn.execute(select(s.c.id).where(s.c.lower_email == email)).first() is not None


def _link(served: dict[str, Any], client: str, email: str) -> str:
    secret = oneclick.install_secret(served["folder"])
    return oneclick.link(served["server"].url, secret, client, email)


def _shop_writes(served: dict[str, Any]) -> dict[str, Any]:
    return httpx.get(f"{served['shop_server'].url}/_emulator/writes", timeout=10).json()


def _ecwid_writes(served: dict[str, Any]) -> dict[str, Any]:
    return httpx.get(f"{served['ecwid_server'].url}/_emulator/writes", timeout=10).json()


def _events(served: dict[str, Any], source: str) -> list[dict[str, Any]]:
    with _db(served) as store, store.reading() as conn:
        e = tables.webhook_events
        return [dict(r) for r in conn.execute(select(e).where(e.c.source == source)).mappings()]


# --- unsubscribe ---------------------------------------------------------------------------------


def test_install_secret_is_private_and_stable(served: dict[str, Any]) -> None:
    path = served["folder"] / oneclick.SECRET_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert oneclick.install_secret(served["folder"]) == oneclick.install_secret(served["folder"])


def test_one_click_post_unsubscribes_at_once_and_reaches_shopify_once(served: dict[str, Any]) -> None:
    [email] = _subscribed(served, f"shopify:{served['shop'].shop_domain}", 1)
    link = _link(served, "acme", email)
    page = httpx.get(link, timeout=10)  # a scanner's prefetch
    assert page.status_code == 200 and "<form method=post>" in page.text
    assert not _suppressed(served, email)

    answer = httpx.post(link, content=b"List-Unsubscribe=One-Click", timeout=10,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200
    assert _suppressed(served, email)  # local at once
    wait_for(lambda: [u for u in _shop_writes(served)["consent_updates"] if u["email"].lower() == email],
             what="the consent change on the emulator")
    again = httpx.post(link, content=b"List-Unsubscribe=One-Click", timeout=10)
    assert again.status_code == 200
    wait_for(lambda: httpx.get(f"{served['server'].url}/healthz").status_code == 200)
    updates = [u for u in _shop_writes(served)["consent_updates"] if u["email"].lower() == email]
    assert [u["marketing_state"] for u in updates] == ["UNSUBSCRIBED"]


def test_a_bad_token_gets_a_400_page_and_changes_nothing(served: dict[str, Any]) -> None:
    [email] = _subscribed(served, f"shopify:{served['shop'].shop_domain}", 1, skip=5)
    link = _link(served, "acme", email)
    forged = link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB")
    for url in (forged, link.replace("/acme/", "/eco/"), link.rsplit("/", 1)[0] + "/short"):
        assert httpx.post(url, content=b"List-Unsubscribe=One-Click", timeout=10).status_code == 400
        assert httpx.get(url, timeout=10).status_code == 400
    assert not _suppressed(served, email)


def test_page_confirm_then_undo_gives_consent_back(served: dict[str, Any]) -> None:
    [email] = _subscribed(served, f"shopify:{served['shop'].shop_domain}", 1, skip=8)
    link = _link(served, "acme", email)
    done = httpx.post(link, data={"confirm": "1"}, timeout=10)
    assert done.status_code == 200 and "id=undo" in done.text and _suppressed(served, email)
    wait_for(lambda: [u for u in _shop_writes(served)["consent_updates"] if u["email"].lower() == email])
    undone = httpx.post(link, data={"undo": "1"}, timeout=10)
    assert undone.status_code == 200 and "id=undone" in undone.text
    assert not _suppressed(served, email)
    def states() -> list[str]:
        return [u["marketing_state"] for u in _shop_writes(served)["consent_updates"] if u["email"].lower() == email]

    wait_for(lambda: len(states()) == 2, what="the undo on the emulator")
    assert states() == ["UNSUBSCRIBED", "SUBSCRIBED"]


def test_ecwid_unsubscribe_sets_accept_marketing_false(served: dict[str, Any]) -> None:
    [email] = _subscribed(served, f"ecwid:{served['ecwid'].store_id}", 1)
    answer = httpx.post(_link(served, "eco", email), content=b"List-Unsubscribe=One-Click", timeout=10)
    assert answer.status_code == 200
    update = wait_for(lambda: [u for u in _ecwid_writes(served)["customers_updated"] if u["email"].lower() == email])
    assert update == [{"id": update[0]["id"], "email": update[0]["email"], "acceptMarketing": False}]


def test_status_shows_pending_consent_changes(served: dict[str, Any], tmp_path: Path) -> None:
    from winback.rules.consent import ConsentQueue

    with _db(served) as store:
        ConsentQueue(store).unsubscribe("shopify:nowhere.myshopify.com", "someone@example.com", "page")
    folder = tmp_path / "c"
    folder.mkdir()
    config = shopify_config(folder, "nowhere", served["shop_server"], served["shop"], database=str(served["db"]))
    text = config.read_text().replace(served["shop"].shop_domain, "nowhere.myshopify.com")
    config.write_text(text)
    result = CliRunner().invoke(cli, ["status", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["consent_pending"] == 1


# --- Shopify webhooks ------------------------------------------------------------------------------


def _last_sync(served: dict[str, Any], store_key: str) -> Any:
    with _db(served) as store:
        info = store.get_store(store_key)
    return info and info["last_sync_finished"]


def test_order_webhook_starts_a_sync_and_a_replay_does_nothing(served: dict[str, Any]) -> None:
    key = f"shopify:{served['shop'].shop_domain}"
    before = _last_sync(served, key)
    url, shop = served["server"].url, served["shop"].shop_domain
    answer = shopify_webhook(url, shop, "orders/create", {"id": 1, "email": "x@example.com"}, webhook_id="wh-order-1")
    assert answer.status_code == 200 and answer.json()["duplicate"] is False
    wait_for(lambda: _last_sync(served, key) != before, what="a sync after the webhook")
    replay = shopify_webhook(url, shop, "orders/create", {"id": 1, "email": "x@example.com"}, webhook_id="wh-order-1")
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    rows = [e for e in _events(served, "shopify") if e["event_id"] == "wh-order-1"]
    assert len(rows) == 1 and rows[0]["status"] == "done" and rows[0]["payload"] is None


def test_bad_webhooks_are_refused_before_anything_happens(served: dict[str, Any]) -> None:
    url, shop = served["server"].url, served["shop"].shop_domain
    before = len(_events(served, "shopify"))
    assert shopify_webhook(url, shop, "orders/create", {"id": 2}, webhook_id="f1", signature="AAAA").status_code == 401
    assert shopify_webhook(url, shop, "orders/create", {"id": 2}, webhook_id="f2", signature="").status_code == 401
    assert shopify_webhook(url, shop, "orders/create", {"id": 2}, webhook_id="f3", secret="other-secret").status_code == 401
    assert shopify_webhook(url, "unknown.myshopify.com", "orders/create", {}, webhook_id="f4").status_code == 404
    assert shopify_webhook(url, shop, "orders/create", None, webhook_id="f5", body=b"{not json").status_code == 400
    big = b'{"pad": "' + b"x" * (300 * 1024) + b'"}'
    assert shopify_webhook(url, shop, "orders/create", None, webhook_id="f6", body=big).status_code == 413
    assert len(_events(served, "shopify")) == before


def test_data_request_writes_everything_held_on_the_customer(served: dict[str, Any]) -> None:
    key = f"shopify:{served['shop'].shop_domain}"
    [email] = _subscribed(served, key, 1, skip=12)
    with _db(served) as store, store.reading() as conn:
        cid = conn.execute(select(tables.customers.c.id).where(tables.customers.c.lower_email == email)).scalar_one()
    payload = {"shop_domain": served["shop"].shop_domain, "customer": {"id": int(cid.rsplit("/", 1)[-1]), "email": email},
               "orders_requested": [], "data_request": {"id": 9001}}
    assert shopify_webhook(served["server"].url, served["shop"].shop_domain, "customers/data_request", payload,
                           webhook_id="wh-dr-1").status_code == 200
    path = served["folder"] / "data_requests" / "acme-9001.json"
    wait_for(path.exists, what="the data request file")
    document = json.loads(path.read_text())
    assert document["held_by_winback"]["customers"][0]["lower_email"] == email
    assert path.stat().st_mode & 0o777 == 0o600


def test_customers_redact_erases_the_customer_locally(served: dict[str, Any]) -> None:
    key = f"shopify:{served['shop'].shop_domain}"
    [email] = _subscribed(served, key, 1, skip=14)
    with _db(served) as store, store.reading() as conn:
        cid = conn.execute(select(tables.customers.c.id).where(tables.customers.c.lower_email == email)).scalar_one()
    payload = {"shop_domain": served["shop"].shop_domain, "customer": {"id": int(cid.rsplit("/", 1)[-1]), "email": email},
               "orders_to_redact": []}
    assert shopify_webhook(served["server"].url, served["shop"].shop_domain, "customers/redact", payload,
                           webhook_id="wh-redact-1").status_code == 200

    def redacted() -> bool:
        with _db(served) as store, store.reading() as conn:
            c = tables.customers
            row = conn.execute(select(c.c.redacted, c.c.email).where(c.c.store_key == key, c.c.id == cid)).first()
        return bool(row and row[0] and row[1] is None)

    wait_for(redacted, what="the customer redacted")


# --- Ecwid webhooks --------------------------------------------------------------------------------


def test_ecwid_webhook_is_verified_deduped_and_syncs(served: dict[str, Any]) -> None:
    url, store_id = served["server"].url, served["ecwid"].store_id
    key = f"ecwid:{store_id}"
    before = _last_sync(served, key)
    assert ecwid_webhook(url, store_id, "order.created", event_id="ev-1", signature="bad").status_code == 401
    assert ecwid_webhook(url, store_id, "order.created", event_id="ev-1", signature="").status_code == 401
    assert ecwid_webhook(url, 999999, "order.created", event_id="ev-1").status_code == 404
    assert not [e for e in _events(served, "ecwid") if e["event_id"] == "ev-1"]
    first = ecwid_webhook(url, store_id, "order.created", event_id="ev-1", data={"orderId": "X1"})
    assert first.status_code == 200 and first.json()["duplicate"] is False
    assert ecwid_webhook(url, store_id, "order.created", event_id="ev-1").json()["duplicate"] is True
    wait_for(lambda: _last_sync(served, key) != before, what="a sync after the Ecwid webhook")
    assert len([e for e in _events(served, "ecwid") if e["event_id"] == "ev-1"]) == 1


def test_webhooks_register_subscribes_the_api_topics_once(served: dict[str, Any]) -> None:
    config = str(served["folder"] / "acme.toml")
    first = CliRunner().invoke(cli, ["webhooks", "register", "--config", config,
                                     "--public-url", "https://winback.example.com"])
    assert first.exit_code == 0, first.output
    assert "privacy topics" in first.output and "shopify.app.toml" in first.output
    again = CliRunner().invoke(cli, ["webhooks", "register", "--config", config,
                                     "--public-url", "https://winback.example.com"])
    assert again.exit_code == 0 and "already subscribed" in again.output
    subs = _shop_writes(served)["webhook_subscriptions"]
    assert sorted(s["topic"] for s in subs) == ["APP_UNINSTALLED", "CUSTOMERS_DELETE", "CUSTOMERS_UPDATE",
                                                  "ORDERS_CREATE", "ORDERS_DELETE", "ORDERS_UPDATED"]
    assert {s["uri"] for s in subs} == {"https://winback.example.com/webhooks/shopify"}


# --- last: uninstall and shop/redact (they end the store's life in this module) -----------------


def test_logs_hold_no_secret_and_no_full_address(served: dict[str, Any]) -> None:
    text = served["server"].log()
    assert "unsubscribed" in text  # the log does speak of what happened
    for secret in (SHOPIFY_SECRET, ECWID_SECRET, served["shop"].access_token, served["ecwid"].token,
                   oneclick.install_secret(served["folder"]).decode()):
        assert secret not in text
    with _db(served) as store, store.reading() as conn:
        emails = conn.execute(select(tables.suppressions.c.lower_email)).scalars().all()
    assert emails and not [e for e in emails if e in text]


def test_app_uninstalled_disconnects_and_shop_redact_erases(served: dict[str, Any]) -> None:
    url, shop = served["server"].url, served["shop"].shop_domain
    key = f"shopify:{shop}"
    assert shopify_webhook(url, shop, "app/uninstalled", {"id": 1}, webhook_id="wh-un-1").status_code == 200
    config = served["folder"] / "acme.toml"

    def status() -> dict[str, Any]:
        done = CliRunner().invoke(cli, ["status", "--config", str(config), "--json"])
        return json.loads(done.stdout)[0]

    wait_for(lambda: status().get("disconnected_at"), what="the disconnected mark")
    run = CliRunner().invoke(cli, ["run", "--config", str(config)])
    assert run.exit_code != 0 and "disconnected" in run.output

    assert shopify_webhook(url, shop, "shop/redact", {"shop_domain": shop}, webhook_id="wh-sr-1").status_code == 200
    wait_for(lambda: status()["counts"]["customers"] == 0 and not status()["synced"], what="the store erased")
    reconnect = CliRunner().invoke(cli, ["webhooks", "reconnect", "--config", str(config)])
    assert reconnect.exit_code == 0 and "connected again" in reconnect.output
