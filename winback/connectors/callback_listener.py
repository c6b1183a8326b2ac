"""A one-shot HTTP listener on loopback that receives one OAuth redirect.

``winback connect`` needs to see the browser's redirect after the merchant approves an install,
once, on the machine it runs on; a web framework would be a heavy dependency for one GET. The
listener binds only to a loopback address named in the redirect URL, answers 404 to anything but
the redirect's path (browsers ask for ``/favicon.ico``), and hands the first GET of that path to
the caller, who answers it after deciding whether to trust it.
"""

from __future__ import annotations

import asyncio
import html
from dataclasses import dataclass
from typing import Self
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from winback import errors

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_MAX_HEAD = 16 * 1024


@dataclass
class Callback:
    """The redirect's query parameters, and the browser still waiting for an answer."""

    params: dict[str, str]
    _writer: asyncio.StreamWriter

    async def respond(self, status: int, title: str, text: str) -> None:
        """Answer the browser with a small page (``text`` is escaped) and close the connection."""
        body = (
            f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
        ).encode()
        await _write(self._writer, status, body)


class CallbackListener:
    """Listen on the host and port of ``redirect_uri`` (port 0: any free port) for one redirect.

    Use as an async context manager; :attr:`redirect_uri` is the URL with the port actually bound.
    """

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK:
            raise errors.ConfigError(
                f"redirect_uri {redirect_uri!r} is not a loopback http:// URL: `winback connect` receives the "
                "install callback on this machine (e.g. http://127.0.0.1:8788/winback/callback, also listed "
                "as an allowed redirection URL of the app)",
                key="store.redirect_uri",
            )
        self._parts = parts
        self._host = parts.hostname
        self._port = parts.port if parts.port is not None else 80
        self._path = parts.path or "/"
        self._server: asyncio.AbstractServer | None = None
        self._queue: asyncio.Queue[Callback] = asyncio.Queue()
        self.redirect_uri = redirect_uri

    async def __aenter__(self) -> Self:
        try:
            self._server = await asyncio.start_server(self._serve, self._host, self._port)
        except OSError as exc:
            raise errors.ConfigError(
                f"cannot listen on {self._host}:{self._port} for the install callback ({exc.strerror}): free the "
                "port or choose another redirect_uri (and list it in the app's allowed redirection URLs)",
                key="store.redirect_uri",
            ) from None
        port = self._server.sockets[0].getsockname()[1]
        if port != self._port:
            host = f"[{self._host}]" if ":" in self._host else self._host
            self.redirect_uri = urlunsplit(self._parts._replace(netloc=f"{host}:{port}"))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def wait(self, timeout: float) -> Callback:
        """The first GET of the redirect path; :class:`~winback.errors.CallbackTimeoutError` after ``timeout`` s."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            raise errors.CallbackTimeoutError(
                f"no install callback reached {self.redirect_uri} within {timeout:.0f} s: nothing was saved; run "
                "`winback connect` again and approve the install in the browser (the redirect URL must be one "
                "of the app's allowed redirection URLs)"
            ) from None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            writer.close()
            return
        if len(head) > _MAX_HEAD:
            await _write(writer, 431, b"")
            return
        method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
        target = rest.rsplit(" ", 1)[0]
        parts = urlsplit(target)
        if method != "GET" or parts.path != self._path or not self._queue.empty() or self._taken:
            await _write(writer, 404, b"not found")
            return
        self._taken = True
        self._queue.put_nowait(Callback(dict(parse_qsl(parts.query, keep_blank_values=True)), writer))

    _taken = False


async def _write(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 431: "Request Header Fields Too Large",
              502: "Bad Gateway"}.get(status, "Error")
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n".encode() + body
    )
    try:
        await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
