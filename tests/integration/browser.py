"""Headless Chromium for the tests of pages people look at: where the binary is, the flags every
run uses, the fixture that skips (or fails in CI) without it, and one DevTools protocol client.

The client speaks the Chrome DevTools protocol over ``--remote-debugging-pipe`` (fd 3 in, fd 4
out, NUL-framed JSON), so no websocket library is needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
)


def require_chromium() -> Path:
    """Debian's Chromium, or skip the test; in CI (``CI`` set) its absence fails instead, since
    ``.ci/run`` installs it."""
    if not CHROMIUM.exists():
        why = "Debian's chromium is not installed (/usr/bin/chromium): apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; CI must have it (.ci/run installs it)")
        pytest.skip(why)
    return CHROMIUM


@pytest.fixture
def chromium() -> Path:
    return require_chromium()


class DevTools:
    """A browser with one page: open a URL, evaluate JavaScript in it, wait for a condition."""

    def __init__(self, chromium: Path, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire() -> None:
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.process = subprocess.Popen(
            [str(chromium), *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=wire, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next = 0
        self.session: str | None = None

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        """Send one command (to the open page's session unless it is a ``Target.`` command) and
        return its result; a protocol error fails the test."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while b"\0" in self._buffer:
                frame, self._buffer = self._buffer.split(b"\0", 1)
                reply = json.loads(frame)
                if reply.get("id") == self._next:
                    assert "error" not in reply, reply
                    return dict(reply["result"])
            chunk = os.read(self._from_chrome, 65536)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raise TimeoutError(method)

    def open(self, url: str) -> None:
        target = self.call("Target.createTarget", url=url)["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20) -> Any:
        """The first truthy value of ``expression``, polled every 0.1 s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")

    def close(self) -> None:
        self.process.kill()
        self.process.wait(10)
        os.close(self._to_chrome)
        os.close(self._from_chrome)
