"""``winback serve`` as a real process on loopback, plus what its tests send it: signed webhooks
and one-click links. Shared by the serve tests and ``bench/serve_load.py``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx

SHOPIFY_SECRET = "shpss_webhook_secret_for_tests_0123456789"
ECWID_SECRET = "ecwid_client_secret_for_tests_987654321"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServeProcess:
    """``winback serve --config-dir D`` in its own process; its log goes to ``log_path``."""

    def __init__(self, config_dir: Path, *, port: int | None = None, debounce: float = 0.2,
                 retry_interval: float = 0.5, extra: tuple[str, ...] = ()) -> None:
        self.config_dir = config_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = config_dir / f"serve-{self.port}.log"
        self.args = ["serve", "--config-dir", str(config_dir), "--port", str(self.port),
                     "--debounce", str(debounce), "--retry-interval", str(retry_interval), *extra]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServeProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        code = "from winback.cli.main import main; main()"
        self.process = subprocess.Popen([sys.executable, "-c", code, *self.args], stdout=log, stderr=log,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"winback serve exited {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"winback serve did not answer in 30 s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def shopify_config(directory: Path, name: str, server: Any, shop: Any, *, public_url: str | None = None,
                   database: str = "clients.db", extra: str = "") -> Path:
    email = f'public_url = "{public_url}"\n' if public_url else ""
    path = directory / f"{name}.toml"
    path.write_text(textwrap.dedent(f"""\
        [client]
        name = "{name.title()} Shop"

        [store]
        platform = "shopify"
        shop = "{shop.shop_domain}"
        access_token = "{shop.access_token}"
        webhook_secret = "{SHOPIFY_SECRET}"
        base_url = "{server.url}"
        max_attempts = 2
        retry_base_delay_s = 0.01

        [database]
        url = "{database}"

        [email]
        from_address = "Shop <hello@shop.example>"
        unsubscribe_mailto = "unsubscribe@shop.example"
        """) + email + extra, encoding="utf-8")
    path.chmod(0o600)
    return path


def ecwid_config(directory: Path, name: str, server: Any, app: Any, *, database: str = "clients.db") -> Path:
    path = directory / f"{name}.toml"
    path.write_text(textwrap.dedent(f"""\
        [client]
        name = "{name.title()} Ecwid"

        [store]
        platform = "ecwid"
        store_id = "{app.store_id}"
        token = "{app.token}"
        webhook_secret = "{ECWID_SECRET}"
        base_url = "{server.url}/api/v3"
        retry_attempts = 2
        retry_base_delay_s = 0.01

        [database]
        url = "{database}"

        [email]
        from_address = "Shop <hello@shop.example>"
        unsubscribe_mailto = "unsubscribe@shop.example"
        """), encoding="utf-8")
    path.chmod(0o600)
    return path


def shopify_webhook(url: str, shop: str, topic: str, payload: Any, *, webhook_id: str,
                    secret: str = SHOPIFY_SECRET, body: bytes | None = None,
                    signature: str | None = None, client: httpx.Client | None = None) -> httpx.Response:
    raw = body if body is not None else json.dumps(payload).encode()
    digest = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": shop,
               "X-Shopify-Webhook-Id": webhook_id, "X-Shopify-API-Version": "2026-07"}
    if signature != "":
        headers["X-Shopify-Hmac-Sha256"] = signature or digest
    sender = client or httpx
    return sender.post(f"{url}/webhooks/shopify", content=raw, headers=headers, timeout=10)  # type: ignore[union-attr]


def ecwid_webhook(url: str, store_id: Any, event_type: str, *, event_id: str, created: int = 1764633600,
                  data: dict[str, Any] | None = None, secret: str = ECWID_SECRET,
                  signature: str | None = None) -> httpx.Response:
    body = {"eventId": event_id, "eventCreated": created, "storeId": int(store_id), "entityId": 1,
            "eventType": event_type, "data": data or {}}
    digest = base64.b64encode(hmac.new(secret.encode(), f"{created}.{event_id}".encode(),
                                       hashlib.sha256).digest()).decode()
    headers = {"Content-Type": "application/json"}
    if signature != "":
        headers["X-Ecwid-Webhook-Signature"] = signature or digest
    return httpx.post(f"{url}/webhooks/ecwid", content=json.dumps(body).encode(), headers=headers, timeout=10)


def wait_for(predicate: Any, timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
