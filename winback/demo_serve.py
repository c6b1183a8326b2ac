"""``winback demo --serve``: the web side on the emulators, in one process.

A Shopify emulator sends a signed ``orders/updated`` webhook to ``winback serve`` (run in-process
by uvicorn on loopback), which records it, answers and syncs the store in the background; then a
customer's one-click unsubscribe (the POST a mail client sends) is suppressed locally and flows
back to the emulated platform as ``customerEmailMarketingConsentUpdate``.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import socket
import textwrap
from pathlib import Path

import httpx
from sqlalchemy import select

from winback.clients import run_client
from winback.config import load_config
from winback.emulator.generate import generate_world
from winback.emulator.shopify import start_shopify_emulator
from winback.notify import oneclick
from winback.sync import open_store, tables


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _until(check: object, what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await asyncio.to_thread(check):  # type: ignore[arg-type]
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the demo waited too long for {what}")


async def run_serve_demo(workdir: Path, *, customers: int = 200, seed: int = 1) -> list[str]:
    """Run the flow; the lines to print."""
    import uvicorn

    from winback.web import ServeOptions, create_app

    workdir.mkdir(parents=True, exist_ok=True)
    folder = workdir / "serve-clients"
    shutil.rmtree(folder, ignore_errors=True)  # each demo starts from nothing
    folder.mkdir()
    port, secret = _port(), secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    server, shop = start_shopify_emulator(generate_world(seed, customers=customers), restore_rate=1000,
                                          bucket_size=20000, webhook_url=f"{url}/webhooks/shopify",
                                          webhook_secret=secret, webhook_retry_base_s=0.3)
    lines: list[str] = []
    try:
        path = folder / "demo-shop.toml"
        path.write_text(textwrap.dedent(f"""\
            [client]
            name = "Demo Shop"
            [store]
            platform = "shopify"
            shop = "{shop.shop_domain}"
            access_token = "{shop.access_token}"
            webhook_secret = "{secret}"
            base_url = "{server.url}"
            [database]
            url = "serve-demo.db"
            [email]
            public_url = "{url}"
            """), encoding="utf-8")
        path.chmod(0o600)
        config = load_config(path)
        store = await asyncio.to_thread(open_store, str(folder / "serve-demo.db"))
        try:
            await run_client(config, store, plan=False, act=False)
            key = config.store_key
            lines.append(f"synced {shop.shop_domain} into {folder / 'serve-demo.db'}")

            app = create_app(folder, ServeOptions(public_url=url, debounce_s=0.3, retry_interval_s=1.0))
            web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                access_log=False))
            serving = asyncio.create_task(web.serve())
            try:
                await _until(lambda: web.started, "winback serve to start")
                before = store.get_store(key)["last_sync_finished"]  # type: ignore[index]
                touched = shop.touch_orders(1 / max(1, len(shop.orders)), seed=seed)
                lines.append(f"the emulator changed order {', '.join(touched)} and sent a signed orders/updated webhook")

                def handled() -> bool:
                    with store.reading() as conn:
                        e = tables.webhook_events
                        return conn.execute(select(e.c.status).where(e.c.topic == "orders/updated")).scalar() == "done"

                await _until(handled, "the webhook")
                await _until(lambda: store.get_store(key)["last_sync_finished"] != before, "the sync")  # type: ignore[index]
                lines.append("winback serve verified it, answered 200, and synced the store in the background")

                with store.reading() as conn:
                    c = tables.customers
                    email = conn.execute(select(c.c.lower_email).where(
                        c.c.store_key == key, c.c.consent_state == "subscribed").order_by(c.c.lower_email)).scalar()
                link = oneclick.link(url, oneclick.install_secret(folder), path.stem, str(email))
                async with httpx.AsyncClient() as client:
                    answer = await client.post(link, content=b"List-Unsubscribe=One-Click")
                lines.append(f"one-click unsubscribe of {oneclick.masked(str(email))}: HTTP {answer.status_code}")

                def pushed() -> bool:
                    return any(u["email"].lower() == email and u["marketing_state"] == "UNSUBSCRIBED"
                               for u in shop.writes()["consent_updates"])

                await _until(pushed, "the consent change")
                lines.append("suppressed locally at once; the emulated Shopify now holds it UNSUBSCRIBED "
                             "(customerEmailMarketingConsentUpdate)")
            finally:
                web.should_exit = True
                await serving
        finally:
            store.close()
    finally:
        if shop.webhooks is not None:
            shop.webhooks.close()
        server.stop()
    return lines
