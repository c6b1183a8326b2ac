"""Processes for the worker tests and bench: many emulated stores in one process, configs for them.

Run as a script, ``python workers_harness.py emulators --platform shopify --count 15`` starts that
many emulators of distinct stores (own shop domain or store id, own token, own seed, own port) in
one process, prints one JSON line (a list of ``{"platform", "url", "settings"}``) and serves until
SIGTERM. Thirty real HTTP servers cost one Python process per platform instead of thirty.

Imported, :func:`emulators_process` starts it and :func:`write_client_configs` writes one client
config per store (tokens as ``${VAR}`` references, set in the workers' environment).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HARNESS = Path(__file__).resolve()


def serve_emulators(platform: str, count: int, customers: int, seed_base: int) -> None:
    from winback.emulator.generate import generate_world

    servers = []
    infos: list[dict[str, Any]] = []
    for number in range(count):
        world = generate_world(seed_base + number, customers=customers, products=12)
        if platform == "shopify":
            from winback.emulator.shopify import ALL_SCOPES, start_shopify_emulator

            server, shop = start_shopify_emulator(
                world, shop_domain=f"wk{seed_base + number}.myshopify.com", access_token=f"shpat_wk_{seed_base + number}",
                scopes=ALL_SCOPES, throttle=False, customer_accounts="CLASSIC",
            )
            settings = {"shop": shop.shop_domain, "access_token": shop.access_token, "base_url": server.url}
        else:
            from winback.emulator.ecwid import ALL_SCOPES as ECWID_SCOPES
            from winback.emulator.ecwid import start_ecwid_emulator

            server, ecwid = start_ecwid_emulator(
                world, store_id=20000 + seed_base + number, token=f"secret_wk_{seed_base + number}",
                scopes=ECWID_SCOPES, requests_per_minute=100_000,
            )
            settings = {"store_id": str(ecwid.store_id), "token": ecwid.token, "base_url": f"{server.url}/api/v3"}
        servers.append(server)
        infos.append({"platform": platform, "url": server.url, "settings": settings})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(json.dumps(infos), flush=True)
    try:
        stop.wait()
    finally:
        for server in servers:
            server.stop()


def emulators_process(platform: str, count: int, *, customers: int = 20, seed_base: int = 100) -> Any:
    """The emulators in their own process; yields the list of stores it printed."""
    from tests.integration.kill_harness import _announcing

    command = [sys.executable, str(HARNESS), "emulators", "--platform", platform, "--count", str(count),
               "--customers", str(customers), "--seed-base", str(seed_base)]
    return _announcing(command, f"{count} {platform} emulators")


def token_env(index: int) -> str:
    return f"WB_WK_TOKEN_{index}"


def write_client_configs(directory: Path, stores: list[dict[str, Any]], *, database_url: str,
                         smtp_port: int) -> tuple[list[Path], dict[str, str]]:
    """One config per store in ``directory``; returns the paths and the environment their
    ``${VAR}`` token references need (the secrets a worker holds, never the broker)."""
    from winback.emulator.generate import DEFAULT_NOW

    since_days = (datetime.now(UTC) - DEFAULT_NOW).days + 60
    directory.mkdir(parents=True, exist_ok=True)
    paths, env = [], {}
    for index, store in enumerate(stores):
        platform = store["platform"]
        settings = dict(store["settings"])
        secret = "access_token" if platform == "shopify" else "token"
        env[token_env(index)] = settings.pop(secret)
        settings[secret] = "${" + token_env(index) + "}"
        if platform == "ecwid":
            settings["requests_per_minute"] = 100_000
        lines = "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
        path = directory / f"client{index:03d}.toml"
        path.write_text(
            f"""\
[client]
name = "client {index:03d}"

[store]
platform = "{platform}"
{lines}

[database]
url = {json.dumps(database_url)}

[email]
sender = "smtp"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
smtp_starttls = false
from_address = "Client {index:03d} <hello@client{index:03d}.example>"
unsubscribe_mailto = "unsubscribe@client{index:03d}.example"
rate_per_minute = 1000000

[rules.auto_create_accounts]
since_days = {since_days}

[rules.discount_codes]
segment = {{min_orders = 2}}
kind = "percentage"
value = 15
since_days = 365

[limits]
max_actions_per_run = 1000000
marketing_cap_count = 100
""",
            encoding="utf-8",
        )
        path.chmod(0o600)
        paths.append(path)
    return paths, env


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Processes for winback worker tests.")
    commands = parser.add_subparsers(dest="command", required=True)
    emulators = commands.add_parser("emulators", help="many emulated stores in this one process")
    emulators.add_argument("--platform", choices=["shopify", "ecwid"], required=True)
    emulators.add_argument("--count", type=int, default=10)
    emulators.add_argument("--customers", type=int, default=20)
    emulators.add_argument("--seed-base", type=int, default=100)
    args = parser.parse_args(argv)
    serve_emulators(args.platform, args.count, args.customers, args.seed_base)


if __name__ == "__main__":
    main()
