"""Redacted request logging: httpx event hooks, and the URL masking every HTTP log line goes through.

Credential-like query parameters and every registered secret are masked, in our own lines and in
the lines httpx itself writes.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

import httpx

from winback.secrets import RedactingFilter, redact

log = logging.getLogger("winback.http")

_SECRET_PARAMS = frozenset(
    {
        "token", "access_token", "refresh_token", "id_token", "secret", "client_secret",
        "api_key", "apikey", "password", "signature", "hmac",
    }
)
_STARTED = "winback.started"


def redact_url(url: httpx.URL | str) -> str:
    """``url`` for logs: values of credential-like query parameters and registered secrets masked."""
    url = httpx.URL(url)
    pairs = url.params.multi_items()
    if any(k.lower() in _SECRET_PARAMS for k, _ in pairs):
        masked = [(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs]
        url = url.copy_with(query=urlencode(masked, safe="*").encode("ascii"))
    return redact(str(url))


async def note_start(request: httpx.Request) -> None:
    """Request hook: remember when the request left, for :func:`log_response`."""
    request.extensions[_STARTED] = time.monotonic()


async def log_response(response: httpx.Response) -> None:
    """Response hook: one DEBUG line with the redacted URL, the status and the time taken (retries included).

    Nothing is computed when DEBUG is off: the hook runs for every request of a sync."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    request = response.request
    started = request.extensions.get(_STARTED)
    elapsed_ms = (time.monotonic() - started) * 1000 if started is not None else 0.0
    log.debug("%s %s -> %s in %.0f ms", request.method, redact_url(request.url), response.status_code, elapsed_ms)


EVENT_HOOKS = {"request": [note_start], "response": [log_response]}
"""The hooks for ``httpx.AsyncClient(event_hooks=...)``."""


def redact_library_logs() -> None:
    """httpx logs every request URL (query included) at INFO on its own logger; mask registered
    secrets in those records at the source, whatever handlers the application installs."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
