"""Client CPU of one HTTP request through ``HttpClient``: an Ecwid order search with its long
``responseFields`` query, answered (a) by an in-memory transport and (b) by a minimal HTTP/1.1
server on a loopback socket in another process (its CPU is never counted).

(a) is what ``HttpClient`` and httpx cost per request; (b) adds httpcore, h11, anyio and the
sockets: the gap between ``profile_sync_cpu.py`` (recorded answers) and ``sync.py`` (real sockets)
per request. Figures are also given per 1,000 orders at Ecwid's 100 orders a page (33.2 requests
per 1,000 orders, customers and products included, as in a 5k sync).

    .venv/bin/python bench/http_cpu.py --requests 2000

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time

import httpx

from winback.connectors.auth import StaticToken
from winback.connectors.ecwid import fields
from winback.connectors.http import HttpClient

REQUESTS_PER_1K_ORDERS = 166 / 5
BODY = json.dumps({"total": 5000, "count": 100, "items": [{"id": i, "x": "y" * 300} for i in range(100)]}).encode()

SERVER = r"""
import asyncio, sys
body = sys.stdin.buffer.read()
head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
async def handle(reader, writer):
    try:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(head + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionResetError):
        pass
    writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


class _Answer(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=[(b"content-type", b"application/json")], content=BODY, request=request)


async def _measure(base_url: str, transport: httpx.AsyncBaseTransport | None, n: int) -> float:
    """CPU seconds per request, after a warm-up."""
    params = {"responseFields": fields.ORDERS, "limit": 100, "offset": 0, "sortBy": "UPDATED_DATE_ASC"}
    async with HttpClient(base_url=base_url, auth=StaticToken("bench_token_0123456789"), store_label="bench",
                          transport=transport) as client:
        for _ in range(20):
            await client.request("GET", "/orders", params=params, idempotent=True)
        started = time.process_time()
        for i in range(n):
            params["offset"] = i * 100
            await client.request("GET", "/orders", params=params, idempotent=True)
        return (time.process_time() - started) / n


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    try:
        import sniffio  # noqa: F401

        sniff = "installed"
    except ImportError:
        sniff = "absent (httpcore retries the import on every lock and event)"
    print(f"sniffio {sniff}")
    memory = asyncio.run(_measure("https://app.ecwid.com/api/v3/1003", _Answer(), args.requests))
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(BODY)
        server.stdin.close()
        server.stdout.readline()
        wire = asyncio.run(_measure(f"http://127.0.0.1:{port}/api/v3/1003", None, args.requests))
    finally:
        server.terminate()
        server.wait()
    for label, seconds in (("in-memory answer", memory), ("loopback socket", wire)):
        print(f"{label:18s} {seconds * 1e6:7.0f} us CPU per request = "
              f"{seconds * REQUESTS_PER_1K_ORDERS * 1000:5.1f} ms per 1,000 orders")


if __name__ == "__main__":
    main()
