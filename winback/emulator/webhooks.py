"""Signed webhooks from the emulators, delivered the way the platforms deliver them.

Shopify POSTs JSON with ``X-Shopify-Topic``, ``X-Shopify-Shop-Domain``, ``X-Shopify-Webhook-Id``
(the same id on every retry) and ``X-Shopify-Hmac-Sha256`` = base64(HMAC-SHA256(client secret,
body)); an answer other than 2xx within 5 s is retried, 8 times over about 4 hours. Ecwid signs
``"{eventCreated}.{eventId}"`` and retries for 24 h. The emulator keeps the schedule's shape
(doubling waits, 8 retries) on a compressed clock (``retry_base_s``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRIES = 8


@dataclass(slots=True)
class Delivery:
    webhook_id: str
    topic: str
    body: bytes
    headers: dict[str, str]
    attempts: int = 0
    status: str = "pending"
    """pending | delivered | failed"""
    due: float = field(default_factory=time.monotonic)


class WebhookEmitter:
    """A background thread delivering webhooks to ``url`` with retries."""

    def __init__(self, url: str, retry_base_s: float = 0.5, timeout_s: float = 5.0) -> None:
        self.url = url
        self.retry_base_s = retry_base_s
        self.timeout_s = timeout_s
        self.deliveries: list[Delivery] = []
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._waiting: list[Delivery] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="emulator-webhooks", daemon=True)
        self._thread.start()

    def send(self, topic: str, body: bytes, headers: dict[str, str], webhook_id: str) -> None:
        delivery = Delivery(webhook_id, topic, body, headers)
        with self._lock:
            self.deliveries.append(delivery)
        self._queue.put(delivery)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while True:
                wait = min((d.due for d in self._waiting), default=time.monotonic() + 0.2) - time.monotonic()
                try:
                    item = self._queue.get(timeout=max(0.01, wait))
                except queue.Empty:
                    item = None
                else:
                    if item is None:
                        return
                    self._waiting.append(item)
                now = time.monotonic()
                for delivery in [d for d in self._waiting if d.due <= now]:
                    self._waiting.remove(delivery)
                    self._attempt(client, delivery)

    def _attempt(self, client: httpx.Client, delivery: Delivery) -> None:
        delivery.attempts += 1
        try:
            ok = client.post(self.url, content=delivery.body, headers=delivery.headers).is_success
        except httpx.HTTPError:
            ok = False
        if ok:
            delivery.status = "delivered"
        elif delivery.attempts > RETRIES:
            delivery.status = "failed"
        else:
            delivery.due = time.monotonic() + self.retry_base_s * 2 ** (delivery.attempts - 1)
            self._waiting.append(delivery)

    def close(self) -> None:
        self._queue.put(None)


def shopify_sender(emitter: WebhookEmitter, secret: str, shop_domain: str) -> Callable[[str, dict[str, Any]], str]:
    def emit(topic: str, payload: dict[str, Any]) -> str:
        body = json.dumps(payload).encode()
        webhook_id = str(uuid.uuid4())
        digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        emitter.send(topic, body, {
            "Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": shop_domain,
            "X-Shopify-Webhook-Id": webhook_id, "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-API-Version": "2026-07", "X-Shopify-Hmac-Sha256": digest,
        }, webhook_id)
        return webhook_id
    return emit


def ecwid_sender(emitter: WebhookEmitter, secret: str, store_id: int) -> Callable[[str, dict[str, Any]], str]:
    def emit(event_type: str, data: dict[str, Any]) -> str:
        event_id, created = str(uuid.uuid4()), int(time.time())
        body = json.dumps({"eventId": event_id, "eventCreated": created, "storeId": store_id,
                           "entityId": data.get("entityId", 0), "eventType": event_type, "data": data}).encode()
        digest = base64.b64encode(hmac.new(secret.encode(), f"{created}.{event_id}".encode(),
                                           hashlib.sha256).digest()).decode()
        emitter.send(event_type, body, {"Content-Type": "application/json", "X-Ecwid-Webhook-Signature": digest},
                     event_id)
        return event_id
    return emit
