"""Load on ``winback serve``: N signed Shopify webhooks from C concurrent senders (plus replays of
a share of them), against a real server process on loopback with a real SQLite file.

Prints figures; asserts nothing about time. Checks the outcome: every distinct webhook recorded
and handled exactly once (none lost, none twice), every replay answered as a duplicate.

    .venv/bin/python bench/serve_load.py [--webhooks 2000] [--senders 20] [--replays 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from tests.integration.serve_harness import SHOPIFY_SECRET, ServeProcess, shopify_config, wait_for  # noqa: E402
from winback.emulator.generate import generate_world  # noqa: E402
from winback.emulator.shopify import start_shopify_emulator  # noqa: E402
from winback.sync import open_store, tables  # noqa: E402


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


async def _send(url: str, shop: str, ids: list[str], senders: int) -> tuple[list[float], dict[int, int], int]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for webhook_id in ids:
        queue.put_nowait(webhook_id)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    duplicates = 0

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal duplicates
        while not queue.empty():
            webhook_id = queue.get_nowait()
            body = json.dumps({"id": webhook_id, "email": "load@example.com", "line_items": [{"id": 1}] * 5}).encode()
            digest = base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()).decode()
            headers = {"Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
                       "X-Shopify-Shop-Domain": shop, "X-Shopify-Webhook-Id": webhook_id,
                       "X-Shopify-Hmac-Sha256": digest}
            start = time.perf_counter()
            response = await client.post(f"{url}/webhooks/shopify", content=body, headers=headers)
            latencies.append(time.perf_counter() - start)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code == 200 and response.json().get("duplicate"):
                duplicates += 1

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=senders)) as client:
        await asyncio.gather(*(sender(client) for _ in range(senders)))
    return latencies, statuses, duplicates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--replays", type=float, default=0.1, help="share of webhooks delivered twice")
    args = parser.parse_args()

    server, shop = start_shopify_emulator(generate_world(1401, customers=50), restore_rate=1000, bucket_size=20000)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shopify_config(folder, "acme", server, shop)
        ids = [f"load-{n:06d}" for n in range(args.webhooks)]
        replays = ids[: int(len(ids) * args.replays)]
        with ServeProcess(folder, debounce=1.0) as serve:
            assert serve.process is not None
            started = time.perf_counter()
            latencies, statuses, duplicates = asyncio.run(_send(serve.url, shop.shop_domain, ids + replays, args.senders))
            elapsed = time.perf_counter() - started
            wait_for(lambda: httpx.get(f"{serve.url}/healthz").json()["handled"] >= len(ids), timeout=120,
                     what="every webhook handled")
            handled = httpx.get(f"{serve.url}/healthz").json()["handled"]
            peak = _peak_rss_kib(serve.process.pid)
        with open_store(str(folder / "clients.db")) as store, store.reading() as conn:
            e = tables.webhook_events
            recorded = conn.execute(select(func.count()).select_from(e)).scalar_one()
            done = conn.execute(select(func.count()).select_from(e).where(e.c.status == "done")).scalar_one()
    server.stop()

    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100)
    print(f"requests sent      {len(ms)} ({args.webhooks} distinct + {len(replays)} replays) by {args.senders} senders")
    print(f"answers            {dict(sorted(statuses.items()))}; duplicates answered {duplicates}")
    print(f"throughput         {len(ms) / elapsed:.0f} requests/s over {elapsed:.1f} s")
    print(f"latency ms         p50 {q[49]:.1f}  p90 {q[89]:.1f}  p99 {q[98]:.1f}  max {ms[-1]:.1f}")
    print(f"recorded / done    {recorded} / {done} (handled by the worker: {handled})")
    print(f"server peak RSS    {peak / 1024:.1f} MiB")
    lost, twice = args.webhooks - recorded, handled - args.webhooks
    print(f"lost {lost}, handled twice {max(0, twice)}")
    if lost or twice > 0 or done != args.webhooks or duplicates != len(replays):
        sys.exit("FAILED: a webhook was lost or handled twice")


if __name__ == "__main__":
    main()
