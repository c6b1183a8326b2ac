"""Client-side CPU of one sync per 1,000 orders, with the network replaced by recorded responses.

The emulator runs in its own process (its CPU is never counted). A first sync records every HTTP
answer; then the same sync is replayed ``--repeat`` times into a fresh database from those
recordings, so the CPU measured (``time.process_time``, all threads of this process) is winback's
alone: parsing, the store's write path and the engine, no emulator and no sockets. ``--profile``
writes a cProfile of the last replay (open it with ``python -m pstats`` or snakeviz).

    .venv/bin/python bench/profile_sync_cpu.py --platform shopify --mode paged --orders 5000
    .venv/bin/python bench/profile_sync_cpu.py --platform shopify --mode bulk --orders 5000
    .venv/bin/python bench/profile_sync_cpu.py --platform ecwid --orders 5000 --profile /tmp/ecwid.prof
    .venv/bin/python bench/profile_sync_cpu.py --platform ecwid --db postgresql+psycopg://127.0.0.1/test

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import sys
import tempfile
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import EmulatorProcess  # noqa: E402

Key = tuple[str, str, bytes]


class Recorder(httpx.AsyncBaseTransport):
    """Forwards to the emulator and keeps every answer, in order, per (method, URL, body)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.answers: dict[Key, list[tuple[int, list[tuple[bytes, bytes]], bytes]]] = defaultdict(list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await self.inner.handle_async_request(request)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        headers = [(k, v) for k, v in response.headers.raw if k.lower() != b"content-encoding"]
        if any(k.lower() == b"content-encoding" for k, _ in response.headers.raw):
            raw = httpx.Response(response.status_code, headers=response.headers.raw, content=raw).read()
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        self.answers[(request.method, str(request.url), body)].append((response.status_code, headers, raw))
        return httpx.Response(response.status_code, headers=headers, content=raw, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class Replayer(httpx.AsyncBaseTransport):
    """Answers each request with the next recorded answer for it (the last one once exhausted)."""

    def __init__(self, answers: dict[Key, list[tuple[int, list[tuple[bytes, bytes]], bytes]]]) -> None:
        self.queues = {key: deque(values) for key, values in answers.items()}
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        queue = self.queues[(request.method, str(request.url), await request.aread())]
        status, headers, raw = queue.popleft() if len(queue) > 1 else queue[0]
        return httpx.Response(status, headers=headers, content=raw, request=request)


def _connector(platform: str, settings: dict[str, Any], transport: httpx.AsyncBaseTransport) -> Any:
    from winback.connectors.registry import load_connector_class

    return load_connector_class(platform).from_settings(settings, transport=transport)


async def _sync(connector: Any, url: str) -> Any:
    from winback.sync import open_store, sync_store

    store = open_store(url)
    try:
        async with connector:
            return await sync_store(connector, store, full=True)
    finally:
        store.close()


async def _inline(func: Any, /, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


CPU_IN: dict[str, float] = {"commit_pages": 0.0, "recompute_derived": 0.0, "collector": 0.0}
_COLLECTING: list[float] = []


def _count_collector_cpu(phase: str, _info: dict[str, Any]) -> None:
    """Add the CPU the garbage collector takes (in whichever thread it runs, so also within the
    store's figures when it runs in a commit) to ``CPU_IN``."""
    if phase == "start":
        _COLLECTING.append(time.thread_time())
    elif _COLLECTING:
        CPU_IN["collector"] += time.thread_time() - _COLLECTING.pop()


def _count_store_cpu() -> None:
    """Add the CPU the store's commits and the final recomputation take (in their worker threads),
    and the collector's, to ``CPU_IN``."""
    from winback.sync.store import LocalStore

    def timed(name: str) -> None:
        original = getattr(LocalStore, name)

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return original(self, *args, **kwargs)
            finally:
                CPU_IN[name] += time.thread_time() - started

        setattr(LocalStore, name, wrapper)

    for name in CPU_IN:
        if hasattr(LocalStore, name):
            timed(name)
    gc.callbacks.append(_count_collector_cpu)


def _fresh_db(base: str | None, workdir: str, n: int) -> str:
    if base is None:
        return f"sqlite:///{workdir}/run{n}.db"
    if base.startswith("postgres"):
        from sqlalchemy import create_engine, text

        engine = create_engine(base.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    return base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", choices=("shopify", "ecwid"), default="shopify")
    parser.add_argument("--mode", choices=("paged", "bulk"), default="paged", help="Shopify only")
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=None, help="default: 0.45 per order")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (its public schema is dropped!) else SQLite")
    parser.add_argument("--profile", default=None, help="write a cProfile of the last replay here")
    args = parser.parse_args()
    customers = args.customers or max(10, round(args.orders * 0.45))
    if args.platform == "shopify":
        extra, settings = ["--no-throttle"], {"bulk_threshold": 0 if args.mode == "bulk" else None}
    else:
        extra, settings = ["--requests-per-minute", "1000000", "--scopes", "all"], {"requests_per_minute": 1_000_000}
    label = f"{args.platform}{' ' + args.mode if args.platform == 'shopify' else ''} {args.orders:,} orders"
    _count_store_cpu()
    with tempfile.TemporaryDirectory(prefix="winback-prof-") as workdir:
        with EmulatorProcess(args.platform, customers=customers, orders=args.orders, extra=extra) as emu:
            recorder = Recorder()
            settings = {**emu.info["settings"], **settings}
            started = time.perf_counter()
            report = asyncio.run(_sync(_connector(args.platform, settings, recorder), _fresh_db(args.db, workdir, 0)))
            print(f"{label}: recorded {sum(map(len, recorder.answers.values()))} answers "
                  f"({report.upserted} records) in {time.perf_counter() - started:.1f} s", flush=True)
        for n in range(1, args.repeat + 1):
            replayer = Replayer(recorder.answers)
            connector = _connector(args.platform, settings, replayer)
            url = _fresh_db(args.db, workdir, n)
            profiler = cProfile.Profile() if args.profile and n == args.repeat else None
            if profiler:
                asyncio.to_thread = _inline  # type: ignore[assignment]  # cProfile sees one thread only
            CPU_IN.update(dict.fromkeys(CPU_IN, 0.0))
            cpu, wall = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            report = asyncio.run(_sync(connector, url))
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            orders = report.resources[next(r for r in report.resources if r.value == "orders")].upserted
            print(f"{label}: replay {n}: {cpu:.2f} s CPU, {wall:.2f} s wall, {replayer.requests} requests, "
                  f"{report.upserted} records; {cpu / max(orders, 1) * 1000:.3f} s CPU per 1,000 orders "
                  f"(of it: {', '.join(f'{k} {v / max(orders, 1) * 1000:.3f}' for k, v in CPU_IN.items())})"
                  f"{' (profiled)' if profiler else ''}", flush=True)


if __name__ == "__main__":
    main()
