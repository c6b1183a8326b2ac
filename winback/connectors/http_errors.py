"""HTTP statuses and bodies → :mod:`winback.errors` with messages a merchant can act on.

Also the URL redaction used wherever a request is logged. Connectors add platform wording through
an :data:`ErrorMapper`; anything they leave is worded here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlencode

import httpx

from winback import errors
from winback.secrets import redact



def _platform_message(response: httpx.Response) -> str:
    """A short, secret-free description of the platform's error body."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return redact(text[:200])
    if isinstance(body, Mapping):
        for key in ("errorMessage", "errors", "error", "message"):
            if key in body:
                value = body[key]
                return redact(str(value)[:300])
    return redact(str(body)[:200])


def default_error_for(response: httpx.Response, store: str) -> errors.WinbackError:
    """Map a final non-2xx response to a merchant-readable error."""
    status = response.status_code
    detail = _platform_message(response)
    if status == 401:
        return errors.AuthenticationError(
            f"{store} rejected the access token (HTTP 401): it is wrong, revoked or expired. "
            f"Create a new token for this store and update the config.",
            store=store,
        )
    if status == 402:
        return errors.StoreFrozenError(
            f"{store} is frozen (HTTP 402): the store's plan is unpaid or paused, so its API refuses "
            f"requests. Ask the merchant to settle the account.",
            store=store,
        )
    if status == 403:
        return errors.MissingScopeError(
            f"{store} refused access (HTTP 403): the token lacks a permission. Platform said: {detail}",
            store=store,
        )
    if status == 404:
        return errors.StoreNotFoundError(
            f"{store} was not found (HTTP 404): check the store id or domain in the config.",
            store=store,
        )
    if status == 423:
        return errors.StoreLockedError(
            f"{store} is locked by the platform (HTTP 423); it cannot be used until the platform unlocks it.",
            store=store,
        )
    if status == 429:
        return errors.RateLimitedError(
            f"{store} kept rate-limiting us (HTTP 429) after every retry; try again later.", store=store
        )
    if status >= 500:
        return errors.PlatformUnavailableError(
            f"{store}'s platform kept failing (HTTP {status}) after every retry; try again later.",
            store=store,
        )
    return errors.PlatformRejectedError(f"{store} refused the request (HTTP {status}): {detail}", store=store)


ErrorMapper = Callable[[httpx.Response, str], errors.WinbackError | None]
"""Connector hook: return an error for a response, or ``None`` to fall back to the default."""


_SECRET_PARAMS = frozenset(
    {
        "token", "access_token", "refresh_token", "id_token", "secret", "client_secret",
        "api_key", "apikey", "password", "signature", "hmac",
    }
)


def _redact_url(url: httpx.URL | str) -> str:
    """``url`` for logs: values of credential-like query parameters and registered secrets masked."""
    url = httpx.URL(url)
    pairs = url.params.multi_items()
    if any(k.lower() in _SECRET_PARAMS for k, _ in pairs):
        masked = [(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs]
        url = url.copy_with(query=urlencode(masked, safe="*").encode("ascii"))
    return redact(str(url))
