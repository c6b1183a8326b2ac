"""Signed one-click answer links of a feedback request: one link per score 0-10, per order.

Two places can receive the answers:

* ``winback serve`` (``[email] public_url`` set): ``{public_url}/f/{client}/{order}/{token}?score=N``,
  ``order`` the order id in unpadded base64url, ``token`` an HMAC-SHA256 over (client, order) under
  the install's secret (``winback-serve.secret``, the one-click unsubscribe key of
  :mod:`winback.notify.oneclick`), 32 base64url characters.
* the merchant's own endpoint (the rule's ``answer_url``, e.g.
  ``https://shop.example/nps?order={order}&score={score}&sig={token}``): ``{order}`` is the order
  id and ``{score}`` the score (both percent-encoded), ``{token}`` is
  :func:`answer_token`: the first 32 hex characters of HMAC-SHA256(key, ``"feedback:" + order``)
  under ``[email] unsubscribe_secret``, the key the merchant's unsubscribe endpoint already holds.
  The endpoint recomputes it (:func:`verify_answer_token`) and keeps (order, score).

The score is not signed: whoever holds the email may pick any score, and only the last one counts.
The order is: nobody can answer for an order they were not asked about.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from winback.errors import NotifyError

SCORES = tuple(range(11))
PURPOSE = "feedback"
_TOKEN_CHARS = 32


def serve_token(secret: bytes, client: str, order_id: str) -> str:
    """The ``winback serve`` token of (client, order)."""
    message = "\0".join(("v1", client, PURPOSE, order_id)).encode("utf-8")
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")[:_TOKEN_CHARS]


def encode_order(order_id: str) -> str:
    return base64.urlsafe_b64encode(order_id.encode("utf-8")).decode("ascii").rstrip("=")


def serve_link(public_url: str, secret: bytes, client: str, order_id: str, score: int | None = None) -> str:
    """The order's answer page on ``winback serve``; with ``score`` it records that score."""
    base = f"{public_url.rstrip('/')}/f/{client}/{encode_order(order_id)}/{serve_token(secret, client, order_id)}"
    return base if score is None else f"{base}?score={score}"


def verify_serve(secret: bytes, client: str, encoded: str, given: str) -> str | None:
    """The order id a ``winback serve`` link is for, if its token is right (constant time)."""
    if len(encoded) > 400 or len(given) != _TOKEN_CHARS:
        return None
    try:
        order_id = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not order_id or encode_order(order_id) != encoded:
        return None
    expected = serve_token(secret, client, order_id).encode("ascii")
    return order_id if hmac.compare_digest(expected, given.encode("ascii", "replace")) else None


def answer_token(order_id: str, key: str | bytes) -> str:
    """The ``{token}`` of ``answer_url`` for ``order_id`` (what the merchant's endpoint checks)."""
    if not key:
        raise NotifyError("the feedback answer key is empty: set unsubscribe_secret in [email]")
    secret = key.encode("utf-8") if isinstance(key, str) else key
    return hmac.new(secret, f"{PURPOSE}:{order_id}".encode(), hashlib.sha256).hexdigest()[:_TOKEN_CHARS]


def verify_answer_token(order_id: str, token: str, key: str | bytes) -> bool:
    """Whether ``token`` is :func:`answer_token` of ``order_id`` (constant time)."""
    return hmac.compare_digest(answer_token(order_id, key), str(token).strip().lower())


def parse_score(value: str | None) -> int | None:
    """``"0"``..``"10"`` as an int, anything else ``None``."""
    if value is None or not value.isdigit() or len(value) > 2:
        return None
    score = int(value)
    return score if score in SCORES else None


def answer_links(
    order_id: str, *, answer_url: str | None, key: str | bytes | None,
    serve: tuple[str, bytes, str] | None,
) -> dict[str, Any]:
    """``{"links": [{"score": n, "url": ...} for n in 0..10], "page_url": ...}`` for the template.

    ``answer_url`` (with ``key``) wins; else ``serve`` = (public_url, install secret, client);
    neither is a :class:`NotifyError` saying how to give the answers somewhere to land.
    """
    if answer_url:
        if not key:
            raise NotifyError("answer_url of feedback_request signs each link with {token}: set unsubscribe_secret "
                              "in [email] (and give the same key to the endpoint behind answer_url)")
        token = answer_token(order_id, key)

        def fill(score: int | str) -> str:
            return answer_url.format(order=quote(order_id, safe=""), score=score, token=token)

        return {"links": [{"score": n, "url": fill(n)} for n in SCORES], "page_url": None}
    if serve is not None:
        public_url, secret, client = serve
        return {
            "links": [{"score": n, "url": serve_link(public_url, secret, client, order_id, n)} for n in SCORES],
            "page_url": serve_link(public_url, secret, client, order_id),
        }
    raise NotifyError("feedback_request needs somewhere for the answers to land: run `winback serve` and set "
                      "public_url in [email], or set answer_url under [rules.feedback_request]")


def links_for(spec: Mapping[str, Any], *, key: str | bytes | None, serve: tuple[str, bytes, str] | None) -> dict[str, Any]:
    """:func:`answer_links` for a ``feedback`` payload (``{"order_id": ..., "answer_url": ...}``)."""
    order_id = str(spec.get("order_id") or "")
    if not order_id:
        raise NotifyError("the feedback request has no order id in its payload")
    return answer_links(order_id, answer_url=spec.get("answer_url") or None, key=key, serve=serve)
