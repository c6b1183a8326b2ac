"""``POST /webhooks/shopify`` and ``POST /webhooks/ecwid``: verify, dedupe, record, answer.

Checks run in this order, each before anything else is done: body size (413), the store (404),
the signature in constant time (401), the JSON (400), then the delivery id (a repeat gets 200 and
nothing more). The answer comes once the event is committed; its work runs in the background.

* Shopify signs the raw body: ``X-Shopify-Hmac-Sha256`` = base64(HMAC-SHA256(client secret, body)),
  so the signature is checked before the body is parsed. The shop is ``X-Shopify-Shop-Domain``.
* Ecwid signs two body fields: ``X-Ecwid-Webhook-Signature`` = base64(HMAC-SHA256(client_secret,
  "{eventCreated}.{eventId}")) (api-docs.ecwid.com/reference/authenticate-webhooks-with-signature),
  so the body must be parsed (size-limited first) to find the store and the fields.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from winback.web.hub import Hub

log = logging.getLogger("winback.web")


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": status, "message": message}, status_code=status)


def sign(secret: bytes, data: bytes) -> str:
    return base64.b64encode(hmac.new(secret, data, hashlib.sha256).digest()).decode("ascii")


def _same(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode("ascii"), given.strip().encode("ascii", "replace"))


async def shopify(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    try:
        body = await read_body(request, hub.options.body_limit)
    except BodyTooLarge:
        return _answer(413, "body too large")
    shop = (request.headers.get("x-shopify-shop-domain") or "").strip().lower()
    config = hub.shopify.get(shop)
    if config is None:
        return _answer(404, "unknown shop")
    secret = hub.webhook_secret(config)
    if secret is None or not _same(sign(secret, body), request.headers.get("x-shopify-hmac-sha256")):
        log.warning("%s: shopify webhook with a missing or wrong signature refused", config.name)
        return _answer(401, "signature missing or wrong")
    try:
        payload = json.loads(body)
    except ValueError:
        return _answer(400, "body is not JSON")
    if not isinstance(payload, dict):
        return _answer(400, "body is not a JSON object")
    event_id = (request.headers.get("x-shopify-webhook-id") or request.headers.get("x-shopify-event-id") or "").strip()
    topic = (request.headers.get("x-shopify-topic") or "").strip()
    if not event_id or not topic or len(event_id) > 255 or len(topic) > 64:
        return _answer(400, "X-Shopify-Webhook-Id and X-Shopify-Topic are required")
    fresh = await hub.record_event(config, "shopify", event_id, topic, payload)
    return JSONResponse({"status": 200, "duplicate": not fresh})


async def ecwid(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    try:
        body = await read_body(request, hub.options.body_limit)
    except BodyTooLarge:
        return _answer(413, "body too large")
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return _answer(400, "body is not JSON")
    if not isinstance(payload, dict):
        return _answer(400, "body is not a JSON object")
    config = hub.ecwid.get(str(payload.get("storeId", "")))
    if config is None:
        return _answer(404, "unknown store")
    event_id, created = str(payload.get("eventId") or ""), str(payload.get("eventCreated") or "")
    secret = hub.webhook_secret(config)
    if (secret is None or not event_id or not created
            or not _same(sign(secret, f"{created}.{event_id}".encode()), request.headers.get("x-ecwid-webhook-signature"))):
        log.warning("%s: ecwid webhook with a missing or wrong signature refused", config.name)
        return _answer(401, "signature missing or wrong")
    topic = str(payload.get("eventType") or "")
    if not topic or len(event_id) > 255 or len(topic) > 64:
        return _answer(400, "eventType and eventId are required")
    fresh = await hub.record_event(config, "ecwid", event_id, topic, payload)
    return JSONResponse({"status": 200, "duplicate": not fresh})
