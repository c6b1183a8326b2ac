"""The demo run itself: start both emulators, sync twice, run the rules, let customers respond,
sync again, and write the outbox index and the report."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from winback.clients import run_clients
from winback.config import load_config
from winback.connectors.registry import load_connector_class
from winback.demo.configs import DemoTarget, write_config
from winback.demo.report import reminders, write_report
from winback.demo.summary import DemoStore, DemoSummary, outbox_labels, tally
from winback.emulator.ecwid import ALL_SCOPES, start_ecwid_emulator
from winback.emulator.generate import generate_world
from winback.emulator.respond import responses
from winback.emulator.server import EmulatorServer
from winback.emulator.shopify import start_shopify_emulator
from winback.notify.outbox_index import HTML_DIR, INDEX_NAME, write_outbox_index
from winback.sync import open_store, sync_store


async def run_demo(workdir: Path, *, customers: int = 2000, seed: int = 1) -> DemoSummary:
    """Run the demo into ``workdir`` (created if missing); a rerun starts from a fresh database
    and an empty outbox."""
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "winback.db"
    for leftover in (database, database.with_name("winback.db-wal"), database.with_name("winback.db-shm")):
        leftover.unlink(missing_ok=True)
    outbox = workdir / "outbox"
    _empty_outbox(outbox)
    outbox.mkdir(mode=0o700, exist_ok=True)

    servers: list[EmulatorServer] = []
    try:
        shopify_world = generate_world(seed, customers=customers)
        shopify_server, shop = start_shopify_emulator(shopify_world, bucket_size=20_000, restore_rate=1_000)
        servers.append(shopify_server)
        ecwid_world = generate_world(seed + 1, customers=customers, store_name="Café Ørsted Goods")
        # The demo runs every rule, so its token has every scope winback uses; a new Ecwid custom
        # app's token reaches only orders and products until Ecwid extends it (see the README).
        ecwid_server, ecwid = start_ecwid_emulator(ecwid_world, requests_per_minute=6_000, scopes=ALL_SCOPES)
        servers.append(ecwid_server)

        targets = [
            DemoTarget(
                f"Shopify {shop.shop_domain}",
                "shopify",
                {"shop": shop.shop_domain, "access_token": shop.access_token, "base_url": shopify_server.url},
                name="shopify",
                client=f"Demo Shopify ({shopify_world.store_name})",
                sender="hello@maple-and-thread.example",
            ),
            DemoTarget(
                f"Ecwid store {ecwid.store_id}",
                "ecwid",
                {
                    "store_id": str(ecwid.store_id),
                    "token": ecwid.token,
                    "base_url": f"{ecwid_server.url}/api/v3",
                    "requests_per_minute": 6_000,
                },
                name="ecwid",
                client=f"Demo Ecwid ({ecwid_world.store_name})",
                sender="hello@cafe-orsted.example",
            ),
        ]
        summary = DemoSummary(workdir=workdir, database=database, seconds=0.0, now=shopify_world.now)
        with open_store(f"sqlite:///{database}") as store:
            for target in targets:
                connector_class = load_connector_class(target.platform)
                reports = []
                for _ in range(2):
                    async with connector_class.from_settings(target.settings) as connector:
                        reports.append(await sync_store(connector, store))
                key = reports[0].store_key
                counts = {name: store.count(key, name) for name in ("customers", "orders", "products", "buyers", "quarantine")}
                summary.stores.append(DemoStore(target.label, target.platform, key, reports[0], reports[1], counts))

        configs = [write_config(workdir / "configs", target) for target in targets]
        rules_started = time.monotonic()
        with _quiet_per_action_logs():
            runs = await run_clients(
                [load_config(path) for path in configs], sync=False, concurrency=1, now=shopify_world.now
            )
        summary.rules_seconds = time.monotonic() - rules_started
        worlds = [(shopify_world, lambda o: shop.state.place_order(o)),
                  (ecwid_world, lambda o: ecwid.state.place_order(
                      o, ecwid_world.customer(o.customer_key) if o.customer_key is not None else None))]
        with open_store(f"sqlite:///{database}") as store:
            for demo_store, target, (world, place) in zip(summary.stores, targets, worlds, strict=True):
                placed = responses(world, reminders(store, demo_store.store_key), seed=seed)
                for order in placed:
                    place(order)
                demo_store.returned = len(placed)
                async with load_connector_class(target.platform).from_settings(target.settings) as connector:
                    demo_store.third = await sync_store(connector, store)
    finally:
        for server in servers:
            server.stop()

    labels: dict[str, dict[str, str]] = {}
    for demo_store, path, run in zip(summary.stores, configs, runs, strict=True):
        demo_store.config = path
        tally(demo_store, run)
        labels.update(outbox_labels(demo_store, run))
    summary.outbox = outbox
    summary.report, summary.lifts = write_report(workdir, database, summary)
    summary.emails = sum(1 for _ in outbox.glob("*.eml"))
    summary.index = write_outbox_index(outbox, labels=labels, title="winback demo outbox")
    summary.seconds = time.monotonic() - started
    return summary



# --- outbox and results -------------------------------------------------------------------------


def _empty_outbox(outbox: Path) -> None:
    """Remove what an earlier demo wrote (and only that), so the index shows this run's emails."""
    if not outbox.is_dir():
        return
    for pattern in ("*.eml", "index.jsonl", INDEX_NAME, f"{HTML_DIR}/*.html"):
        for path in outbox.glob(pattern):
            path.unlink(missing_ok=True)




@contextmanager
def _quiet_per_action_logs() -> Iterator[None]:
    """The executor logs one line per action; the demo's summary counts them instead."""
    logger = logging.getLogger("winback.rules.executor")
    before = logger.level
    logger.setLevel(max(logging.WARNING, before))
    try:
        yield
    finally:
        logger.setLevel(before)
