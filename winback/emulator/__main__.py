"""``winback-emulator``: run a Shopify or Ecwid emulator as its own process.

Used by benchmarks and process-kill tests (the emulator must outlive the ``winback`` process it
serves) and by developers poking at the APIs with curl. On start it prints one JSON line with the
URL, the connector settings to use and the credentials, then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from winback.emulator.generate import generate_world
from winback.emulator.server import FAULT_KINDS, EmulatorServer, FaultPlan


def _fault_kinds(text: str) -> tuple[str, ...]:
    """``"500, drop"`` → ``("500", "drop")``; an unknown kind is a usage error naming the valid ones."""
    kinds = tuple(kind.strip() for kind in text.split(",") if kind.strip())
    for kind in kinds:
        if kind not in FAULT_KINDS:
            raise argparse.ArgumentTypeError(f"unknown fault kind {kind!r}: choose from {', '.join(FAULT_KINDS)}")
    return kinds


def _scopes(text: str) -> tuple[str, ...]:
    """``"all"`` → every scope the Ecwid emulator checks; otherwise a comma list of scope names."""
    from winback.emulator.ecwid import ALL_SCOPES

    if text.strip() == "all":
        return tuple(sorted(ALL_SCOPES))
    scopes = tuple(scope.strip() for scope in text.split(",") if scope.strip())
    unknown = [scope for scope in scopes if scope not in ALL_SCOPES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown Ecwid scope {unknown[0]!r}: choose from {', '.join(sorted(ALL_SCOPES))}")
    return scopes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="winback-emulator", description=__doc__.splitlines()[0])
    parser.add_argument("platform", choices=["shopify", "ecwid"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--orders", type=int, default=None, help="default: about 2.3 per customer")
    parser.add_argument("--products", type=int, default=120)
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests that get a fault")
    parser.add_argument(
        "--fault-kinds",
        type=_fault_kinds,
        default=tuple(k for k in FAULT_KINDS if k != "drop_after"),
        metavar="KIND,...",
        help=f"comma-separated faults to inject, from: {', '.join(FAULT_KINDS)} (default: all but drop_after)",
    )
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="delay every answer this long, as a real platform's round trip does")
    parser.add_argument("--no-throttle", action="store_true", help="Shopify: disable the cost bucket")
    parser.add_argument("--restore-rate", type=float, default=100.0, help="Shopify: bucket points per second")
    parser.add_argument("--bucket-size", type=float, default=2000.0, help="Shopify: bucket size in points")
    parser.add_argument("--customer-accounts", choices=["NEW_CUSTOMER_ACCOUNTS", "CLASSIC"],
                        default="NEW_CUSTOMER_ACCOUNTS", help="Shopify: CLASSIC is a legacy shop (invites work)")
    parser.add_argument("--token-lifetime", type=int, default=86399, metavar="SECONDS",
                        help="Shopify: how long a client-credentials token lives (then 401)")
    parser.add_argument("--offline-token-lifetime", type=int, default=3600, metavar="SECONDS",
                        help="Shopify: how long an expiring offline token (authorization code, expiring=1) lives")
    parser.add_argument("--birthdays", default=None, metavar="FIELD",
                        help="give every fifth customer a birth date near today: Shopify in the customer metafield "
                             "FIELD (namespace.key), Ecwid in the customer extra field FIELD")
    parser.add_argument("--requests-per-minute", type=int, default=600, help="Ecwid: per-token rate limit")
    parser.add_argument(
        "--scopes", type=_scopes, default=None, metavar="SCOPE,...|all",
        help="Ecwid: the token's access scopes (default: a new custom app's, orders and products only; "
             "'all' grants every scope winback uses)",
    )
    return parser


def start_from_args(args: argparse.Namespace) -> tuple[EmulatorServer, dict[str, Any]]:
    """Start the emulator described by ``args``; returns the server and the settings to print."""
    world = generate_world(args.seed, customers=args.customers, orders=args.orders, products=args.products)
    faults = FaultPlan(
        rate=args.fault_rate,
        kinds=args.fault_kinds,
        seed=args.fault_seed,
        latency_s=args.latency_ms / 1000,
    )
    if args.platform == "shopify":
        from winback.emulator.shopify import start_shopify_emulator

        server, shop = start_shopify_emulator(
            world,
            faults=faults,
            host=args.host,
            port=args.port,
            throttle=not args.no_throttle,
            restore_rate=args.restore_rate,
            bucket_size=args.bucket_size,
            customer_accounts=args.customer_accounts,
            token_lifetime=args.token_lifetime,
            offline_token_lifetime=args.offline_token_lifetime,
            birthday_metafield=args.birthdays,
        )
        settings = {"shop": shop.shop_domain, "access_token": shop.access_token, "base_url": server.url}
        info_extra = {"client_id": shop.oauth.client_id, "client_secret": shop.oauth.client_secret}
    else:
        from winback.emulator.ecwid import start_ecwid_emulator

        knobs: dict[str, Any] = {} if args.scopes is None else {"scopes": args.scopes}
        if args.birthdays:
            knobs["birthday_field"] = args.birthdays
        server, ecwid = start_ecwid_emulator(
            world, faults=faults, host=args.host, port=args.port, requests_per_minute=args.requests_per_minute,
            **knobs,
        )
        settings = {"store_id": str(ecwid.store_id), "token": ecwid.token, "base_url": f"{server.url}/api/v3"}
        info_extra = {}
    info: dict[str, Any] = {
        "platform": args.platform,
        "url": server.url,
        "settings": settings,
        "customers": len(world.customers),
        "orders": len(world.orders),
        "products": len(world.products),
        **({"oauth": info_extra} if info_extra else {}),
    }
    if args.platform == "ecwid":
        info["scopes"] = sorted(ecwid.scopes)
    return server, info


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    server, info = start_from_args(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(json.dumps(info), flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
