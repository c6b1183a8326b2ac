"""``winback demo``: the main job end to end on built-in emulators, with no credentials or network.

It starts a Shopify and an Ecwid emulator in this process (real HTTP servers on 127.0.0.1, each
with its own seeded store), syncs both through the real connectors into one SQLite file in the demo
folder, runs the sync a second time to show it is incremental, and returns a summary.

The Shopify emulator runs with a Shopify Plus-sized cost bucket (20,000 points, 1,000 points/s) so
the demo finishes in about a minute; the connector paces itself on that bucket exactly as it would
on a live store. The first Shopify read of orders goes through a bulk export (the connector's
default for stores of 500 orders or more), as it should for a store of that size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from winback.connectors.registry import load_connector_class
from winback.emulator.ecwid import start_ecwid_emulator
from winback.emulator.generate import generate_world
from winback.emulator.server import EmulatorServer
from winback.emulator.shopify import start_shopify_emulator
from winback.sync import SyncReport, open_store, sync_store


@dataclass(slots=True)
class DemoStore:
    label: str
    platform: str
    store_key: str
    first: SyncReport
    second: SyncReport
    counts: dict[str, int]


@dataclass(slots=True)
class DemoSummary:
    workdir: Path
    database: Path
    seconds: float
    stores: list[DemoStore] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"winback demo finished in {self.seconds:.1f} s", ""]
        header = f"{'store':<34} {'customers':>9} {'orders':>7} {'products':>8} {'buyers':>7} {'quarantined':>11}"
        lines += [header, "-" * len(header)]
        for store in self.stores:
            c = store.counts
            lines.append(
                f"{store.label:<34} {c['customers']:>9} {c['orders']:>7} {c['products']:>8} "
                f"{c['buyers']:>7} {c['quarantine']:>11}"
            )
        lines.append("")
        for store in self.stores:
            lines.append(
                f"{store.label}: first sync {store.first.upserted} records in {store.first.requests} requests "
                f"({store.first.duration:.1f} s); second sync {store.second.upserted} records in "
                f"{store.second.requests} requests ({store.second.duration:.1f} s)"
            )
        lines += ["", f"database: {self.database}", "", "Rules and emails are not built yet; see README."]
        return "\n".join(lines)


async def run_demo(workdir: Path, *, customers: int = 2000, seed: int = 1) -> DemoSummary:
    """Run the demo into ``workdir`` (created if missing); a rerun starts from a fresh database."""
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "winback.db"
    for leftover in (database, database.with_name("winback.db-wal"), database.with_name("winback.db-shm")):
        leftover.unlink(missing_ok=True)

    servers: list[EmulatorServer] = []
    try:
        shopify_world = generate_world(seed, customers=customers)
        shopify_server, shop = start_shopify_emulator(shopify_world, bucket_size=20_000, restore_rate=1_000)
        servers.append(shopify_server)
        ecwid_world = generate_world(seed + 1, customers=customers, store_name="Café Ørsted Goods")
        ecwid_server, ecwid = start_ecwid_emulator(ecwid_world, requests_per_minute=6_000)
        servers.append(ecwid_server)

        targets: list[tuple[str, str, dict[str, Any]]] = [
            (
                f"Shopify {shop.shop_domain}",
                "shopify",
                {
                    "shop": shop.shop_domain,
                    "access_token": shop.access_token,
                    "base_url": shopify_server.url,
                },
            ),
            (
                f"Ecwid store {ecwid.store_id}",
                "ecwid",
                {
                    "store_id": str(ecwid.store_id),
                    "token": ecwid.token,
                    "base_url": f"{ecwid_server.url}/api/v3",
                    "requests_per_minute": 6_000,
                },
            ),
        ]
        summary = DemoSummary(workdir=workdir, database=database, seconds=0.0)
        with open_store(f"sqlite:///{database}") as store:
            for label, platform, settings in targets:
                connector_class = load_connector_class(platform)
                reports = []
                for _ in range(2):
                    async with connector_class.from_settings(settings) as connector:
                        reports.append(await sync_store(connector, store))
                key = reports[0].store_key
                counts = {name: store.count(key, name) for name in ("customers", "orders", "products", "buyers", "quarantine")}
                summary.stores.append(DemoStore(label, platform, key, reports[0], reports[1], counts))
    finally:
        for server in servers:
            server.stop()
    summary.seconds = time.monotonic() - started
    return summary
