"""A sync run in its own process, for the process-kill tests (``test_sync_kill.py``).

Usage: ``python sync_kill_worker.py PLATFORM SETTINGS_JSON DATABASE_URL``

Runs :func:`winback.sync.sync_store` once with the real connector. After every committed page it
prints ``{"page": ..., "resource": ..., "records": ...}`` on stdout, so the test can kill it at a
known point; when the run completes it prints ``{"done": true, "report": {...}}`` and exits 0.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from winback.connectors.registry import load_connector_class
from winback.sync import SyncProgress, open_store, sync_store

KILL_BATCH_RECORDS = 500
"""Small batches, so that the test stores (a few thousand records) commit many times and a kill
lands between batches of one resource; the guarantees hold at any batch size."""


def _say(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()


async def run(platform: str, settings: dict[str, Any], url: str) -> None:
    pages = 0

    def progress(event: SyncProgress) -> None:
        nonlocal pages
        pages += 1
        _say({"page": pages, "resource": event.resource.value, "records": event.records,
              "deletion_pages": event.deletion_pages})

    store = open_store(url)
    try:
        async with load_connector_class(platform).from_settings(settings) as connector:
            report = await sync_store(connector, store, progress=progress, batch_records=KILL_BATCH_RECORDS)
    finally:
        store.close()
    _say({
        "done": True,
        "report": {
            "store_key": report.store_key,
            "resources": {
                resource.value: {"since": r.since, "upserted": r.upserted, "pages": r.pages, "rejected": r.rejected,
                                 "deleted": r.deleted}
                for resource, r in report.resources.items()
            },
        },
    })


def main() -> None:
    platform, settings, url = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    asyncio.run(run(platform, settings, url))


if __name__ == "__main__":
    main()
