"""CPU of JSON decoding on recorded platform answers: the standard library beside msgspec and orjson.

One Ecwid sync and one Shopify bulk sync against the emulators (each in its own process) record
every answer, as ``profile_sync_cpu.py`` does. Then the decoders take turns ``--repeat`` times over
the recorded Ecwid pages and over the lines of the Shopify bulk file; each one's fastest turn is
printed (``time.process_time``), with how many bodies it decodes to other values than the table's
first decoder (the standard library's) by ``repr``, so ``Decimal('0.1')`` and ``0.1`` differ.
orjson is optional (``pip install orjson``); winback does not depend on it.

    .venv/bin/python bench/json_decode_cpu.py --orders 5000

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import EmulatorProcess  # noqa: E402
from profile_sync_cpu import Recorder, _connector, _sync  # noqa: E402

Decoder = Callable[[bytes], Any]


def _record(platform: str, orders: int, extra: list[str], settings: dict[str, Any]) -> Recorder:
    with tempfile.TemporaryDirectory(prefix="winback-json-") as workdir:
        with EmulatorProcess(platform, customers=max(10, round(orders * 0.45)), orders=orders, extra=extra) as emu:
            recorder = Recorder()
            asyncio.run(_sync(_connector(platform, {**emu.info["settings"], **settings}, recorder),
                              f"sqlite:///{workdir}/run.db"))
    return recorder


def _seconds(decode: Decoder, bodies: list[bytes]) -> float:
    started = time.process_time()
    for body in bodies:
        decode(body)
    return time.process_time() - started


def _differing(decode: Decoder, reference: Decoder, bodies: list[bytes]) -> int:
    return sum(repr(decode(body)) != repr(reference(body)) for body in bodies)


def _report(title: str, bodies: list[bytes], decoders: dict[str, Decoder], per_1k: float, repeat: int) -> None:
    """The decoders take turns ``repeat`` times (so a drift of the machine hits them alike); each
    one's fastest turn is printed, the first decoder's values being the reference."""
    print(f"{title}: {len(bodies):,} bodies, {sum(map(len, bodies)) / 1e6:.1f} MB")
    best = dict.fromkeys(decoders, float("inf"))
    for _ in range(repeat):
        for label, decode in decoders.items():
            best[label] = min(best[label], _seconds(decode, bodies))
    reference = next(iter(decoders.values()))
    base = next(iter(best.values()))
    for label, decode in decoders.items():
        seconds = best[label]
        print(f"  {label:48s} {seconds * 1000:7.1f} ms  {seconds * per_1k:.4f} s per 1,000 orders  "
              f"×{base / seconds:4.1f}  values differing from the first: {_differing(decode, reference, bodies)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    import msgspec

    from winback.connectors.jsonwire import decode_exact
    from winback.connectors.shopify import decode

    try:
        import orjson
    except ImportError:
        orjson = None
        print("orjson is not installed: its rows are left out")

    ecwid = _record("ecwid", args.orders, ["--requests-per-minute", "1000000", "--scopes", "all"],
                    {"requests_per_minute": 1_000_000})
    pages = [raw for (_, url, _), answers in ecwid.answers.items() if "/api/v3/" in url
             for status, _, raw in answers if status == 200 and raw.startswith(b"{")]
    bulk = _record("shopify", args.orders, ["--no-throttle"], {"bulk_threshold": 0})
    lines = [line for (_, url, _), answers in bulk.answers.items() if url.split("?")[0].endswith(".jsonl")
             for _, _, raw in answers for line in raw.split(b"\n") if line.strip()]
    per_1k = 1000 / args.orders

    exact: dict[str, Decoder] = {
        "json.loads(parse_float=Decimal)": lambda body: json.loads(body, parse_float=Decimal),
        "msgspec Decoder(float_hook=Decimal)": msgspec.json.Decoder(float_hook=Decimal).decode,
        "jsonwire.decode_exact (msgspec, json fallback)": decode_exact,
    }
    if orjson is not None:
        exact["orjson.loads (floats: not exact)"] = orjson.loads
    _report("Ecwid pages", pages, exact, per_1k, args.repeat)

    class Keys(msgspec.Struct):
        id: Any = msgspec.UNSET
        parent: Any = msgspec.field(default=msgspec.UNSET, name="__parentId")

    keys = msgspec.json.Decoder(Keys)

    def msgspec_keys(line: bytes) -> dict[str, Any]:
        found = keys.decode(line)
        pairs = {"id": found.id, "__parentId": found.parent}
        return {key: value for key, value in pairs.items() if value is not msgspec.UNSET}

    lined: dict[str, Decoder] = {"json.loads": json.loads, "msgspec.json.decode": msgspec.json.Decoder().decode}
    if orjson is not None:
        lined["orjson.loads"] = orjson.loads
    _report("Shopify bulk lines, whole rows", lines, lined, per_1k, args.repeat)
    _report("Shopify bulk lines, id and __parentId only", lines, {
        "msgspec decode.row_keys (the sync's)": decode.row_keys,
        "msgspec Struct(id, __parentId)": msgspec_keys,
    }, per_1k, args.repeat)


if __name__ == "__main__":
    main()
