"""CPU of the Ecwid connector's own steps per 1,000 orders: JSON decoding, the reader's window sort
and parsing into the common model, apart from HTTP, the engine and the store.

One sync against the emulator (in its own process) records every answer, as
``profile_sync_cpu.py`` does; then each step runs ``--repeat`` times over the recorded bodies and
the fastest run is printed (``time.process_time``; the garbage collector on, as in a sync).

    .venv/bin/python bench/ecwid_parse_cpu.py --orders 5000

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import EmulatorProcess  # noqa: E402
from profile_sync_cpu import Recorder, _connector, _sync  # noqa: E402


def _fastest(step: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        step()
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    customers = max(10, round(args.orders * 0.45))
    with tempfile.TemporaryDirectory(prefix="winback-parse-") as workdir:
        with EmulatorProcess("ecwid", customers=customers, orders=args.orders,
                             extra=["--requests-per-minute", "1000000", "--scopes", "all"]) as emu:
            recorder = Recorder()
            settings = {**emu.info["settings"], "requests_per_minute": 1_000_000}
            asyncio.run(_sync(_connector("ecwid", settings, recorder), f"sqlite:///{workdir}/run.db"))

    from winback.connectors.ecwid import parse

    bodies: dict[str, list[bytes]] = {"orders": [], "customers": [], "products": []}
    for (_, url, _), answers in recorder.answers.items():
        resource = url.split("?")[0].rsplit("/", 1)[-1]
        if resource in bodies and "limit=1&" not in url and not url.endswith("limit=1"):
            bodies[resource] += [raw for _, _, raw in answers]
    raws = {name: [r for body in found for r in parse.decode_json(body)["items"]] for name, found in bodies.items()}
    orders = [r for r in raws["orders"] if parse.is_real_order(r)]
    per_1k = 1000 / max(len(orders), 1)

    def customer_seconds(raw: Any) -> int:
        try:
            return int(parse.customer_updated(raw).timestamp())
        except parse.RecordError:
            return 0

    steps: dict[str, Callable[[], Any]] = {
        "decode (all bodies)": lambda: [parse.decode_json(b) for found in bodies.values() for b in found],
        "sort orders": lambda: sorted(raws["orders"], key=lambda r: (
            parse.sort_key_seconds(r, "updateTimestamp", "updateDate"), str(parse.record_id(r) or ""))),
        "sort customers": lambda: sorted(raws["customers"], key=lambda r: (customer_seconds(r), str(r.get("id")))),
        "parse orders": lambda: [parse.parse_order(r, store_id="1", currency="USD") for r in orders],
        "parse customers": lambda: [parse.parse_customer(r, store_id="1", currency="USD") for r in raws["customers"]],
        "parse products": lambda: [parse.parse_product(r, store_id="1", currency="USD") for r in raws["products"]],
    }
    print(f"ecwid {len(orders):,} orders, {len(raws['customers']):,} customers, {len(raws['products']):,} products "
          f"({sum(map(len, (b for found in bodies.values() for b in found))) / 1e6:.1f} MB of JSON)")
    total = 0.0
    for label, step in steps.items():
        seconds = _fastest(step, args.repeat)
        total += seconds
        print(f"  {label:22s} {seconds * 1000:8.1f} ms   {seconds * per_1k:.4f} s per 1,000 orders")
    print(f"  {'all':22s} {total * 1000:8.1f} ms   {total * per_1k:.4f} s per 1,000 orders")


if __name__ == "__main__":
    main()
