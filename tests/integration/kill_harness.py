"""Processes for kill tests: an SMTP capture server and emulators, each outliving a killed ``winback``.

Run as a script, ``python kill_harness.py smtp --port 0 --out FILE`` serves SMTP on loopback,
prints one JSON line ``{"host": ..., "port": ...}`` and appends every received message to ``FILE``
as a JSON line (``message_id``, ``to``, ``rcpt_tos``, ``subject``, ``x_headers``, ``body_sha256``),
fsynced before the server answers 250: a line in the file means the message was accepted, whatever
happened to the client afterwards. ``--delay-ms`` holds each 250 reply back that long after the
fsync, like a real server's processing time: a client killed meanwhile has had its message accepted
without ever hearing so. It serves until SIGTERM/SIGINT.

Imported, it offers context managers that start those processes and stop them on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from pathlib import Path
from typing import IO, Any

HARNESS = Path(__file__).resolve()
BIN = Path(sys.executable).parent
START_TIMEOUT_S = 60.0


# --- the SMTP capture server (runs in its own process) -----------------------------------------


class CaptureHandler:
    """aiosmtpd handler: one fsynced JSON line per accepted message, before the 250 reply."""

    def __init__(self, out: Path, delay_s: float = 0.0) -> None:
        self._file = open(out, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the server
        self._delay_s = delay_s

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        message = message_from_bytes(content, policy=policy.default)
        body = message.get_body(preferencelist=("plain", "html"))
        text = body.get_content() if body is not None else message.get_payload()
        entry = {
            "message_id": message.get("Message-ID"),
            "to": [str(address) for address in message.get_all("To", [])],
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_from": envelope.mail_from,
            "subject": message.get("Subject"),
            "x_headers": {name: str(value) for name, value in message.items() if name.lower().startswith("x-")},
            "body_sha256": hashlib.sha256(str(text).encode()).hexdigest(),
        }
        self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        return "250 Message accepted for delivery"


def serve_smtp(host: str, port: int, out: Path, delay_s: float = 0.0) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(CaptureHandler(out, delay_s), hostname=host, port=port or _free_port(host))
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(json.dumps({"host": host, "port": controller.port}), flush=True)
    try:
        stop.wait()
    finally:
        controller.stop()


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def read_capture(path: Path) -> list[dict[str, Any]]:
    """Every message the capture server accepted, in order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- processes, from the test's side ----------------------------------------------------------


class Lines:
    """A child's stdout, read line by line on a thread so waits can time out."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def next(self, timeout: float) -> str | None:
        """The next line; ``None`` at end of stream. Raises ``queue.Empty`` on timeout."""
        return self._queue.get(timeout=timeout)


def stop(process: subprocess.Popen[Any], sig: int = signal.SIGKILL) -> None:
    """Signal ``process`` (if still running) and reap it; SIGKILL if it ignores ``sig``."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def _announcing(command: list[str], what: str) -> Iterator[dict[str, Any]]:
    """Start ``command``; yield the JSON line it prints first; SIGTERM it on exit."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        try:
            line = Lines(process.stdout).next(timeout=START_TIMEOUT_S)  # type: ignore[arg-type]
        except queue.Empty:
            line = None
        if not line:
            raise RuntimeError(f"{what} did not start (exit code {process.poll()})")
        yield json.loads(line)
    finally:
        stop(process, signal.SIGTERM)


def emulator_process(platform: str, *args: str) -> Any:
    """``winback-emulator PLATFORM ARGS`` in its own process; yields the JSON line it printed."""
    script = BIN / "winback-emulator"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "winback.emulator"]
    # Tests read customers and coupons: grant every scope (a new Ecwid app's token has fewer).
    scopes = ["--scopes", "all"] if platform == "ecwid" and "--scopes" not in args else []
    return _announcing([*command, platform, *args, *scopes], f"winback-emulator {platform}")


def smtp_capture_process(out: Path, *, delay_ms: int = 0) -> Any:
    """The SMTP capture server in its own process; yields ``{"host", "port"}``."""
    command = [sys.executable, str(HARNESS), "smtp", "--port", "0", "--out", str(out), "--delay-ms", str(delay_ms)]
    return _announcing(command, "SMTP capture")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Processes for winback kill tests.")
    commands = parser.add_subparsers(dest="command", required=True)
    smtp = commands.add_parser("smtp", help="an SMTP server that appends each message to --out")
    smtp.add_argument("--host", default="127.0.0.1")
    smtp.add_argument("--port", type=int, default=0, help="0 picks a free port")
    smtp.add_argument("--out", type=Path, required=True)
    smtp.add_argument("--delay-ms", type=int, default=0, help="hold each 250 reply back this long")
    args = parser.parse_args(argv)
    serve_smtp(args.host, args.port, args.out, args.delay_ms / 1000)


if __name__ == "__main__":
    main()
