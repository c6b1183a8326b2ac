"""A tiny threaded HTTP/1.1 server on loopback with fault injection, shared by both emulators.

Built on the standard library on purpose: the emulators must run in-process for ``winback demo``
and tests with no extra service, and faults such as a dropped connection need control over the raw
socket, which a full ASGI stack hides.

An emulator is an :class:`App`: a function from :class:`Request` to :class:`Response`, plus a hook
that renders fault responses in the platform's own error shape.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("winback.emulator")

FAULT_KINDS = ("429", "500", "502", "503", "504", "timeout", "drop", "drop_after", "malformed")
"""``drop`` closes the connection before the request is handled; ``drop_after`` handles it (a write
is applied) and then closes without answering; ``timeout`` stalls then closes; ``malformed`` answers
200 with a truncated body (reads only, so a write is never applied without the client knowing)."""


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status=status, body=json.dumps(payload, ensure_ascii=False).encode(), headers=headers or {})


class App(Protocol):
    def handle(self, request: Request) -> Response: ...

    def fault_response(self, kind: str, request: Request) -> Response:
        """The platform's own shape for a 429/5xx fault."""
        ...


@dataclass
class FaultPlan:
    """Which faults to inject, reproducibly.

    ``rate`` is the probability that a request gets a fault, drawn from ``kinds`` with a seeded RNG;
    ``script`` forces faults for the next requests in order (``None`` entries mean "no fault").
    ``paths`` restricts faults to request paths containing one of these substrings.
    ``latency_s`` delays every answer (not a fault: the round trip of a real platform, a few
    hundred milliseconds, which loopback lacks), so that benchmarks can show what overlapping
    requests buys against it.
    """

    rate: float = 0.0
    latency_s: float = 0.0
    kinds: tuple[str, ...] = ("429", "500", "502", "503", "504", "timeout", "drop", "malformed")
    seed: int = 0
    timeout_s: float = 1.5
    paths: tuple[str, ...] = ()
    script: deque[str | None] = field(default_factory=deque)
    injected: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self._rng = random.Random(self.seed)

    def next_fault(self, request: Request) -> str | None:
        with self._lock:
            if self.paths and not any(p in request.path for p in self.paths):
                return None
            if self.script:
                kind = self.script.popleft()
            elif self.rate and self._rng.random() < self.rate:
                kind = self._rng.choice(self.kinds)
            else:
                kind = None
            if kind == "malformed" and request.method != "GET" and not _is_graphql_read(request):
                kind = "503"
            if kind == "drop_after" and request.method == "GET":
                kind = "drop"
            if kind:
                self.injected[kind] = self.injected.get(kind, 0) + 1
            return kind

    def total_injected(self) -> int:
        return sum(self.injected.values())


def _is_graphql_read(request: Request) -> bool:
    """A GraphQL POST whose document is a query (not a mutation) is a read for fault purposes."""
    if not request.path.endswith("graphql.json"):
        return False
    try:
        document = json.loads(request.body).get("query", "")
    except (ValueError, AttributeError):
        return False
    return not document.lstrip().startswith("mutation")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    """Headers and body go out in separate writes; with Nagle on, each keep-alive response would wait
    for the client's delayed ACK (~40 ms)."""
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s " + format, self.address_string(), *args)

    def _read_request(self) -> Request:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        return Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )

    def _dispatch(self) -> None:
        request = self._read_request()
        emulator = self.server.emulator
        emulator._count_request()
        if emulator.faults.latency_s:
            time.sleep(emulator.faults.latency_s)  # this connection's thread only
        fault = emulator.faults.next_fault(request)
        if fault in ("drop", "timeout"):
            if fault == "timeout":
                time.sleep(emulator.faults.timeout_s)
            self._abort()
            return
        if fault in ("429", "500", "502", "503", "504"):
            self._send(emulator.app.fault_response(fault, request))
            return
        try:
            response = emulator.app.handle(request)
        except Exception:  # the emulator must answer like a server, not crash the thread
            log.exception("emulator error on %s %s", request.method, request.path)
            response = Response.json({"errors": "Internal Server Error"}, status=500)
        if fault == "drop_after":
            self._abort()
            return
        if fault == "malformed":
            body = _collect(response.body)
            response = Response(status=200, body=body[: max(1, len(body) // 2)], headers=response.headers)
        self._send(response)

    def _abort(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if isinstance(response.body, bytes):
            self.send_header("Content-Length", str(len(response.body)))
            # The head and the body in one write, as a server with a buffered writer sends them:
            # written apart (end_headers flushes), every answer costs both sides an extra socket
            # round (a send here, a wake-up and a read in the client), a fifth of this server's
            # CPU per Ecwid page. _headers_buffer is where send_header collects the head.
            self._headers_buffer.append(b"\r\n")
            if self.command != "HEAD":
                self._headers_buffer.append(response.body)
            self.flush_headers()
            return
        # Streamed body (bulk JSONL downloads): chunked transfer encoding, constant memory.
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.command == "HEAD":
            return
        for chunk in response.body:
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch


def _collect(body: bytes | Iterable[bytes]) -> bytes:
    return body if isinstance(body, bytes) else b"".join(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: EmulatorServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """End kept-alive connections so a stopped server really stops answering."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a test timing out on purpose) is routine, not a traceback on stderr;
        # anything else (a streamed body that crashed) is an emulator bug and is logged as one.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            log.debug("connection from %s ended: %r", client_address, exc)
        else:
            log.exception("emulator error on a connection from %s", client_address)


class EmulatorServer:
    """Runs an :class:`App` on ``127.0.0.1`` in a background thread.

    >>> with EmulatorServer(app) as server:
    ...     httpx.get(server.url + "/...")
    """

    def __init__(self, app: App, *, host: str = "127.0.0.1", port: int = 0, faults: FaultPlan | None = None):
        self.app = app
        self.faults = faults or FaultPlan()
        self.requests_served = 0
        self._count_lock = threading.Lock()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.emulator = self
        self._thread: threading.Thread | None = None
        self._serving = False

    def _count_request(self) -> None:
        with self._count_lock:
            self.requests_served += 1

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> EmulatorServer:
        if self._thread is None:
            self._serving = True  # so a stop() racing the thread's start still shuts it down
            self._thread = threading.Thread(target=self.serve_forever, name="winback-emulator", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, end open keep-alive connections and close the listening socket."""
        if self._serving:
            self._httpd.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.close_open_connections()
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serve in the calling thread (used by ``winback-emulator`` in a subprocess)."""
        self._serving = True
        try:
            self._httpd.serve_forever(poll_interval=0.05)
        finally:
            self._serving = False

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def iter_jsonl(rows: Iterable[Any], batch: int = 500) -> Iterator[bytes]:
    """Encode ``rows`` as JSON Lines in chunks, for streamed responses."""
    buffer: list[str] = []
    for row in rows:
        buffer.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
        if len(buffer) >= batch:
            yield ("\n".join(buffer) + "\n").encode()
            buffer.clear()
    if buffer:
        yield ("\n".join(buffer) + "\n").encode()


FaultHook = Callable[[str, Request], Response]
